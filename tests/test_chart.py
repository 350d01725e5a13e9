"""The chart expert on charts drawn here from known numbers, by matplotlib and by Vega-Lite
(vl-convert): bar values within the axis's stated resolution, a line's values per year and its
peak, a pie's shares, vertical category labels, names spelled as the question spells them, the
table analysis on the chart's data, and a picture with no chart said to hold none."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from mexa_ray.config import load_config
from mexa_ray.experts import build_expert
from mexa_ray.experts.chart import NO_CHART, aligned, same_case, trend
from mexa_ray.experts.chart_geometry import number
from mexa_ray.types import Media, Query

pytestmark = pytest.mark.models

CONFIG = load_config()  # the default, whose chart-reader is this expert
PENGUINS = {"Adelie": 3700.0, "Chinstrap": 3733.0, "Gentoo": 5076.0, "Torgersen": 4200.0}
YEARS = list(range(2001, 2011))
WORLD = [2.5, 3.0, 3.7, 4.4, 5.3, 6.1, 6.9, 6.2, 5.0, 4.1]
MIX = {"Coal": 45.0, "Gas": 25.0, "Wind": 20.0, "Solar": 10.0}


@pytest.fixture(scope="module")
def expert():
    return build_expert(CONFIG.expert("chart-reader"), CONFIG.skill_catalogue())


def report(expert, path, question: str = "What does the chart show?", options=()) -> str:
    query = Query(question, list(options), media=[Media("image", path=str(path), format="png")])
    return expert.run(query, "F1").text


def mpl(path, draw, size=(6, 4), dpi=100):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    draw(ax)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def vega(path, spec, scale=1.0):
    import vl_convert as vlc

    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", **spec}
    path.write_bytes(vlc.vegalite_to_png(json.dumps(spec), scale=scale))
    return path


def data_line(text: str, head: str) -> dict[str, float]:
    line = next(ln for ln in text.splitlines() if ln.startswith(head))
    items = line.split("): " if "): " in line else ": ", 1)[1].rstrip(".").split("; ")
    return {k: float(v) for k, v in (item.rsplit(" ", 1) for item in items)}


def test_tick_labels_are_read_as_numbers():
    assert [number(t) for t in ["1,000", "2.5k", "−3", "40%", "$12", "15 -", "abc"]] == [
        1000.0,
        2500.0,
        -3.0,
        40.0,
        12.0,
        15.0,
        None,
    ]


@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_values_are_read_within_the_stated_resolution(expert, tmp_path, horizontal):
    def draw(ax):
        (ax.barh if horizontal else ax.bar)(list(PENGUINS), list(PENGUINS.values()))
        ax.set_title("Mean body mass by species")

    text = report(expert, mpl(tmp_path / "bars.png", draw))
    kind = "horizontal" if horizontal else "vertical"
    assert text.startswith(f"Chart: {kind} bar chart; 4 categories;"), text
    resolution = float(re.search(r"values read to about ±([\d.]+)", text).group(1))
    read = data_line(text, "Data (category: value)")
    assert set(read) == set(PENGUINS)
    for name, value in PENGUINS.items():
        assert abs(read[name] - value) <= 2 * resolution, (name, read[name], text)
    assert "Highest value: Gentoo" in text and "lowest value: Adelie" in text


def test_a_line_is_read_per_year_with_its_peak_and_trend(expert, tmp_path):
    def draw(ax):
        ax.plot(YEARS, WORLD, marker="o", label="World")
        ax.plot(YEARS, [1.5] * len(YEARS), label="Europe")
        ax.legend()
        ax.set_title("Population (billions)")

    text = report(expert, mpl(tmp_path / "line.png", draw))
    assert text.startswith("Chart: line chart;") and "2 series (World, Europe)" in text, text
    world = data_line(text, "Series 'World'")
    assert [round(world[str(y)], 1) for y in YEARS] == pytest.approx(WORLD, abs=0.15)
    assert "Highest of 'World': 2007" in text
    assert "Trend of 'World': rising, then falling." in text


def test_pie_and_donut_shares_are_read_by_angle(expert, tmp_path):
    def draw(ax):
        ax.pie(list(MIX.values()), labels=list(MIX), startangle=90)
        ax.axis("equal")

    pie = report(expert, mpl(tmp_path / "pie.png", draw, size=(5, 5)))
    assert pie.startswith("Chart: pie chart; 4 wedges"), pie
    shares = data_line(pie.replace("%", ""), "Shares")
    assert shares == pytest.approx(MIX, abs=1.0)
    assert "Largest share: Coal (45%); smallest share: Solar (10%)." in pie
    rows = [{"s": k, "v": v} for k, v in MIX.items()]
    donut_spec = {
        "data": {"values": rows},
        "mark": {"type": "arc", "innerRadius": 50},
        "encoding": {
            "theta": {"field": "v", "type": "quantitative"},
            "color": {"field": "s", "type": "nominal", "sort": None},
        },
    }
    donut = report(expert, vega(tmp_path / "donut.png", donut_spec, scale=2))
    assert donut.startswith("Chart: donut chart; 4 wedges"), donut
    assert data_line(donut.replace("%", ""), "Shares") == pytest.approx(MIX, abs=1.5)


def test_vertical_labels_are_read_upright_and_names_spelled_as_the_question(expert, tmp_path):
    rows = [{"c": c, "v": v} for c, v in {"Fossil Fuels": 29, "Nuclear": 5, "Wind": 21}.items()]
    spec = {
        "width": 300,
        "height": 250,
        "data": {"values": rows},
        "mark": "bar",
        "encoding": {
            "x": {"field": "c", "type": "nominal", "sort": None, "axis": {"labelAngle": -90}},
            "y": {"field": "v", "type": "quantitative"},
        },
    }
    path = vega(tmp_path / "vertical.png", spec, scale=2)
    question = "Which source has the highest value, Fossil Fuels, Nuclear or Wind?"
    text = report(expert, path, question, ["Fossil Fuels", "Nuclear", "Wind"])
    read = data_line(text, "Data (category: value)")
    assert set(read) == {"Fossil Fuels", "Nuclear", "Wind"}, text
    assert (
        read["Fossil Fuels"] == pytest.approx(29, abs=1) and "Highest value: Fossil Fuels" in text
    )
    # a lost space or a misread letter is spelled as the question spells it; other names stay
    assert aligned(
        ["FossilFuels", "lowa", "Wind"], "Power in Iowa by source", ["Fossil Fuels"]
    ) == {
        "FossilFuels": "Fossil Fuels",
        "lowa": "Iowa",
    }


def test_a_comparison_on_the_chart_is_computed_as_on_a_table(expert, tmp_path):
    def draw(ax):
        ax.bar(list(PENGUINS), list(PENGUINS.values()))

    path = mpl(tmp_path / "compare.png", draw)
    text = report(expert, path, "Is the value of Gentoo higher than that of Adelie?", ["yes", "no"])
    assert "Computed from the chart's data:" in text
    assert "Computed answer: yes" in text, text


def test_trends_in_words():
    assert trend([1, 2, 3, 4], 0.1) == "rising"
    assert trend([4, 3, 2, 1], 0.1) == "falling"
    assert trend([1, 3, 5, 2], 0.1) == "rising, then falling"
    assert trend([5, 2, 1, 4], 0.1) == "falling, then rising"
    assert trend([1, 1.05, 0.98], 0.1) == "flat"


def test_a_picture_with_no_chart_is_said_to_hold_none(expert, tmp_path, media_dir):
    photo = tmp_path / "noise.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(photo)
    assert report(expert, photo) == NO_CHART
    assert report(expert, media_dir / "green_disc.png") == NO_CHART


def test_a_huge_chart_is_read_shrunk(expert, tmp_path):
    def draw(ax):
        ax.bar(list(PENGUINS), list(PENGUINS.values()))

    path = mpl(tmp_path / "huge.png", draw, dpi=700)  # about 3700 x 2500 pixels
    text = report(expert, path)
    assert text.startswith("Chart: vertical bar chart; 4 categories;"), text
    read = data_line(text, "Data (category: value)")
    assert read["Gentoo"] == pytest.approx(5076, rel=0.03), text


def test_a_misread_small_letter_takes_the_case_of_the_charts_other_labels():
    # "W" and "w" differ only in size: a line read alone comes back either way
    assert same_case(["Coal", "Gas", "wind", "Solar"]) == {"wind": "Wind"}
    # a small letter of another shape is the chart's own style, and so is a chart in lower case
    assert same_case(["Coal", "gas", "wind", "Solar"]) == {}
    assert same_case(["coal", "wind", "solar"]) == {}
    assert same_case(["1990", "2000", "Sales", "volume"]) == {}
