"""How queries and media travel between deployments.

With `serve.transport: grpc` (the default), calls between deployments go by value over Serve's
gRPC transport, pickled with the standard library's pickle: with the replica settings of
`serve.replica_env`, the chain then costs about 40% of the CPU it costs on Serve's defaults, Ray
actor calls with cloudpickle (`benchmarks/overhead.py` measures both). Ray ObjectRefs
cannot ride along by value (they would be pinned for the life of the process), so a query that
carries object-store media travels by Ray actor calls instead, which track the references
(`Handles.for_query`). `serve.transport: actor` sends every call as a Ray actor call, for
clusters whose nodes cannot reach each other's replica gRPC ports.

Uploaded bytes up to `INLINE_BYTES` travel inside the query, as Ray itself inlines small task
arguments. Larger uploads are put in the Ray object store once, at the ingress; every expert that
needs them gets the same ObjectRef and writes the bytes to the node's media spool
(`mexa_ray.media.spool`), in a file named by their SHA-256, so a node holds one copy however
many experts (or requests) read it. Paths under media roots travel as paths and are read in
place.
"""

from __future__ import annotations

import asyncio
import dataclasses

import ray
from ray.serve.handle import DeploymentHandle

from mexa_ray.config import Transport
from mexa_ray.media.spool import Spool
from mexa_ray.types import Media, Query

#: Ray's own limit for inlining a task argument (max_direct_call_object_size)
INLINE_BYTES = 100 * 1024


class Handles:
    """One deployment's handle in both transports; `for_query` picks the one a query can use."""

    def __init__(self, handle: DeploymentHandle, transport: Transport = "grpc") -> None:
        self.by_reference = handle.options(_by_reference=True)
        self.by_value = by_value(handle) if transport == "grpc" else self.by_reference

    def for_query(self, query: Query) -> DeploymentHandle:
        return self.by_reference if carries_refs(query) else self.by_value


def client(handle: DeploymentHandle, transport: Transport) -> DeploymentHandle:
    """The ingress handle as a caller of the app uses it: its payloads are plain JSON."""
    return by_value(handle) if transport == "grpc" else handle


def by_value(handle: DeploymentHandle) -> DeploymentHandle:
    """The handle over gRPC, with the standard library's pickle: our calls carry plain
    dataclasses of importable modules, which need none of cloudpickle's (slower) extras."""
    return handle.options(
        _by_reference=False, request_serialization="pickle", response_serialization="pickle"
    )


def carries_refs(query: Query) -> bool:
    """Whether some media is held in the object store (an ObjectRef, not inline bytes)."""
    return any(m.ref is not None and not isinstance(m.ref, bytes) for m in query.media)


def publish(media: Media, data: bytes) -> Media:
    """Media that carry uploaded bytes: inline when small, else an object-store reference
    (path cleared either way)."""
    return dataclasses.replace(
        media, path=None, ref=data if len(data) <= INLINE_BYTES else ray.put(data)
    )


async def materialise(query: Query, spool: Spool) -> Query:
    """A copy of the query whose media all have a readable local path: uploads are read from
    the node's spool, where they are written first if this node does not have them yet."""

    async def local(m: Media) -> Media:
        if m.path is not None:
            return m
        if m.sha256 is None:
            raise ValueError(f"{m.describe()} has no sha256 to cache it by (it was not admitted)")
        fmt = m.resolved_format()
        path = spool.path(m.sha256, fmt)
        if not spool.touch(path):
            data = m.ref if isinstance(m.ref, bytes) else await m.ref
            path, _ = await asyncio.to_thread(spool.put, data, fmt)
        return dataclasses.replace(m, path=str(path), ref=None)

    media = await asyncio.gather(*(local(m) for m in query.media))
    return dataclasses.replace(query, media=list(media))
