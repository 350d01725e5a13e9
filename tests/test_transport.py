"""How calls and media travel between deployments: small uploads inline in the query, large
ones by object-store reference; a query with references goes over Ray actor calls (which track
them), every other over Serve's gRPC transport by value."""

from __future__ import annotations

from pathlib import Path

import pytest

from mexa_ray.serving.transport import (
    INLINE_BYTES,
    Handles,
    carries_refs,
    materialise,
    publish,
)
from mexa_ray.types import Media, Query

pytestmark = pytest.mark.serve


class FakeHandle:
    """Records the options a DeploymentHandle is given (the real one needs a running app)."""

    def __init__(self, **options) -> None:
        self.opts = options

    def options(self, **options) -> FakeHandle:
        return FakeHandle(**{**self.opts, **options})


def test_small_uploads_travel_inline_and_large_ones_by_reference(ray_session):
    import ray

    small = publish(Media("text", format="txt", sha256="a" * 64), b"x" * INLINE_BYTES)
    large = publish(Media("audio", format="wav", sha256="b" * 64), b"y" * (INLINE_BYTES + 1))
    assert small.ref == b"x" * INLINE_BYTES and small.path is None
    assert isinstance(large.ref, ray.ObjectRef) and ray.get(large.ref)[:1] == b"y"
    assert not carries_refs(Query("q", media=[small, Media("image", path="/x.png")]))
    assert carries_refs(Query("q", media=[small, large]))


def test_the_transport_is_chosen_per_query(ray_session):
    import ray

    handles = Handles(FakeHandle())
    assert handles.by_value.opts == {
        "_by_reference": False,
        "request_serialization": "pickle",
        "response_serialization": "pickle",
    }
    assert handles.by_reference.opts == {"_by_reference": True}
    inline = Query("q", media=[Media("text", ref=b"note", format="txt", sha256="c" * 64)])
    stored = Query("q", media=[Media("text", ref=ray.put(b"note"), format="txt", sha256="d" * 64)])
    assert handles.for_query(inline) is handles.by_value
    assert handles.for_query(stored) is handles.by_reference


def test_an_expert_reads_inline_and_stored_uploads_alike(ray_session, tmp_path):
    import asyncio
    import hashlib

    import ray

    from mexa_ray.config import SpoolSpec
    from mexa_ray.media.spool import Spool

    spool = Spool(SpoolSpec(dir=str(tmp_path)), hold_s=60)
    one, two = b"first note", b"second note"
    query = Query(
        "q",
        media=[
            Media("text", ref=one, format="txt", sha256=hashlib.sha256(one).hexdigest()),
            Media("text", ref=ray.put(two), format="txt", sha256=hashlib.sha256(two).hexdigest()),
        ],
    )
    local = asyncio.run(materialise(query, spool))
    assert [open(m.path, "rb").read() for m in local.media] == [one, two]
    assert all(m.ref is None for m in local.media)
    assert all(Path(m.path).parent == tmp_path for m in local.media)  # in the node's spool


def test_an_app_on_actor_calls_answers_inline_and_stored_uploads(serve_app):
    """`serve.transport: actor` (every call a Ray actor call) serves the same answers."""
    import base64

    from ray import serve

    from mexa_ray.config import parse_config
    from mexa_ray.serving import runtime

    small = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.05}}
    config = parse_config(
        {
            "name": "mexa-actor-calls",
            "serve": {"transport": "actor"},
            "router": {"deployment": small},
            "aggregator": {"deployment": small},
            "ingress": {"deployment": small},
            "experts": [
                {
                    "name": "reader",
                    "backend": "text",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "Reads text.",
                    "deployment": small,
                }
            ],
        }
    )
    handle = runtime.deploy(config, route_prefix=None)
    try:
        for words in (1, 20_000):  # inline, then over INLINE_BYTES: in the object store
            note = ("The key is blue. " + "filler " * words).encode()
            answer = runtime.ask(
                handle,
                {
                    "question": "What colour is the key?",
                    "experts": ["reader"],
                    "media": [
                        {"type": "text", "format": "txt", "data": base64.b64encode(note).decode()}
                    ],
                },
            )
            assert answer["missing"] == [], answer
            assert "The key is blue." in answer["reports"][0]["text"]
    finally:
        serve.delete(config.name)
