"""A local OpenAI-compatible server for a checkpoint: ``transformers serve`` on a free loopback port.

Used by ``medbench demo`` (its judge step) and by the tests; needs ``transformers[serving]``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from medbench.errors import MedbenchError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("fastapi", "uvicorn"))


@contextmanager
def transformers_serve(model_dir: str, startup_s: float = 180):
    """``transformers serve MODEL`` on a free loopback port; yields the base URL, stops it after."""
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [str(exe), "serve", model_dir, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + startup_s
        while True:
            if proc.poll() is not None:
                raise MedbenchError(f"transformers serve exited: {proc.stderr.read().decode()[-300:]}")
            try:
                urllib.request.urlopen(f"{base}/v1/models", timeout=5).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise MedbenchError("transformers serve did not start in time") from None
                time.sleep(1)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
