"""What a server says about the model it serves, asked once before any item is sent.

A served model's name alone is not the model: vLLM serves every checkpoint under the name it is given
(``--served-model-name``), so two servers of two different models can share one name. The server's
own ``/v1/models`` entry for that name (vLLM: ``root``, the checkpoint it loaded, ``max_model_len``)
goes into the model's fingerprint, and so into the request cache's key and the leaderboard's row key.

The same call tells, in one line, that nothing answers at the address (instead of every item failing
after its retries), or that the server serves no model of that name.
"""

from __future__ import annotations

import os

from medbench.errors import MedbenchError


class Unreachable(MedbenchError):
    """Nothing answers at the address (a replica pool fails over past it)."""


#: the fields of a ``/v1/models`` entry that describe the model (not when it was listed, nor its
#: permissions, whose ids change on every call)
DESCRIBING = ("id", "root", "parent", "max_model_len", "owned_by")


def served_model(base_url: str, name: str, timeout: float = 10.0, key_env: str = "OPENAI_API_KEY") -> dict:
    """The ``/v1/models`` entry of ``name`` at ``base_url``, its describing fields only.

    A server that does not list its models (no ``/v1/models``: an HTTP error) is recorded as such and
    not refused; one that cannot be reached, or lists models but not this one, is one line.
    """
    import httpx

    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {os.environ[key_env]}"} if os.environ.get(key_env) else {}
    try:
        reply = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise Unreachable(
            f"the server at {base_url} does not answer ({type(exc).__name__}): is it running, and is "
            "--base-url its address (e.g. http://127.0.0.1:8000/v1)?"
        ) from None
    if reply.status_code != 200:
        return {"listed": f"HTTP {reply.status_code} on /models"}
    try:
        entries = reply.json().get("data")
    except (ValueError, AttributeError):
        entries = None
    if not isinstance(entries, list):
        return {"listed": "no model list on /models"}
    names = [e.get("id") for e in entries if isinstance(e, dict)]
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == name:
            return {k: entry[k] for k in DESCRIBING if k in entry and isinstance(entry[k], (str, int, float))}
    shown = ", ".join(str(n)[:80] for n in names[:10]) or "none"
    raise MedbenchError(
        f"the server at {base_url} serves no model named {name[:80]!r} (it serves: {shown}); "
        "give the served name with --model-name"
    )
