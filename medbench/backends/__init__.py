"""Model backends, one module each: ``hf``, ``hf-fast``, ``vllm``, ``vllm-fast``, ``openai``.

Every public module in this folder that names a ``BACKEND`` (a :class:`~medbench.backends.base.BackendConfig`
subclass) is a backend, and so is one an installed distribution declares under the entry-point group
``medbench.backends``: the registry below finds it, and the command line, ``run``, ``suite``, ``bias``
and ``demo`` use it with no other wiring. Modules starting with ``_`` are implementations, imported only
when their backend makes a model. Each backend's model is an lm-eval ``LM``, so tasks, caching and
scoring are the same whichever backend runs.

May import: core, config, data, models (medbench's packages).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from medbench.backends.base import BackendConfig
from medbench.config.bias import BiasConfig
from medbench.config.fields import flagged
from medbench.config.plugins import discover
from medbench.config.run import RunConfig
from medbench.config.suite import SuiteConfig
from medbench.core.errors import MedbenchError

#: names a backend option cannot take: the commands that load a model have flags of these names
RESERVED = frozenset(
    {*flagged(RunConfig), *flagged(SuiteConfig), *flagged(BiasConfig), "backend", "model_args", "dry_run"}
)


def _checked(backend: Any) -> type[BackendConfig]:
    """A backend class as declared (a BackendConfig subclass, a name, no reserved option name)."""
    if not (isinstance(backend, type) and issubclass(backend, BackendConfig)):
        raise MedbenchError(f"backend plug-in {backend!r} is not a BackendConfig subclass")
    clash = sorted(f.name for f in fields(backend) if f.name in RESERVED)
    if clash:
        raise MedbenchError(
            f"backend {backend.name} ({backend.__module__}): option {', '.join(clash)} has the name of a "
            "run flag; rename it (e.g. a prefix: server_" + clash[0] + ")"
        )
    return backend


def registry() -> dict[str, type[BackendConfig]]:
    """Backend name -> its config class: this package's modules and the entry-point group
    ``medbench.backends`` (:func:`medbench.config.plugins.discover`), in name order; two of one name, or an
    option named like a run flag, is one line."""
    found: dict[str, type[BackendConfig]] = {}
    for backend in map(_checked, discover(__name__, "BACKEND")):
        if backend.name in found:
            where = f"{found[backend.name].__module__}, {backend.__module__}"
            raise MedbenchError(f"backend {backend.name} is defined twice: {where}")
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
