"""The console script as a user runs it: `mexa experts`, `mexa demo`, `mexa ask`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from mexa_ray.cli import main
from mexa_ray.config import load_config


def run_mexa(
    *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mexa_ray.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_experts_lists_the_cards():
    out = run_mexa("experts", "--json")
    assert out.returncode == 0, out.stderr
    names = [c["name"] for c in json.loads(out.stdout)["experts"]]
    assert names[:4] == ["table-profiler", "scene-geometry", "audio-signal", "visual-stats"]


def test_experts_backends_lists_each_backends_settings_with_defaults(capsys):
    assert main(["experts", "--backends"]) == 0
    text = capsys.readouterr().out
    vlm = text[text.index("vlm  (mexa_ray.experts.vision:VisionLanguageExpert)") :]
    assert "    frames: int (>= 1) = 8\n        video frames sampled" in vlm
    assert "    max_side: int (>= 1) = 448" in vlm
    assert "    classifier.top_k: int (>= 1, <= 1000) = 3" in text  # a nested model's own
    assert main(["experts", "--backends", "--json"]) == 0
    backends = {b["name"]: b for b in json.loads(capsys.readouterr().out)["backends"]}
    table = {f["name"]: f for f in backends["table"]["settings"]}
    assert table["max_rows"] == {
        "name": "max_rows",
        "type": "int (>= 0)",
        "required": False,
        "default": 5,
        "description": table["max_rows"]["description"],
    }
    assert table["max_rows"]["description"]
    assert {f["name"] for f in backends["scene-vlm"]["settings"]} >= {
        "up_axis",
        "view_size",
        "instructions",
    }


def test_router_view_prints_what_each_router_reads(capsys):
    """The LLM router's catalogue with every expert's card (limitations included) and the
    embedding router's texts (limitations left out), from the config as loaded."""
    assert main(["experts", "--config", "lrm-small", "--router-view"]) == 0
    text = capsys.readouterr().out
    llm, embedding = text.split("Embedding router")
    assert "  B1: Video Subtitle Extraction." in llm
    speech = load_config("lrm-small").expert("speech-transcriber")
    assert (
        f"  speech-transcriber (B1): {speech.description} Limitations: {speech.limitations}"
    ) in llm
    assert "  speech-transcriber / B1: Video Subtitle Extraction: " in embedding
    assert "Limitations" not in embedding


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text(
        "experts:\n  - name: x\n    backend: table\n    modalities: [table]\n"
        "    skills: [Q7]\n    description: d\n"
    )
    out = run_mexa("experts", "--config", str(bad))
    assert out.returncode == 2
    assert f"error (experts.x.skills): {bad}, line 5: unknown skill 'Q7'" in out.stderr


def test_ask_refuses_a_bad_request_before_starting_ray(tmp_path):
    """The config is known before Ray starts: a mistyped expert, or one that reads none of the
    request's media, is refused at once, naming the request's field."""
    note = tmp_path / "note.txt"
    note.write_text("The meeting is on Tuesday.")
    for expert, words in (("nope", "unknown expert 'nope'"), ("table-profiler", "reads")):
        started = time.monotonic()
        out = run_mexa("ask", "--text", str(note), "--expert", expert, "What is it?")
        assert out.returncode == 2 and "experts.0" in out.stderr and words in out.stderr
        assert time.monotonic() - started < 15  # an interpreter and a config: no Ray started
        assert "Started a local Ray" not in out.stderr


