"""The bundled demo: inputs the project makes itself (nothing fetched) and questions about them.

The same generators build test media, so tests and the demo exercise identical inputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


def demo_dir() -> Path:
    from mexa_ray.models.weights import mexa_home

    return mexa_home() / "demo"


def make_table(path: Path) -> Path:
    """scikit-learn's bundled breast-cancer data (569 tumours) with a readable diagnosis column."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from sklearn.datasets import load_breast_cancer

    ds = load_breast_cancer()
    columns = {name: ds.data[:, i].round(4) for i, name in enumerate(ds.feature_names[:10])}
    columns["diagnosis"] = [str(ds.target_names[t]) for t in ds.target]
    pacsv.write_csv(pa.table(columns), path)
    return path


def make_scene(path: Path, seed: int = 0, density: float = 1.0) -> Path:
    """A 4 x 3 m room (z up): floor, back wall, a table, a ball and a lamp, as a PLY point cloud
    (52k points at density 1)."""
    import open3d as o3d

    o3d.utility.random.seed(seed)

    def place(mesh, at, colour, n):
        """`mesh` moved by `at` (translate works in place), as n x density points of one colour."""
        mesh.translate(at)
        return mesh.sample_points_uniformly(int(n * density)).paint_uniform_color(colour)

    shapes = o3d.geometry.TriangleMesh
    floor = place(shapes.create_box(4.0, 3.0, 0.02), (0, 0, -0.02), (0.6, 0.6, 0.6), 24000)
    wall = place(shapes.create_box(4.0, 0.02, 2.5), (0, 3.0, 0), (0.9, 0.9, 0.85), 16000)
    table = place(shapes.create_box(1.2, 0.8, 0.75), (0.5, 0.8, 0.0), (0.5, 0.3, 0.1), 6000)
    ball = place(shapes.create_sphere(0.25), (2.6, 1.0, 0.25), (0.85, 0.1, 0.1), 3000)
    lamp = place(shapes.create_cylinder(0.12, 1.6), (3.4, 2.3, 0.8), (0.2, 0.3, 0.9), 3000)
    cloud = floor + wall + table + ball + lamp
    # open3d's stubs ask for os.PathLike; it takes str as well, which older releases need
    o3d.io.write_point_cloud(str(path), cloud)  # type: ignore[arg-type]
    return path


def make_melody(path: Path, sr: int = 16000, bpm: float = 120.0, beats: int = 12) -> Path:
    """A C-major arpeggio, one plucked note per beat, synthesised with numpy."""
    import soundfile as sf

    notes = [261.63, 329.63, 392.00, 523.25]
    beat = 60.0 / bpm
    t = np.arange(int(sr * beat)) / sr
    env = np.exp(-t * 6.0)
    parts = [0.5 * env * np.sin(2 * np.pi * notes[k % 4] * t) for k in range(beats)]
    sf.write(path, np.concatenate(parts).astype(np.float32), sr)
    return path


def make_tone(path: Path, freq: float = 440.0, seconds: float = 2.0, sr: int = 16000) -> Path:
    import soundfile as sf

    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


def make_busy_signal(path: Path, seconds: float = 4.0, sr: int = 16000) -> Path:
    """A telephone busy signal as North American exchanges play it: 480 Hz and 620 Hz together,
    half a second on, half a second off."""
    import soundfile as sf

    t = np.arange(int(sr * seconds)) / sr
    on = (t % 1.0) < 0.5
    tone = 0.25 * (np.sin(2 * np.pi * 480 * t) + np.sin(2 * np.pi * 620 * t))
    sf.write(path, (tone * on).astype(np.float32), sr)
    return path


def make_noise(path: Path, seconds: float = 2.0, sr: int = 16000, seed: int = 0) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sf.write(path, (0.3 * rng.standard_normal(int(sr * seconds))).astype(np.float32), sr)
    return path


def make_video(path: Path, seconds: float = 3.0, fps: int = 10, size=(128, 96)) -> Path:
    """A red square sliding left to right on white, then a cut to a blue background."""
    import av

    w, h = size
    n = int(seconds * fps)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(n):
            cut = i >= int(n * 2 / 3)
            img = np.full((h, w, 3), (30, 60, 200) if cut else (255, 255, 255), dtype=np.uint8)
            x = int((w - 24) * i / max(1, n - 1))
            img[h // 2 - 12 : h // 2 + 12, x : x + 24] = (220, 30, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_image(path: Path, size=(160, 120)) -> Path:
    """A green disc in the centre of a white picture."""
    from PIL import Image, ImageDraw

    w, h = size
    im = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(im).ellipse(
        (w // 2 - 35, h // 2 - 35, w // 2 + 35, h // 2 + 35), fill=(40, 170, 40)
    )
    im.save(path)
    return path


def make_sign(path: Path, text: str = "EXIT 42 NORTH", size=(480, 160)) -> Path:
    """Black capitals on a yellow sign (Pillow's bundled font, so it renders anywhere)."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", size, (250, 210, 40))
    font = ImageFont.load_default(size=44)
    ImageDraw.Draw(im).text((30, size[1] // 2 - 26), text, fill=(10, 10, 10), font=font)
    im.save(path)
    return path


SPOKEN = "Please meet me at the station at seven o'clock."


def make_speech(path: Path, text: str = SPOKEN) -> Path:
    """Speech synthesised with espeak-ng (a Debian package): a clip with known words."""
    import subprocess

    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


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
