import os
from pathlib import Path

import pytest

from mexa_ray import media
from mexa_ray.errors import MediaAccessDenied, MediaError, UnsupportedMedia
from mexa_ray.types import Media

DEMO_FILES = {
    "table": "breast_cancer.csv",
    "points": "room.ply",
    "audio": "melody.wav",
    "video": "red_square.mp4",
    "image": "green_disc.png",
}


@pytest.mark.parametrize("kind", sorted(DEMO_FILES))
def test_probe_reads_every_generated_input(media_dir, kind):
    path = media_dir / DEMO_FILES[kind]
    fmt = media.resolve_format(Media(type=kind, path=str(path)), "f")
    info = media.probe(kind, path, fmt, "f")
    assert info and all(v for v in info.values())


@pytest.mark.parametrize("kind", sorted(DEMO_FILES))
def test_sniffing_recognises_every_generated_input(media_dir, kind):
    path = media_dir / DEMO_FILES[kind]
    assert media.sniff_format(kind, path.read_bytes()[:64]) == path.suffix.lstrip(".")


@pytest.mark.parametrize(
    "kind, fmt",
    [
        ("points", "ply"),
        ("audio", "wav"),
        ("video", "mp4"),
        ("image", "png"),
        ("table", "parquet"),
        ("volume", "npy"),
    ],
)
def test_corrupt_files_are_media_errors_naming_the_field(tmp_path, kind, fmt):
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(MediaError) as info:
        media.probe(kind, bad, fmt, "media.0.path")
    assert info.value.field == "media.0.path"


def test_text_must_be_utf8(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(MediaError, match="UTF-8"):
        media.probe("text", bad, "txt", "f")


def test_an_oga_file_is_read_as_the_ogg_audio_it_is(tmp_path):
    import numpy as np
    import soundfile as sf

    clip = tmp_path / "beep.oga"
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 16000)).astype(np.float32)
    sf.write(clip, tone, 16000, format="OGG", subtype="VORBIS")
    fmt = media.resolve_format(Media(type="audio", path=str(clip)), "f")
    assert fmt == "ogg"
    assert media.probe("audio", clip, fmt, "f")["duration_s"] == pytest.approx(1.0, abs=0.01)


def test_unsupported_format_and_type():
    with pytest.raises(UnsupportedMedia, match="not supported for audio"):
        media.resolve_format(Media(type="audio", path="/x/clip.docx"), "media.0.format")
    with pytest.raises(UnsupportedMedia, match="unknown media type"):
        media.module_for("smell")
    with pytest.raises(UnsupportedMedia, match="give 'format'"):
        media.resolve_format(Media(type="points"), "media.0.format")


def test_paths_outside_the_roots_are_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    inside = root / "a.txt"
    inside.write_text("hi")
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    os.symlink(outside, root / "link.txt")
    assert media.check_under_roots(inside, [root], "f") == inside.resolve()
    for attempt in [outside, root / ".." / "secret.txt", root / "link.txt", Path("/etc/passwd")]:
        with pytest.raises(MediaAccessDenied):
            media.check_under_roots(attempt, [root], "media.0.path")
    with pytest.raises(MediaError, match="no such file"):
        media.check_under_roots(root / "missing.wav", [root], "f")


def test_the_playground_offers_each_type_the_extensions_the_server_reads():
    """The page picks a file's type by its extension: one the server refuses would fail only
    after the upload, and one it reads but the page does not know could not be picked."""
    import json
    import re

    script = (Path(media.__file__).parents[1] / "playground" / "playground.js").read_text()
    body = re.search(r"const KINDS = (\{.*?\});", script, re.S).group(1)
    kinds = json.loads(re.sub(r"(\w+):", r'"\1":', body).replace(",\n}", "\n}"))
    assert set(kinds) == set(media.MEDIA_TYPES)
    for kind, offered in kinds.items():
        reads = set(media.extensions(kind))
        if kind == "points":
            reads.discard("npy")  # a .npy is a volume on the page; a client may say points
        if kind == "volume":
            reads.add("gz")  # .nii.gz
        assert set(offered) == reads, kind
