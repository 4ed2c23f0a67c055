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
    from medbench.models import tiny_model_dir

    return str(tiny_model_dir())


@pytest.fixture(scope="session")
def served_tiny(tiny_model):
    """``transformers serve`` with the tiny model on a free loopback port, for the whole session."""
    from medbench.serve import transformers_serve

    with transformers_serve(tiny_model) as url:
        yield url
