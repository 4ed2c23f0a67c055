"""Backend flags, generated from the backends' typed configs: ``--backend``, ``--model-args KEY=VAL,...``
and one ``--option`` per config field (``--device``, ``--base-url``, ``--tensor-parallel-size``, ...).

Every command that loads a model (``run``, ``suite``, ``bias``, ``demo``) adds the same flags, so a
new backend's options appear everywhere at once. A flag that belongs to another backend than the one
chosen is an error, never silently ignored.
"""

from __future__ import annotations

import argparse
from typing import Any

from medbench.backends import backend_class, registry
from medbench.core.errors import MedbenchError


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _owners() -> dict[str, tuple[type, str, list[str]]]:
    """Each option of any backend: (type, help, the backends that have it)."""
    owners: dict[str, tuple[type, str, list[str]]] = {}
    for name, cls in registry().items():
        for option, (kind, _, text) in cls.options().items():
            owners.setdefault(option, (kind, text, []))[2].append(name)
    return owners


def _bool(value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value.lower() in ("true", "1", "yes")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--model-args`` and every backend option as a flag (default: the backend's)."""
    backends = registry()
    listing = "; ".join(f"{name}: {cls.summary}" for name, cls in backends.items())
    group = parser.add_argument_group("backend", "the model backend and its options")
    group.add_argument("--backend", default="hf", choices=list(backends), help=listing)
    group.add_argument(
        "--model-args",
        default="",
        metavar="KEY=VAL,...",
        help="options of the chosen backend by name (e.g. device=cuda:1,batch_size=16)",
    )
    repeatable = set().union(*(cls.repeatable() for cls in backends.values()))
    for option, (kind, text, names) in _owners().items():
        group.add_argument(
            _flag(option),
            dest=option,
            type=_bool if kind is bool else kind,
            default=None,
            action="append" if option in repeatable else "store",
            help=f"{text} [{', '.join(names)}]" + (" (may be repeated)" if option in repeatable else ""),
        )


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The judge's own chat client: the ``openai`` backend's options (not its model name: the judge
    names its model with ``--judge-model``), with that backend's defaults; ``--base-url`` is required
    unless a jury names each judge's server (``--judge``), which the judge checks."""
    from medbench.backends.openai_api import OpenAIConfig

    group = parser.add_argument_group("judge client", "the judge's OpenAI-compatible server")
    for option, (kind, default, text) in OpenAIConfig.options().items():
        if option != "model_name":
            group.add_argument(_flag(option), dest=option, type=kind, default=default, help=text)


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The judge client's option values from its flags (:func:`add_client_arguments`)."""
    from medbench.backends.openai_api import OpenAIConfig

    return {o: getattr(args, o) for o in OpenAIConfig.options() if o != "model_name"}


def parse_model_args(text: str) -> dict[str, str]:
    """``KEY=VAL,KEY=VAL`` -> dict (values stay strings; the backend's config converts them)."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise MedbenchError(f"--model-args: '{part}' is not KEY=VAL")
        pairs[key.strip()] = value.strip()
    return pairs


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen backend's options from its flags and ``--model-args`` (a flag of another backend, or
    the same option given both ways, is one line)."""
    chosen = backend_class(args.backend).options()
    given = {o: getattr(args, o) for o in _owners() if getattr(args, o, None) is not None}
    given = {o: ",".join(v) if isinstance(v, list) else v for o, v in given.items()}
    for option in given:
        if option not in chosen:
            owners = ", ".join(_owners()[option][2])
            raise MedbenchError(f"{_flag(option)} is an option of backend {owners}, not of {args.backend}")
    extra = parse_model_args(args.model_args)
    both = sorted(set(extra) & set(given))
    if both:
        raise MedbenchError(f"{', '.join(both)} given both as a flag and in --model-args")
    return {**extra, **given}
