"""What a server says about the model it serves, asked once before any item is sent.

A served model's name alone is not the model: vLLM serves every checkpoint under the name it is given
(``--served-model-name``), so two servers of two different models can share one name. The server's
own ``/v1/models`` entry for that name (vLLM: ``root``, the checkpoint it loaded, ``max_model_len``)
goes into the model's fingerprint, and so into the request cache's key and the leaderboard's row key.
Many other servers list only the name (no ``root`` or ``parent``), or list nothing: their listing
cannot tell two models apart, so the server's address joins the record (a run re-started elsewhere
asks again rather than reuse another model's answers), and the run says so in one warning.

The same call tells, in one line, that nothing answers at the address (instead of every item failing
after its retries), or that the server serves no model of that name.
"""

from __future__ import annotations

import logging
import os

from medbench.core.errors import MedbenchError

log = logging.getLogger(__name__)


class Unreachable(MedbenchError):
    """Nothing answers at the address (a replica pool fails over past it)."""


#: the fields of a ``/v1/models`` entry that describe the model (not when it was listed, nor its
#: permissions, whose ids change on every call)
DESCRIBING = ("id", "root", "parent", "max_model_len", "owned_by")

#: the fields that say which checkpoint is behind a served name (vLLM's ``root``, a fine-tune's
#: ``parent``); a listing with neither tells nothing a second server of another model would not
IDENTIFYING = ("root", "parent")


def served_model(base_url: str, name: str, timeout: float = 10.0, key_env: str = "OPENAI_API_KEY") -> dict:
    """The ``/v1/models`` entry of ``name`` at ``base_url``, its describing fields only.

    A server that does not list its models (no ``/v1/models``: an HTTP error) is recorded as such and
    not refused; one that cannot be reached, or lists models but not this one, is one line. Where the
    record does not identify the model (:func:`pinned`), it holds the server's address too.
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
        return pinned({"listed": f"HTTP {reply.status_code} on /models"}, base_url, name)
    try:
        entries = reply.json().get("data")
    except (ValueError, AttributeError):
        entries = None
    if not isinstance(entries, list):
        return pinned({"listed": "no model list on /models"}, base_url, name)
    names = [e.get("id") for e in entries if isinstance(e, dict)]
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == name:
            described = {
                k: entry[k] for k in DESCRIBING if k in entry and isinstance(entry[k], (str, int, float))
            }
            return pinned(described, base_url, name)
    shown = ", ".join(str(n)[:80] for n in names[:10]) or "none"
    raise MedbenchError(
        f"the server at {base_url} serves no model named {name[:80]!r} (it serves: {shown}); "
        "give the served name with --model-name"
    )


def pinned(described: dict, base_url: str, name: str) -> dict:
    """``described``, and where it names no checkpoint (:data:`IDENTIFYING`) the server's address
    (``server``) with why (``keyed_on_server``), said in one warning: two servers that list only
    one name may serve two models, and keyed on the name alone the second would be given the first's
    cached answers."""
    if any(k in described for k in IDENTIFYING):
        return described
    why = f"its /v1/models does not say which model {name[:80]!r} is (no root or parent)"
    log.warning(
        "the server at %s does not say which model %r is (no root or parent in its /v1/models): its "
        "answers are cached for this address only (a run against another address asks again)",
        base_url,
        name[:80],
    )
    return {**described, "server": base_url, "keyed_on_server": why}
