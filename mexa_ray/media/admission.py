"""Media admission: the one gate every media item passes before an expert sees it, in the HTTP
ingress and in the bulk evaluation job alike.

Both runtimes hold files to the same rules, so an item that the service refuses is also refused
(and scored as bad media) by the bulk job, never silently read: the path must lie under a media
root, the format must be one the modality reads, the file must fit the size limit, open with its
modality's reader (corrupt files are caught here, not inside an expert) and, for audio and video,
fit the duration limit. Uploaded bytes and fetched URLs go through the same checks once written
to a file by the caller's `store`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mexa_ray import media as media_io
from mexa_ray.errors import MediaError, PayloadTooLarge
from mexa_ray.media import remote
from mexa_ray.types import Media

#: writes admitted bytes to a file readers can open; returns (path, sha256)
Store = Callable[[bytes, str], tuple[Path, str]]


@dataclass(frozen=True)
class MediaAdmission:
    """The rules, from the config's `media` block (or the bulk job's `--media-root`)."""

    roots: tuple[Path, ...]
    max_bytes: int
    max_seconds: float
    url_hosts: tuple[str, ...] = ()
    url_timeout_s: float = 10.0

    def file(
        self,
        media_type: str,
        path: str | Path,
        field: str,
        fmt: str | None = None,
        name: str | None = None,
    ) -> Media:
        """A file named by path: under a root, a known format, within the limits, readable."""
        resolved = media_io.check_under_roots(path, list(self.roots), field)
        item = Media(type=media_type, path=str(resolved), format=fmt, name=name or resolved.name)
        item.format = media_io.resolve_format(item, _sibling(field, "format"))
        size = resolved.stat().st_size
        if size > self.max_bytes:
            raise PayloadTooLarge(
                f"the file has {size} bytes; the limit is {self.max_bytes}", field=field
            )
        self.probe(item, resolved, field, shown=str(path))
        return item

    def upload(
        self,
        media_type: str,
        data: bytes,
        field: str,
        store: Store,
        fmt: str | None = None,
        name: str | None = None,
    ) -> Media:
        """Bytes sent with the request (already decoded) or fetched from a URL."""
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"the item has {len(data)} bytes; the limit is {self.max_bytes}", field=field
            )
        if not data:
            raise MediaError("the item is empty", field=field)
        item = Media(type=media_type, format=fmt, name=name)
        item.format = media_io.resolve_format(item, _sibling(field, "format"), head=data[:64])
        path, item.sha256 = store(data, item.format)
        self.probe(item, path, field, shown="the uploaded file")
        return item

    def fetch(self, url: str, field: str) -> bytes:
        """A URL's body, from an allowed host only, within the size limit and the timeout."""
        return remote.fetch(url, list(self.url_hosts), self.max_bytes, self.url_timeout_s, field)

    def probe(self, item: Media, path: Path, field: str, shown: str) -> dict:
        """Open the file with its modality's reader and hold audio and video to the duration
        limit; returns what the reader found (duration, size, ...). Errors call the file
        `shown`."""
        info = media_io.probe(item.type, path, item.format or "", field, shown)
        seconds = info.get("duration_s")
        if seconds is not None and seconds > self.max_seconds:
            raise PayloadTooLarge(
                f"the {item.type} lasts {seconds:.1f} s; the limit is {self.max_seconds:g} s",
                field=field,
            )
        return info


def decode_base64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("'data' is not valid base64", field=field) from None


def _sibling(field: str, name: str) -> str:
    """`media.0.path` -> `media.0.format`: format errors name the item's format field."""
    head, dot, _ = field.rpartition(".")
    return f"{head}.{name}" if dot else name
