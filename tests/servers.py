"""Real HTTP servers on loopback for the OpenAI-compatible backend tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from medbench.serve import free_port


class ScriptedChat:
    """A chat-completions server whose behaviour is scripted per prompt text; counts every hit.

    ``rules``: list of (substring, behaviour) where behaviour is "500" (always), "drop-once" (close the
    connection without answering the first time), or "500-once". Everything else gets ``reply``.
    """

    def __init__(self, rules: list[tuple[str, str]], reply="答案：A", delay: float = 0.0) -> None:
        """``reply`` is a string or a function of the prompt."""
        self.rules, self.reply, self.delay = rules, reply, delay
        self.hits: Counter = Counter()
        self.lock = threading.Lock()

    def behaviour(self, prompt: str) -> tuple[str, int]:
        for needle, what in self.rules:
            if needle in prompt:
                with self.lock:
                    self.hits[needle] += 1
                    return what, self.hits[needle]
        with self.lock:
            self.hits["other"] += 1
        return "ok", 0

    @contextmanager
    def serving(self):
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = "\n".join(m["content"] for m in body["messages"])
                what, n = script.behaviour(prompt)
                if what == "drop-once" and n == 1:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if what == "500" or (what == "500-once" and n == 1):
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "scripted failure"}}')
                    return
                text = script.reply(prompt) if callable(script.reply) else script.reply
                time.sleep(script.delay)
                answer = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()
