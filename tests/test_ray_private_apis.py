"""The private Ray APIs the Serve app relies on, checked by name and shape so that a Ray upgrade
that moves or drops one fails here, loudly and naming it, instead of deep inside a request.

- `DeploymentHandle.options(_by_reference=...)` (with `request_serialization` and
  `response_serialization`): calls by value over Serve's gRPC transport
  (`mexa_ray.serving.transport`); Serve has no public switch for it.
- `ray.serve.context._get_serve_request_context().request_id`: the request id Serve's access log
  carries, stamped on every log line and answer (`mexa_ray.serving.observability`); Serve exposes
  no public accessor for it.

Both are exercised end to end elsewhere (test_transport, test_observability); this file is the
early warning with the reason.
"""

from __future__ import annotations

import inspect

import ray


def test_handle_options_still_take_the_transport_switches():
    from ray.serve.handle import DeploymentHandle

    params = inspect.signature(DeploymentHandle.options).parameters
    for name in ("_by_reference", "request_serialization", "response_serialization"):
        assert name in params, (
            f"DeploymentHandle.options lost {name!r} in Ray {ray.__version__}: "
            "mexa_ray.serving.transport needs another way to call by value"
        )


def test_serve_request_context_still_carries_the_request_id():
    from ray.serve import context

    getter = getattr(context, "_get_serve_request_context", None)
    assert callable(getter), (
        f"ray.serve.context._get_serve_request_context is gone in Ray {ray.__version__}: "
        "mexa_ray.serving.observability.current_request_id needs another source"
    )
    request = getter()
    assert hasattr(request, "request_id"), "Serve's request context has no request_id field"
    assert isinstance(request.request_id, str)
