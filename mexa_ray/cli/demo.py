"""The bundled demo: questions about inputs the project makes itself (`media.samples`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mexa_ray.media.samples import (
    make_busy_signal,
    make_chart,
    make_image,
    make_melody,
    make_scene,
    make_sign,
    make_speech,
    make_table,
    make_video,
)


def demo_dir() -> Path:
    from mexa_ray.models.weights import mexa_home

    return mexa_home() / "demo"


def examples(root: Path | None = None) -> list[dict]:
    """Make the demo inputs if needed and return the demo requests (POST /v1/reason bodies)."""
    root = root or demo_dir()
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "breast_cancer.csv": make_table,
        "room.ply": make_scene,
        "melody.wav": make_melody,
        "busy_signal.wav": make_busy_signal,
        "red_square.mp4": make_video,
        "green_disc.png": make_image,
        "exit_sign.png": make_sign,
        "iris_chart.png": make_chart,
    }
    speech = shutil.which("espeak-ng") is not None  # the spoken example needs a synthesiser
    if speech:
        files["station.wav"] = make_speech
    for name, make in files.items():
        if not (root / name).exists():
            tmp = root / f".tmp-{name}"
            make(tmp)
            tmp.replace(root / name)  # atomic, so an interrupted first run leaves no half file
    return [
        {
            "question": "Which diagnosis is more common among the patients in this table?",
            "options": ["malignant", "benign"],
            "task": "clinical table question answering",
            "media": [{"type": "table", "path": str(root / "breast_cancer.csv")}],
        },
        {
            "question": "How many objects stand on the floor of this room?",
            "options": ["2", "3", "4", "5"],
            "task": "3D scene question answering",
            "media": [{"type": "points", "path": str(root / "room.ply")}],
        },
        {
            "question": "Is this recording music, speech, or noise?",
            "options": ["music", "speech", "noise"],
            "task": "audio question answering",
            "media": [{"type": "audio", "path": str(root / "melody.wav")}],
        },
        {
            "question": "In which direction does the red square move?",
            "options": ["rightwards", "leftwards", "upwards", "downwards"],
            "task": "video question answering",
            "media": [{"type": "video", "path": str(root / "red_square.mp4")}],
        },
        {
            "question": "What colour is the shape in the centre of the picture?",
            "options": ["red", "green", "blue"],
            "task": "image question answering",
            "media": [{"type": "image", "path": str(root / "green_disc.png")}],
        },
        {
            "question": "Which exit number is written on the sign?",
            "options": ["17", "42", "96"],
            "task": "scene text question answering",
            "media": [{"type": "image", "path": str(root / "exit_sign.png")}],
        },
        {
            "question": "According to the chart, which iris species has the longest petals?",
            "options": ["setosa", "versicolor", "virginica"],
            "task": "chart question answering",
            "media": [{"type": "image", "path": str(root / "iris_chart.png")}],
        },
        {
            "question": "What kind of sound is this?",
            "options": ["a dog barking", "a telephone signal", "a car engine", "rain"],
            "task": "audio question answering",
            "media": [{"type": "audio", "path": str(root / "busy_signal.wav")}],
        },
    ] + (
        [
            {
                "question": "At what time does the speaker want to meet?",
                "options": ["five o'clock", "seven o'clock", "nine o'clock"],
                "task": "spoken question answering",
                "media": [{"type": "audio", "path": str(root / "station.wav")}],
            },
        ]
        if speech
        else []
    )
