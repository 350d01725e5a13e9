"""Load and validate each modality; one module per modality.

The ingress calls `probe` on every item so that unreadable or corrupt files are refused with a
4xx before any expert runs; experts call the `read_*` functions of the module they need.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from mexa_ray.errors import MediaAccessDenied, MediaError, UnsupportedMedia, redact_paths
from mexa_ray.types import MEDIA_TYPES, Media

log = logging.getLogger(__name__)

_MODULES = {
    "table": "table",
    "points": "points",
    "audio": "audio",
    "image": "image",
    "video": "video",
    "text": "text",
    "volume": "volume",
}

#: other names of a format; ".oga" is the Ogg audio extension (freedesktop sounds use it)
_ALIASES = {"jpeg": "jpg", "tif": "tiff", "mpg": "mpeg", "htm": "txt", "oga": "ogg"}


def module_for(media_type: str) -> ModuleType:
    if media_type not in _MODULES:
        raise UnsupportedMedia(
            f"unknown media type {media_type!r}; known: {', '.join(MEDIA_TYPES)}", field="type"
        )
    return importlib.import_module(f"mexa_ray.media.{_MODULES[media_type]}")


def formats(media_type: str) -> tuple[str, ...]:
    return module_for(media_type).FORMATS


def extensions(media_type: str) -> tuple[str, ...]:
    """Every file extension read as a format of `media_type`: its formats and their other names
    (".nii.gz", told by its double suffix in `resolve_format`, is not among them)."""
    own = formats(media_type)
    return own + tuple(alias for alias, fmt in _ALIASES.items() if fmt in own and alias not in own)


def sniff_format(media_type: str, head: bytes) -> str | None:
    """Guess a format from the first bytes of an upload that came without one."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if media_type == "table":
        return "parquet" if head.startswith(b"PAR1") else "csv"
    if media_type == "points":
        if head.startswith(b"ply"):
            return "ply"
        if head.lstrip().startswith((b"# .PCD", b"VERSION")):
            return "pcd"
        return "xyz"
    if media_type == "audio":
        if head[:4] == b"RIFF":
            return "wav"
        if head[:4] == b"fLaC":
            return "flac"
        if head[:4] == b"OggS":
            return "ogg"
        if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
            return "mp3"
    if media_type == "image":
        signatures = {
            b"\x89PNG": "png",
            b"\xff\xd8\xff": "jpg",
            b"GIF8": "gif",
            b"BM": "bmp",
            b"II*\x00": "tiff",
            b"MM\x00*": "tiff",
        }
        for sig, fmt in signatures.items():
            if head.startswith(sig):
                return fmt
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return "webp"
    if media_type == "video":
        if head[4:8] == b"ftyp":
            return "mp4"
        if head.startswith(b"\x1a\x45\xdf\xa3"):
            return "mkv"
        if head[:4] == b"RIFF" and head[8:11] == b"AVI":
            return "avi"
    if media_type == "text":
        return "txt"
    return None


def resolve_format(media: Media, field: str, head: bytes | None = None) -> str:
    """The item's format: its `format` field, else its file extension, else sniffed bytes."""
    fmt = media.format
    if not fmt and media.path:
        name = Path(media.path).name.lower()
        fmt = "nii" if name.endswith(".nii.gz") else Path(name).suffix.lstrip(".")
    if not fmt and head is not None:
        fmt = sniff_format(media.type, head)
    if not fmt:
        raise UnsupportedMedia(
            f"cannot tell the format of this {media.type}; give 'format' "
            f"(one of {', '.join(formats(media.type))})",
            field=field,
        )
    fmt = _ALIASES.get(fmt.lower(), fmt.lower())
    if fmt not in formats(media.type):
        raise UnsupportedMedia(
            f"format {fmt!r} is not supported for {media.type}; "
            f"supported: {', '.join(formats(media.type))}",
            field=field,
        )
    return fmt


def check_under_roots(path: str | Path, roots: list[Path], field: str) -> Path:
    """Resolve `path` (following symlinks) and refuse it unless it lies inside a media root.
    A client's `~` is not the server's home: it is a plain name here."""
    try:
        resolved = Path(path).resolve()
        inside = any(resolved.is_relative_to(root) for root in roots)
        is_file = inside and resolved.is_file()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop
        shown = str(path)[:200]
        detail = redact_paths(str(exc), {str(path): shown})
        raise MediaError(f"path {shown!r} cannot be used: {detail}", field=field) from None
    if not inside:
        raise MediaAccessDenied(
            f"path {str(path)!r} is outside the allowed media roots", field=field
        )
    if not is_file:
        raise MediaError(f"no such file: {str(path)!r}", field=field)
    return resolved


def probe(media_type: str, path: str | Path, fmt: str, field: str, shown: str = "the file") -> dict:
    """Open the file with its modality's reader; raise MediaError naming `field` if it fails.
    The error speaks of the file as `shown` (the client's own path, or "the uploaded file"),
    never of where the server keeps it; the log has the whole detail."""
    module = module_for(media_type)
    try:
        return module.probe(path, fmt)
    except (MediaError, UnsupportedMedia):
        raise
    except Exception as exc:  # noqa: BLE001 - each reader has its own types for corrupt input
        log.info("%s: cannot read %s (%s) from %s: %r", field, media_type, fmt, path, exc)
        detail = redact_paths(str(exc), {str(path): shown})
        raise MediaError(f"cannot read {media_type} ({fmt}): {detail}", field=field) from None
