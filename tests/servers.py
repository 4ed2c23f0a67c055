"""Real HTTP servers on loopback for the OpenAI-compatible backend tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from medbench.models.serve import free_port

#: every fault :class:`ScriptedChat` can play; ``-once`` variants fail the first request only
FAULTS = (
    "500",
    "500-once",
    "drop-once",
    "drop",
    "429-once",
    "hang",
    "bad-json",
    "empty-choices",
    "no-choices",
    "wrong-schema",
    "html",
    "huge",
    "401-echo",
)


class ScriptedChat:
    """A chat-completions server whose behaviour is scripted per prompt text; counts every hit.

    ``rules``: list of (substring, behaviour), a behaviour from :data:`FAULTS`; everything else, and
    everything once :attr:`healed` is set, gets ``reply``. ``hang`` sleeps ``hang_seconds``
    before answering; ``huge`` answers ``reply`` followed by 10 MB of text.
    """

    def __init__(self, rules: list[tuple[str, str]], reply="答案：A", delay: float = 0.0) -> None:
        """``reply`` is a string or a function of the prompt."""
        self.rules, self.reply, self.delay = rules, reply, delay
        self.hits: Counter = Counter()
        self.lock = threading.Lock()
        self.healed = False
        self.hang_seconds = 3.0
        self.seen_headers: list[dict] = []
        self.seen_bodies: list[dict] = []
        #: what ``GET /v1/models`` lists (None: no such route, as on a server that lists nothing)
        self.models: list[dict] | None = None

    def behaviour(self, prompt: str) -> tuple[str, int]:
        for needle, what in self.rules:
            if needle in prompt:
                with self.lock:
                    self.hits[needle] += 1
                    return ("ok" if self.healed else what), self.hits[needle]
        with self.lock:
            self.hits["other"] += 1
        return "ok", 0

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    @contextmanager
    def serving(self):
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, data: bytes, content_type="application/json", headers=()):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout the test asked for)

            def _completion(self, model: str, text, choices=None) -> bytes:
                """``text``: the content, or a dict of message fields plus an optional finish_reason
                (a reasoning parser's ``reasoning_content``, a reply cut by the length limit)."""
                fields = dict(text) if isinstance(text, dict) else {"content": text}
                finish = fields.pop("finish_reason", "stop")
                answer = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": choices
                    if choices is not None
                    else [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **fields}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                }
                return json.dumps(answer, ensure_ascii=False).encode()

            def do_GET(self):
                if script.models is None or not self.path.rstrip("/").endswith("/models"):
                    return self._send(404, b'{"error": {"message": "not found"}}')
                return self._send(200, json.dumps({"object": "list", "data": script.models}).encode())

            def do_POST(self):  # noqa: C901 - one branch per scripted fault
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.seen_headers.append(dict(self.headers))
                script.seen_bodies.append(body)
                prompt = "\n".join(m["content"] for m in body["messages"])
                what, n = script.behaviour(prompt)
                once = what.endswith("-once")
                if once and n > 1:
                    what = "ok"
                what = what.removesuffix("-once")
                text = script.reply(prompt) if callable(script.reply) else script.reply
                model = body["model"]
                if what == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if what == "500":
                    return self._send(500, b'{"error": {"message": "scripted failure"}}')
                if what == "429":
                    return self._send(
                        429, b'{"error": {"message": "slow down"}}', headers=[("Retry-After", "0")]
                    )
                if what == "hang":
                    time.sleep(script.hang_seconds)
                if what == "bad-json":
                    return self._send(200, b'{"choices": [{"message": ')
                if what == "empty-choices":
                    return self._send(200, self._completion(model, text, choices=[]))
                if what == "no-choices":
                    return self._send(200, b'{"id": "x", "object": "chat.completion"}')
                if what == "wrong-schema":
                    return self._send(200, self._completion(model, text, choices={"message": text}))
                if what == "html":
                    return self._send(200, b"<html><body>Bad gateway</body></html>", "text/html")
                if what == "401-echo":
                    echo = {"error": {"message": f"invalid key in {self.headers.get('authorization')}"}}
                    return self._send(401, json.dumps(echo).encode())
                if what == "huge":
                    text = text + "。" * (10 * 1024 * 1024 // 3)
                time.sleep(script.delay)
                return self._send(200, self._completion(model, text))

        with loopback(Handler) as url:
            yield f"{url}/v1"


@contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]):
    """A threaded HTTP server on a free loopback port for the ``with`` block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
