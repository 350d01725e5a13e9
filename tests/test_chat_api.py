"""The OpenAI-compatible API: request translation (no Ray), then the real `openai` client
against the session's Serve app: plain and streamed completions, media parts, the `mexa`
field, /v1/models, and errors the client raises as its own exception types."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import openai
import pytest

from mexa_ray.errors import InvalidRequest, ModelNotFound
from mexa_ray.serving.http.chat import parse_chat


def user(*parts: dict) -> dict:
    return {"role": "user", "content": list(parts)}


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def test_chat_body_becomes_a_reason_body():
    parsed = parse_chat(
        {
            "model": "mexa",
            "temperature": 0.7,
            "max_tokens": 5,  # accepted, ignored
            "messages": [
                {"role": "system", "content": "image question answering"},
                user(text("an earlier question")),
                {"role": "assistant", "content": "an earlier answer"},
                user(
                    text("What colour"),
                    text("is the disc?"),
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                    {"type": "input_audio", "input_audio": {"data": "QUJD", "format": "wav"}},
                    {"type": "points", "points": {"path": "/data/room.ply"}},
                    {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
                ),
            ],
            "mexa": {"options": ["red", "green"], "experts": ["visual-stats"], "deadline_s": 9},
        },
        "mexa",
    )
    assert parsed.reason == {
        "question": "What colour\nis the disc?",
        "task": "image question answering",
        "options": ["red", "green"],
        "experts": ["visual-stats"],
        "deadline_s": 9,
        "media": [
            {"type": "image", "data": "QUJD", "format": "png"},
            {"type": "audio", "data": "QUJD", "format": "wav"},
            {"type": "points", "path": "/data/room.ply"},
            {"type": "image", "url": "https://img.example/a.png"},
        ],
    }  # the ingress fetches
    assert parsed.field_of("media.2.path") == "messages.3.content.4.points.path"
    assert parsed.field_of("media.1.data") == "messages.3.content.3.input_audio.data"
    assert parsed.field_of("media.3.url") == "messages.3.content.5.image_url.url"
    assert parsed.field_of("media.0.data") == "messages.3.content.2.image_url.url"
    assert parsed.field_of("question") == "messages" and not parsed.chat.stream


@pytest.mark.parametrize(
    "body, error, field",
    [
        ({"model": "gpt-4o", "messages": [user(text("q"))]}, ModelNotFound, "model"),
        ({"model": "mexa", "messages": []}, InvalidRequest, "messages"),
        (
            {
                "model": "mexa",
                "messages": [
                    user({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}})
                ],
            },
            InvalidRequest,
            "messages.0.content.0.image_url.url",
        ),
        (
            {
                "model": "mexa",
                "messages": [
                    user(
                        text("q"),
                        {"type": "image_url", "image_url": {"url": "data:text/plain;base64,QQ=="}},
                    )
                ],
            },
            InvalidRequest,
            "messages.0.content.1.image_url.url",
        ),
        (
            {
                "model": "mexa",
                "messages": [
                    user(
                        text("q"),
                        {"type": "input_audio", "input_audio": {"data": "QQ==", "format": "ogg"}},
                    )
                ],
            },
            InvalidRequest,
            "messages.0.content.1.input_audio.format",
        ),
        (
            {
                "model": "mexa",
                "messages": [user(text("q"), {"type": "video", "video": {"url": "x"}})],
            },
            InvalidRequest,
            "messages.0.content.1.video",
        ),
        (
            {"model": "mexa", "messages": [user(text("q"), {"type": "smell"})]},
            InvalidRequest,
            "messages.0.content.1.type",
        ),
        (
            {
                "model": "mexa",
                "messages": [user({"type": "image_url", "image_url": {"url": "data:,"}})],
            },
            InvalidRequest,
            "messages.0.content.0.image_url.url",
        ),
        ({"model": "mexa", "messages": [user(text("  "))]}, InvalidRequest, "messages"),
        (
            {"model": "mexa", "messages": [user(text("q"))], "mexa": {"colour": 1}},
            InvalidRequest,
            "mexa.colour",
        ),
    ],
)
def test_bad_chat_bodies_name_the_field(body, error, field):
    with pytest.raises(error) as info:
        parse_chat(body, "mexa")
    assert info.value.field == field and info.value.message


@pytest.fixture(scope="module")
def client(serve_app):
    _, base_url = serve_app
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.mark.serve
def test_openai_client_gets_the_answer_and_mexas_evidence(client, media_dir):
    image = {
        "type": "image_url",
        "image_url": {"url": data_url(media_dir / "green_disc.png", "image/png")},
    }
    resp = client.chat.completions.create(
        model="mexa",
        messages=[user(text("What colour is the shape in the centre?"), image)],
        extra_body={"mexa": {"options": ["red", "green", "blue"]}},
    )
    assert resp.object == "chat.completion" and resp.model == "mexa"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "green" and resp.choices[0].finish_reason == "stop"
    evidence = resp.model_extra["mexa"]
    assert evidence["option_index"] == 1 and evidence["missing"] == []
    assert {s["expert"] for s in evidence["selected"]} == {"visual-stats"}
    assert resp.id == f"chatcmpl-{evidence['request_id']}"


@pytest.mark.serve
def test_streamed_answer_in_openai_chunks(client, media_dir):
    audio = {
        "type": "input_audio",
        "input_audio": {
            "data": base64.b64encode((media_dir / "melody.wav").read_bytes()).decode(),
            "format": "wav",
        },
    }
    stream = client.chat.completions.create(
        model="mexa",
        stream=True,
        messages=[user(text("Is this recording music, speech, or noise?"), audio)],
        extra_body={"mexa": {"options": ["music", "speech", "noise"]}},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "music"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["mexa"]["reports"][0]["expert"] == "audio-signal"
    assert len({c.id for c in chunks}) == 1


@pytest.mark.serve
def test_extension_part_by_path_and_models_list(client, media_dir):
    resp = client.chat.completions.create(
        model="mexa",
        messages=[
            user(
                text("How many objects stand on the floor of this room?"),
                {"type": "points", "points": {"path": str(media_dir / "room.ply")}},
            )
        ],
        extra_body={"mexa": {"options": ["2", "3", "4", "5"]}},
    )
    assert resp.choices[0].message.content == "3"
    assert [m.id for m in client.models.list()] == ["mexa"]


@pytest.mark.serve
def test_client_errors_are_openai_errors_with_the_field(client, serve_app, media_dir):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[user(text("q"))])
    assert info.value.body["type"] == "model_not_found" and info.value.body["param"] == "model"
    with pytest.raises(openai.PermissionDeniedError) as info:  # no URL hosts configured
        client.chat.completions.create(
            model="mexa",
            messages=[
                user(
                    text("q"),
                    {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                )
            ],
        )
    assert info.value.body["param"] == "messages.0.content.1.image_url.url"
    assert "fetches no URLs" in info.value.body["message"]
    # corrupt media is refused before the stream starts, naming the content part
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(
            model="mexa",
            stream=True,
            messages=[
                user(
                    text("q"),
                    {"type": "points", "points": {"data": "bm90IGEgY2xvdWQ=", "format": "ply"}},
                )
            ],
        )
    assert info.value.body["param"].startswith("messages.0.content.1")
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(
            model="mexa",
            messages=[
                user(
                    text("q"), {"type": "table", "table": {"path": "/etc/passwd", "format": "csv"}}
                )
            ],
        )
    _, base_url = serve_app
    r = httpx.post(
        f"{base_url}/v1/chat/completions",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"
    assert client.models.list().data  # still serving
