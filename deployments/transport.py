"""Media by reference between deployments.

Uploaded bytes are put in the Ray object store once, at the ingress; every expert that needs them
gets the same ObjectRef and writes the bytes to a node-local cache file named by their SHA-256, so a
node holds one copy however many experts (or requests) read it. Paths under media roots travel as
paths and are read in place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

import ray

from mexa_ray.types import Media, Query


def cache_dir() -> Path:
    path = Path(os.environ.get("MEXA_MEDIA_CACHE", Path(tempfile.gettempdir()) / "mexa-media"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_path(sha256: str, fmt: str) -> Path:
    return cache_dir() / f"{sha256}.{fmt}"


def spool(data: bytes, fmt: str) -> tuple[Path, str]:
    """Write bytes to the node-local cache (once) and return (path, sha256)."""
    sha = hashlib.sha256(data).hexdigest()
    path = cached_path(sha, fmt)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # atomic: readers never see a half-written file
    return path, sha


def publish(media: Media, data: bytes) -> Media:
    """Media that reference uploaded bytes through the object store (path cleared)."""
    return dataclasses.replace(media, path=None, ref=ray.put(data))


async def materialise(query: Query) -> Query:
    """A copy of the query whose media all have a readable local path."""
    async def local(m: Media) -> Media:
        if m.path is not None:
            return m
        path = cached_path(m.sha256, m.format)
        if not path.exists():
            data = await m.ref
            await asyncio.to_thread(spool, data, m.format)
        return dataclasses.replace(m, path=str(path), ref=None)

    media = await asyncio.gather(*(local(m) for m in query.media))
    return dataclasses.replace(query, media=list(media))
