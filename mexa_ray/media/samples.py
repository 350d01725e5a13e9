"""Media the project makes itself (nothing fetched): the demo's inputs, the tests' inputs, and the
tiny items every expert reads once at load (`warm_up`), so the first request costs what later
ones do. The same generators serve all three, so tests and the demo exercise identical inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mexa_ray.types import Media


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


def make_chart(path: Path) -> Path:
    """A bar chart of real numbers: the mean petal length of scikit-learn's bundled iris
    flowers (Fisher, 1936), per species, drawn by matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_iris

    ds = load_iris()
    species = [str(n) for n in ds.target_names]
    means = [float(ds.data[ds.target == i, 2].mean()) for i in range(len(species))]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.bar(species, means, color="#4c72b0")
    ax.set_title("Mean petal length of iris flowers")
    ax.set_ylabel("petal length (cm)")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
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


def make_noise(
    path: Path, seconds: float = 2.0, sr: int = 16000, seed: int = 0, level: float = 0.3
) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sf.write(path, (level * rng.standard_normal(int(sr * seconds))).astype(np.float32), sr)
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


def make_small_table(path: Path) -> Path:
    """Five rows of a name, a year and a value: every column kind a table expert profiles."""
    path.write_text(
        "name,year,value\nada,1815,3.5\nalan,1912,2.0\ngrace,1906,4.25\n"
        "edsger,1930,1.0\nbarbara,1939,5.5\n"
    )
    return path


def make_small_scene(path: Path) -> Path:
    return make_scene(path, density=0.02)


#: one small item per media type: (file name, its maker); `volume` has none (no writer here)
SMALL = {
    "image": ("image.png", make_image),
    "video": ("video.mp4", lambda p: make_video(p, seconds=1.0)),
    # quiet noise: every stage of an audio reader runs on it, and speech models decode no words
    # from it (a pure tone sends Whisper into seconds of repeated tokens)
    "audio": ("audio.wav", lambda p: make_noise(p, seconds=1.0, level=0.01)),
    "points": ("points.ply", make_small_scene),
    "table": ("table.csv", make_small_table),
    "text": ("text.txt", lambda p: p.write_text("The meeting is at noon in room 4.") and p),
}


def small_media(kind: str, folder: Path) -> Media | None:
    """A small valid item of this media type in `folder` (made once), or None for a type with
    no maker."""
    if kind not in SMALL:
        return None
    name, make = SMALL[kind]
    path = folder / name
    if not path.exists():
        make(path)
    return Media(type=kind, path=str(path), format=name.rsplit(".", 1)[1], name=name)