def test_eval_refuses_bad_arguments_before_starting_ray(tmp_path):
    common = [
        "--annotations",
        str(tmp_path / "none.json"),
        "--media-root",
        str(tmp_path),
        "--out",
        str(tmp_path / "out"),
    ]
    out = run_mexa("eval", "--benchmark", "nope", *common)
    assert out.returncode == 2 and "error (benchmark): unknown benchmark 'nope'" in out.stderr
    out = run_mexa("eval", "--benchmark", "mmau", *common)
    assert out.returncode == 2 and "MMAU: no such file" in out.stderr
    out = run_mexa("eval", "--benchmark", "mmau", "--limit", "0", *common)
    assert out.returncode == 2 and "--limit must be at least 1" in out.stderr
    job = subprocess.run(
        [sys.executable, "-m", "mexa_ray.bulk", "--benchmark", "nope", *common],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert job.returncode == 2 and "unknown benchmark 'nope'" in job.stderr
    assert not (tmp_path / "out").exists()  # nothing was started or written


def _ray_processes_under(path: Path) -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(path) in part for part in p.info["cmdline"] or []):
                found.append(" ".join(p.info["cmdline"])[:120])
        except psutil.Error:
            continue
    return found


@pytest.fixture
def ray_tmp():
    """A Ray temp dir of its own, short enough for Ray's unix socket paths (107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="mxr", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


#: the right answer to each bundled demo question, by the question's first words
DEMO_ANSWERS = {
    "Which diagnosis": "benign",
    "How many objects": "3",
    "Is this recording": "music",
    "In which direction": "rightwards",
    "What colour": "green",
    "Which exit": "42",
    "According to the chart": "virginica",
    "What kind of sound": "a telephone signal",
    "At what time": "seven o'clock",
}


def test_demo_answers_every_example_and_leaves_nothing_running(tmp_path, ray_tmp):
    """The default demo: the embedding router chooses, model and analytic experts report, the
    evidence ranking answers every bundled question right; nothing is left running."""
    out = run_mexa("demo", env={"MEXA_HOME": str(tmp_path / "home"), "RAY_TMPDIR": str(ray_tmp)})
    assert out.returncode == 0, out.stderr[-3000:]
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert {a["media"][0] for a in answers} >= {"table", "points", "audio", "video", "image"}
    for a in answers:
        assert a["selected"] and a["reports"] and not a["missing"]
        assert all(r["text"] and r["latency_s"] > 0 for r in a["reports"])
        assert all(s["why"] for s in a["selected"])
        assert a["router"] == "embedding" and a["aggregator"] == "evidence-ranking"
        assert a["reasoning"] and not a["reasoning"].startswith("{")
        expected = next(v for k, v in DEMO_ANSWERS.items() if a["question"].startswith(k))
        assert a["answer"] == expected, (a["question"], a["answer"], a["reasoning"])
    if shutil.which("espeak-ng"):  # the spoken example: Whisper's transcript reaches the answer
        spoken = next(a for a in answers if a["question"].startswith("At what time"))
        transcript = next(
            r["text"] for r in spoken["reports"] if r["expert"] == "speech-transcriber"
        )
        assert "station" in transcript.lower()
    assert len(answers) == len(DEMO_ANSWERS) - (0 if shutil.which("espeak-ng") else 1)
    assert _ray_processes_under(ray_tmp) == []
    # Serve's shutdown on purpose is not reported as failures
    assert "ServeController" not in out.stderr and "ray.kill" not in out.stderr, out.stderr


def test_ask_in_process(ray_tmp, media_dir):
    out = run_mexa(
        "ask",
        "--config",
        "analytic",
        "--points",
        str(media_dir / "room.ply"),
        "--option",
        "2",
        "--option",
        "3",
        "How many objects stand on the floor?",
        env={"RAY_TMPDIR": str(ray_tmp)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout)
    assert answer["answer"] == "3" and answer["reports"][0]["expert"] == "scene-geometry"
    # nothing from Ray or Serve without --verbose: no token notice, no "Application is ready"
    assert out.stderr.strip() == "", out.stderr


@pytest.mark.serve
def test_ask_what_a_photo_shows_names_what_the_classifier_recognised(ray_tmp, tmp_path):
    """An open question about a photo, on the default: the answer names the recognised thing
    (scikit-image's coffee photograph: an espresso), not the picture's colours."""
    import skimage.data
    from PIL import Image

    photo = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(photo)
    out = run_mexa(
        "ask", "--image", str(photo), "What is shown in this photo?",
        env={"RAY_TMPDIR": str(ray_tmp)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout)
    assert "espresso" in answer["answer"].lower(), answer["answer"]
    assert answer["option_index"] is None and "recognised class" in answer["reasoning"]


def test_ask_against_a_running_server(serve_app, media_dir, capsys):
    _, url = serve_app
    code = main(
        [
            "ask",
            "--url",
            url,
            "--image",
            str(media_dir / "green_disc.png"),
            "--option",
            "red",
            "--option",
            "green",
            "What colour is the disc?",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["answer"] == "green"
    # --pretty: a summary for a person, then the same answer as indented JSON
    code = main(
        [
            "ask",
            "--url",
            url,
            "--image",
            str(media_dir / "green_disc.png"),
            "--option",
            "red",
            "--option",
            "green",
            "--pretty",
            "What colour is the disc?",
        ]
    )
    summary, _, rest = capsys.readouterr().out.partition("\n\n{")
    assert code == 0 and json.loads("{" + rest)["answer"] == "green"
    lines = summary.splitlines()
    assert lines[0].startswith("Answer: green  (option B)")
    assert "Experts:" in lines and "Reports:" in lines and "Reasoning:" in lines
    assert any(line.startswith("  visual-stats [") for line in lines)
    assert lines[-1].startswith("Times: ")
    code = main(["ask", "--url", url, "--image", str(media_dir / "room.ply"), "What is it?"])
    err = json.loads(capsys.readouterr().err)["error"]
    assert code == 1 and err["type"] == "unsupported_media" and err["field"] == "media.0.format"


def test_serve_answers_http_and_stops_cleanly_on_sigterm(ray_tmp, media_dir, free_port):
    import signal
    import time

    import httpx

    port = free_port
    in_flight: list = []
    thread = None
    proc = subprocess.Popen(
        [sys.executable, "-m", "mexa_ray.cli", "serve", "--port", str(port)],
        cwd=media_dir,
        env={**os.environ, "RAY_TMPDIR": str(ray_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"mexa serve exited:\n{proc.stderr.read()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("mexa serve's /readyz did not answer 200 within 300 s")
        body = {
            "question": "What colour is the shape in the centre?",
            "options": ["red", "green"],
            "media": [{"type": "image", "path": "green_disc.png"}],
        }
        r = httpx.post(f"{base}/v1/reason", json=body, timeout=120)  # path relative to the cwd root
        assert r.status_code == 200, r.text
        answer = r.json()  # the default app: the evidence ranking answers from the reports
        assert answer["answer"] == "green" and answer["aggregator"] == "evidence-ranking", (
            answer["missing"],
            answer["reports"],
        )
        assert len(httpx.get(f"{base}/v1/experts").json()["experts"]) == len(load_config().experts)
        # SIGTERM (what Kubernetes sends) with a request in flight: it is answered, or refused
        # with a status, never left hanging; then every Ray process goes
        sent = threading.Event()
        thread = threading.Thread(
            target=lambda: in_flight.append(_status_of_sent(port, "/v1/reason", body, sent))
        )
        thread.start()
        assert sent.wait(timeout=30)  # on the wire before the signal, however busy the machine
        time.sleep(0.3)  # and taken: the image expert alone takes longer than this
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert thread is not None
    thread.join(timeout=60)
    assert in_flight and in_flight[0] in (200, 503, "refused"), in_flight
    assert proc.returncode == 0, err[-2000:]
    assert "mexa-ray: ready (" in err, err[-2000:]
    assert _ray_processes_under(ray_tmp) == []


def _status_of_sent(port: int, path: str, body: dict, sent: threading.Event) -> int | str:
    """POST `body`, set `sent` once the request is written, then return the answer's status,
    or "refused" when the server closed the connection (it was shutting down) before
    answering. A connection that could not be made raises: the request was never sent."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        sent.set()
        try:
            return conn.getresponse().status
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return "refused"
    finally:
        conn.close()
