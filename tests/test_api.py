import pytest

from mexa_ray.errors import InvalidRequest
from mexa_ray.serving.http.schemas import parse_request


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"question": "   "}, "question"),
        ({}, "question"),
        ({"question": 5}, "question"),
        ({"question": "q", "media": [{"type": "smell", "path": "a"}]}, "media.0.type"),
        ({"question": "q", "media": [{"type": "audio"}]}, "media.0"),
        ({"question": "q", "media": [{"type": "audio", "path": "a", "data": "AA=="}]}, "media.0"),
        ({"question": "q", "media": "clip.wav"}, "media"),
        ({"question": "q", "options": ["a", ""]}, "options"),
        ({"question": "q", "deadline_s": -1}, "deadline_s"),
        ({"question": "q", "surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_name_the_field(payload, field):
    with pytest.raises(InvalidRequest) as info:
        parse_request(payload)
    assert info.value.field == field
    body = info.value.to_dict()["error"]
    assert body["type"] == "invalid_request" and body["field"] == field and body["message"]


def test_body_must_be_an_object():
    with pytest.raises(InvalidRequest, match="JSON object"):
        parse_request(["question"])


def test_valid_request_is_normalised():
    r = parse_request(
        {
            "question": " Which? ",
            "options": [" a ", "b"],
            "media": [{"type": "audio", "path": "x.wav"}],
        }
    )
    assert r.question == "Which?" and r.options == ["a", "b"] and r.media[0].type == "audio"
