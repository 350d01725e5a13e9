"""The playground page at `/`, driven in a real headless browser (Debian's Chromium and its
driver, through Selenium) against the session's running app: upload, ask, the answer and one
timeline row per expert; a corrupt file's error body; the key field when keys are on.
Screenshots go to tests/artifacts/ (or $MEXA_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.serve

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("MEXA_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "install Debian's chromium and chromium-driver"
    options = Options()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,1800",
        "--disable-gpu",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def visible(element_id: str):
    from selenium.webdriver.common.by import By

    def check(driver):
        element = driver.find_element(By.ID, element_id)
        return element if element.is_displayed() else False

    return check


def ask(driver, url: str, files: list[Path], question: str, options: list[str]) -> float:
    """Load the page, pick the files, ask; seconds from the click to the answer or error."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    for f in files:
        driver.find_element(By.ID, "files").send_keys(str(f))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#media li")) == len(files), 30)
    driver.find_element(By.ID, "question").send_keys(question)
    driver.find_element(By.ID, "options").send_keys("\n".join(options))
    clicked = time.time()
    driver.find_element(By.ID, "send").click()
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "result").is_displayed()
            or d.find_element(By.ID, "error").is_displayed()
        ),
    )
    return time.time() - clicked


#: what the page previews for each kind of input (points: the file's size)
PREVIEW = {
    "image": "img",
    "audio": "audio",
    "video": "video",
    "table": "table",
    "points": "small",
    "text": "pre",
}


@pytest.mark.parametrize("example", range(6))  # table, room, melody, video, picture, sign
def test_each_demo_input_is_previewed_answered_and_timed(
    serve_app, browser, demo_requests, example
):
    from selenium.webdriver.common.by import By

    request = demo_requests[example]
    _, base = serve_app
    [medium] = request["media"]
    seconds = ask(
        browser, f"{base}/", [Path(medium["path"])], request["question"], request["options"]
    )
    kind = medium["type"]
    assert browser.find_elements(By.CSS_SELECTOR, f"#media li {PREVIEW[kind]}"), kind
    assert browser.find_element(By.ID, "result").is_displayed(), browser.find_element(
        By.ID, "error"
    ).text
    answer = browser.find_element(By.ID, "answer").text
    assert answer in request["options"]
    selected = browser.find_elements(By.CSS_SELECTOR, "#selected li")
    experts = browser.find_elements(By.CSS_SELECTOR, ".row[data-stage=expert]")
    assert selected and len(experts) == len(selected)  # one timeline row per expert
    stages = [r.get_attribute("data-stage") for r in browser.find_elements(By.CSS_SELECTOR, ".row")]
    assert stages[:2] == ["ingress", "routing"] and stages[-2:] == ["aggregation", "total"]
    assert browser.find_elements(By.CSS_SELECTOR, "details.report pre")
    browser.save_screenshot(str(ARTIFACTS / f"playground-{example}-{kind}.png"))
    print(f"playground: {kind} question answered {answer!r} {seconds:.2f}s after the click")


def test_a_corrupt_file_shows_the_error_body(serve_app, browser, tmp_path):
    from selenium.webdriver.common.by import By

    _, base = serve_app
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture")
    ask(browser, f"{base}/", [broken], "What is in the picture?", [])
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and not browser.find_element(By.ID, "result").is_displayed()
    assert error.text.startswith("Error 4")  # a 4xx, said as the body says it
    assert "field: media.0" in error.text
    browser.save_screenshot(str(ARTIFACTS / "playground-error.png"))


def test_with_keys_on_the_page_asks_for_a_key(serve_app, browser, media_dir):
    from ray import serve
    from selenium.webdriver.common.by import By

    from mexa_ray.config import load_config, parse_config
    from mexa_ray.serving.app import build_app

    _, base = serve_app
    small = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.05}}
    visual = next(
        e for e in load_config("analytic").model_dump()["experts"] if e["name"] == "visual-stats"
    )
    config = parse_config(
        {
            "name": "mexa-keyed",
            "router": {"deployment": small},
            "aggregator": {"deployment": small},
            "media": {"roots": [str(media_dir)]},
            "ingress": {"deployment": small},
            "experts": [{**visual, "deployment": small}],
        }
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEXA_API_KEYS", "page-key")
        app = build_app(config)
    serve.run(app, name=config.name, route_prefix="/keyed")
    try:
        browser.get(f"{base}/keyed/")
        key = wait_for(browser, visible("key-row"), 30)  # /v1/experts answered 401
        assert key.is_displayed()
        browser.find_element(By.ID, "key").send_keys("page-key")
        browser.find_element(By.ID, "question").click()  # the key field's change event
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#experts input"), 30)
        browser.find_element(By.ID, "files").send_keys(str(media_dir / "green_disc.png"))
        browser.find_element(By.ID, "question").send_keys("What colour is the disc?")
        browser.find_element(By.ID, "options").send_keys("red\ngreen")
        browser.find_element(By.ID, "send").click()
        wait_for(
            browser,
            lambda d: (
                d.find_element(By.ID, "result").is_displayed()
                or d.find_element(By.ID, "error").is_displayed()
            ),
        )
        assert browser.find_element(By.ID, "result").is_displayed(), browser.find_element(
            By.ID, "error"
        ).text
        assert browser.find_element(By.ID, "answer").text == "green"
        browser.save_screenshot(str(ARTIFACTS / "playground-key.png"))
    finally:
        serve.delete(config.name)
