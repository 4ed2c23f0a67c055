"""What, besides the model itself, decides a model's answer to an item: the one record that names a
request cache (:func:`medbench.models.resolve.cache_key`) and splits leaderboard rows
(:attr:`medbench.report.folders.Folder.settings`).

It lives apart from :mod:`medbench.config.schemas` because it asks the backend registry which options a
backend declares ``answer=True``, and the backends themselves read schemas.
"""

from __future__ import annotations

from medbench.backends import registry
from medbench.config.schemas import ANSWER_SETTINGS


def answer_identity(config: dict) -> dict:
    """What, besides the model itself, decides a model's answer to an item, from a run's config:
    the answer settings, the backend, and the backend options its config class declares with
    ``answer=True`` (e.g. ``dtype``, ``max_reply_chars``). The request cache's file name and the
    leaderboard's row key both come from this one record."""
    identity = {k: config.get(k) for k in ANSWER_SETTINGS}
    backend = config.get("backend") or "hf"
    identity["backend"] = backend
    options = config.get("backend_options") or {}
    declared = registry().get(backend)
    answer_options = declared.answer_options() if declared else sorted(options)
    for name in answer_options:
        identity[name] = options.get(name) if isinstance(options, dict) else None
    return identity
