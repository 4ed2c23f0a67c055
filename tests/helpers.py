"""Small helpers shared by tests: load a task's data exactly as lm-eval would."""

from __future__ import annotations

from pathlib import Path

from medbench.catalog import load_task_data as _load
from medbench.runner import task_manager


def load_task_data(name: str, data_dir: Path | str, **metadata):
    """Call the task's custom_dataset hook with its own metadata plus run metadata, as lm-eval does."""
    return _load(task_manager(), name, {"data_dir": str(data_dir), **metadata})
