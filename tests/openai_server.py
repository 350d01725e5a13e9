"""A small OpenAI-compatible chat server for the remote-endpoint backend's tests.

It answers POST /v1/chat/completions with a tiny local model (through our own transformers
backend), in OpenAI's response format with vLLM's `reasoning_content` field, and records every
request it receives, so tests can check what the client sent. `fail_next` makes it answer 500s.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mexa_ray.models.llm import Generator


class ChatServer:
    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.requests: list[dict] = []
        self.fail_next = 0
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("authorization")})
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse(
                {"error": {"message": "overloaded", "type": "server_error"}}, status_code=500
            )
        text_only = [
            {
                "role": m["role"],
                "content": m["content"]
                if isinstance(m["content"], str)
                else " ".join(p.get("text", "") for p in m["content"]),
            }
            for m in body["messages"]
        ]
        out = self.generator.generate([text_only])[0]
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop" if out.finished else "length",
                        "message": {
                            "role": "assistant",
                            "content": out.text,
                            "reasoning_content": out.reasoning or None,
                        },
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        )


@contextmanager
def running(server: ChatServer, port: int):
    """Serve on 127.0.0.1:port in a thread; yields the base URL for the openai client."""
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not uv.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        uv.should_exit = True
        thread.join(timeout=5)
