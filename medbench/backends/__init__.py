"""Model backends, one module each: ``hf``, ``hf-fast``, ``vllm``, ``vllm-fast``, ``openai``.

Every public module in this folder that names a ``BACKEND`` (a :class:`~medbench.backends.base.BackendConfig`
subclass) is a backend: the registry below finds it, and the command line, ``run``, ``suite``, ``bias``
and ``demo`` use it with no other wiring. Modules starting with ``_`` are implementations, imported only
when their backend makes a model. Each backend's model is an lm-eval ``LM``, so tasks, caching and
scoring are the same whichever backend runs.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from medbench.backends.base import BackendConfig
from medbench.errors import MedbenchError


def registry() -> dict[str, type[BackendConfig]]:
    """Backend name -> its config class, from the modules in this package (in name order)."""
    found: dict[str, type[BackendConfig]] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        backend = getattr(importlib.import_module(f"{__name__}.{module.name}"), "BACKEND", None)
        if backend is not None:
            found[backend.name] = backend
    return dict(sorted(found.items()))


def backend_class(name: str) -> type[BackendConfig]:
    backends = registry()
    if name not in backends:
        raise MedbenchError(f"unknown backend '{name}' (available: {', '.join(backends)})")
    return backends[name]


def backend_config(name: str, options: dict[str, Any] | None = None) -> BackendConfig:
    """The typed, validated config of backend ``name`` from option values (flags or --model-args)."""
    return backend_class(name).from_options(options or {})
