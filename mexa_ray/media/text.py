"""Plain text and subtitles."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("txt", "md", "srt", "vtt")


def read_text(path: str | Path, max_chars: int | None = None) -> str:
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"text is not valid UTF-8 (byte {exc.start})") from None
    return text if max_chars is None else text[:max_chars]


def probe(path: str | Path, fmt: str) -> dict:
    return {"chars": len(read_text(path))}
