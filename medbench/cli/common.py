"""What several commands share: the run settings from the flags, and a finished folder's results."""

from __future__ import annotations

import argparse

from medbench.core.errors import MedbenchError


def model_and_backend(args: argparse.Namespace) -> dict:
    """``model``, ``backend`` and ``backend_options`` from the flags; a local backend needs --model."""
    from medbench.backends import backend_class
    from medbench.backends.flags import backend_options

    options = backend_options(args)
    model = args.model or options.get("model_name")
    if not model:
        if backend_class(args.backend).capabilities.local:
            raise MedbenchError("--model is required (a checkpoint folder, hub id, tiny or smollm2-135m)")
        raise MedbenchError(f"backend {args.backend} needs --model or --model-name (the served model's name)")
    return {"model": model, "backend": args.backend, "backend_options": options}


def run_config(args: argparse.Namespace):
    from medbench.config.fields import from_args
    from medbench.config.run import RunConfig

    return RunConfig(**{**from_args(RunConfig, args), **model_and_backend(args)})


def print_result(folder, label: str) -> int:
    """The folder's results.md, less its opening WARNING lines (the console showed each as it was
    logged: once is enough), and where the folder is."""
    from medbench.config.record import RunRecord

    table = RunRecord.open(folder.path).results_markdown()
    lines = table.splitlines(keepends=True)
    while lines and lines[0].startswith(("WARNING: ", "  ")):  # a warning and its wrapped lines
        lines.pop(0)
    print("".join(lines).lstrip("\n"), end="")
    print(f"\n{label}: {folder.path}")
    return 0
