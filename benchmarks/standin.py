"""Stand-in media for real benchmark annotations, for smoke tests and benchmarks.

The benchmarks' media (MMAU's clips, ScanNet scans) cannot be shipped or downloaded here. These
generate files where an adapter expects them, so the job runs end to end on the real annotation
files: short tones, noise or melodies for MMAU items, small synthetic rooms for SQA3D scenes.
Answers on stand-in media are meaningless; the pipeline's behaviour is what they exercise.
"""

from __future__ import annotations

from pathlib import Path

from mexa_ray.datasets import Item
from mexa_ray.media.samples import make_melody, make_noise, make_scene, make_tone


def media_path(item: Item, media_root: Path, index: int = 0) -> Path:
    """Where the job will look first for the item's media."""
    first = Path(item.media[index].paths[0])
    return first if first.is_absolute() else media_root / first


def write_standin(item: Item, media_root: Path, seed: int = 0, seconds: float = 1.0) -> Path | None:
    """Create the item's first media file (if absent) with a generator for its type; audio
    lasts `seconds` (MMAU's clips are mostly 10 s)."""
    path = media_path(item, media_root)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = item.media[0].type
    if kind == "audio":
        style = item.category
        if style == "music":
            make_melody(path, beats=max(1, round(2 * seconds)))  # two beats a second
        elif style == "speech":
            make_noise(path, seconds=seconds, seed=seed)
        else:
            make_tone(path, freq=220.0 + 40 * (seed % 10), seconds=seconds)
    elif kind == "points":
        make_scene(path, seed=seed, density=0.05)
    else:
        return None
    return path
