"""Property-based fuzzing of the HTTP API on the session's app: malformed JSON, wrong types,
huge strings, corrupt media of every type and format, path traversal. Whatever arrives, the
answer is never a 5xx; a refusal is a 4xx with the error body; and the service is healthy
after. Bounded: a fixed number of examples per property, no shrinking deadline."""

from __future__ import annotations

import base64
import json
import re
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mexa_ray import media as media_io
from mexa_ray.config import SpoolSpec
from mexa_ray.media.spool import spool_dir
from mexa_ray.serving.http.schemas import MediaType

pytestmark = pytest.mark.serve

MEDIA_TYPES = list(MediaType.__args__)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


#: where the server keeps uploads: no answer or error may name it
SPOOL = str(spool_dir(SpoolSpec()))
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")


def check(response, allowed_ok: bool = True) -> None:
    """Never a 5xx; a 4xx carries the error body, which speaks of the request, not of the
    server (no spool path, no file hash); a 200 only where the input may be valid."""
    assert response.status_code < 500, response.text
    assert SPOOL not in response.text, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["type"], str) and error["message"]
        assert not SHA256.search(response.text), response.text
    else:
        assert allowed_ok, response.text


@pytest.fixture(scope="module", autouse=True)
def healthy_after(http):
    yield
    assert http.get("/healthz").status_code == 200


ROUTES = ["/v1/reason", "/v1/chat/completions"]


@FUZZ
@given(body=st.binary(max_size=300), route=st.sampled_from(ROUTES))
def test_malformed_bodies(http, body, route):
    check(
        http.post(route, content=body, headers={"content-type": "application/json"}),
        allowed_ok=False,
    )


@FUZZ
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "question",
                "options",
                "task",
                "media",
                "experts",
                "deadline_s",
                "model",
                "messages",
                "stream",
                "mexa",
                "extra",
            ]
        ),
        json_values,
        max_size=6,
    ),
    route=st.sampled_from(ROUTES),
)
def test_wrong_types_and_shapes(http, body, route):
    check(http.post(route, json=body))


@FUZZ
@given(
    size=st.sampled_from([4_001, 50_000, 100_001, 400_000]),
    alphabet=st.sampled_from([string.ascii_letters, "\u00e9\u4e2d\U0001f600\x00", " \n\t"]),
)
def test_huge_strings(http, size, alphabet):
    text = (alphabet * (size // len(alphabet) + 1))[:size]
    check(http.post("/v1/reason", json={"question": text}), allowed_ok=False)
    check(http.post("/v1/reason", json={"question": "q", "options": [text]}))
    check(
        http.post(
            "/v1/chat/completions",
            json={"model": "mexa", "messages": [{"role": "user", "content": text}]},
        ),
        allowed_ok=False,
    )


def _format(media_type: str) -> st.SearchStrategy:
    return st.none() | st.sampled_from(media_io.formats(media_type)) | st.text(max_size=8)


@FUZZ
@given(data=st.data())
def test_corrupt_media_of_every_type(http, data):
    media_type = data.draw(st.sampled_from(MEDIA_TYPES))
    fmt = data.draw(_format(media_type))
    head = data.draw(
        st.sampled_from(
            [
                b"",
                b"ply\nformat ascii 1.0\n",
                b"RIFF\x00\x00\x00\x00WAVE",
                b"\x89PNG\r\n\x1a\n",
                b"\x00\x00\x00\x18ftypmp42",
                b"\x93NUMPY",
                b"PAR1",
                b"a,b\n1,",
                b"\x1f\x8b",
            ]
        )
    )
    raw = head + data.draw(st.binary(min_size=1, max_size=400))
    item = {"type": media_type, "data": base64.b64encode(raw).decode()}
    if fmt is not None:
        item["format"] = fmt
    check(
        http.post("/v1/reason", json={"question": "What is in it?", "media": [item]}),
        allowed_ok=media_type in ("text", "table"),
    )  # most bytes are a text file or a CSV


@FUZZ
@given(
    path=st.sampled_from(
        [
            "../../etc/passwd",
            "/etc/passwd",
            "/proc/self/environ",
            "..",
            ".",
            "",
            "%2e%2e/%2e%2e/etc/passwd",
            "~/.ssh/id_rsa",
            "C:\\Windows\\win.ini",
            "/dev/zero",
            "\x00",
            "a\x00.csv",
        ]
    )
    | st.text(max_size=60),
    prefix=st.sampled_from(["", "{root}/", "{root}/../", "{root}/../../"]),
    media_type=st.sampled_from(MEDIA_TYPES),
)
def test_path_traversal_never_reads_outside_the_roots(http, media_dir, path, prefix, media_type):
    full = prefix.format(root=media_dir) + path
    r = http.post(
        "/v1/reason", json={"question": "q", "media": [{"type": media_type, "path": full}]}
    )
    check(r)
    if r.status_code == 200:  # only a real file under the root can be read
        from pathlib import Path

        resolved = Path(full).resolve()
        assert resolved.is_relative_to(media_dir.resolve()) and resolved.is_file(), full


@FUZZ
@given(
    parts=st.lists(
        st.dictionaries(
            st.sampled_from(
                ["type", "text", "image_url", "input_audio", "video", "points", "table", "volume"]
            ),
            json_values | st.sampled_from(["image_url", "input_audio", "text", "points"]),
            max_size=3,
        ),
        max_size=3,
    )
)
def test_chat_content_parts(http, parts):
    check(
        http.post(
            "/v1/chat/completions",
            json={
                "model": "mexa",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}, *parts]}],
            },
        )
    )


def test_the_properties_above_are_not_vacuous(http):
    """A body the fuzzers' checks would accept as valid does get a 200 here."""
    r = http.post(
        "/v1/reason",
        json={
            "question": "q",
            "media": [
                {"type": "text", "data": base64.b64encode(b"hello").decode(), "format": "txt"}
            ],
        },
    )
    assert r.status_code == 200 and json.loads(r.text)["answer"]


def test_a_corrupt_upload_is_named_by_the_request_and_leaves_the_spool(http):
    """The reader's error about a corrupt upload speaks of "the uploaded file", not of the
    spool's copy (its path and hash are in the log only); an answered upload's file is gone from
    the spool, and so is a refused one's."""
    import hashlib

    corrupt = b"RIFF\x00\x00\x00\x00WAVEnot really a recording"
    r = http.post(
        "/v1/reason",
        json={
            "question": "What is heard?",
            "media": [
                {"type": "audio", "format": "wav", "data": base64.b64encode(corrupt).decode()}
            ],
        },
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "media.0.data" and "the uploaded file" in error["message"]
    check(r)
    note = f"A note written at {time.time()}.".encode()
    r = http.post(
        "/v1/reason",
        json={
            "question": "What does the note say?",
            "media": [{"type": "text", "format": "txt", "data": base64.b64encode(note).decode()}],
        },
    )
    assert r.status_code == 200
    for data, fmt in ((corrupt, "wav"), (note, "txt")):
        assert not (Path(SPOOL) / f"{hashlib.sha256(data).hexdigest()}.{fmt}").exists()
