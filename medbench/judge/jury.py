"""The jury: several judges, each its own model, server, key, concurrency and timeout, and how their
verdicts combine into one.

MedHELM judges with a jury and Inspect and evalscope combine several graders; one judge alone is
fragile (it prefers longer answers, the first seat, its own family). Each judge is asked on its own
(its requests are cached under its own model, so adding a judge to a finished jury asks only the new
one) and reported on its own; the jury's verdict is the combination below, and an item with fewer
valid verdicts than ``--min-valid-judges`` is excluded and counted, never guessed.

- ``majority``: the outcome more than half of the valid judges gave; a split jury is a tie, as two
  orders that disagree are. Pointwise: the (lower) median score.
- ``mean``: the mean of the verdicts scored win 1, tie 0.5, loss 0 (above one half a win, below a
  loss). Pointwise: the mean score.
- ``unanimous``: the outcome every valid judge gave, else a tie. Pointwise: the score every judge
  gave, else the item is excluded and counted (``jury_split``).
"""

from __future__ import annotations

import ipaddress
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from medbench.core.errors import MedbenchError

#: a judge's name: it keys the reports' columns and the per-judge records
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}")
_SPEC = re.compile(r"(?P<name>[^=]*)=(?P<model>.+?)@(?P<url>https?://[^,\s]+)(?P<options>(,.*)?)")
_KEY_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class JudgeSpec:
    """One judge of a jury (a single ``--judge-model`` judge is a jury of one named ``judge``)."""

    name: str
    model: str
    base_url: str
    key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 120.0
    family: str | None = None
    price_in: float = 0.0  # per 1M prompt tokens
    price_out: float = 0.0  # per 1M completion tokens


def _option(spec: str, key: str, value: str) -> tuple[str, object]:
    """One ``key=value`` option of a ``--judge`` spec, checked."""
    try:
        if key == "key_env" and _KEY_ENV.fullmatch(value):
            return key, value
        if key == "concurrency" and int(value) >= 1:
            return key, int(value)
        if key == "timeout" and 0 < float(value) < 1e6:
            return key, float(value)
        if key == "family" and 0 < len(value) <= 100:
            return key, value
        if key in ("price_in", "price_out") and 0 <= float(value) < 1e9:
            return key, float(value)
    except ValueError:
        pass
    what = {
        "key_env": "an environment variable's name (A-Z, 0-9, _)",
        "concurrency": "a whole number, 1 or more",
        "timeout": "seconds, more than 0",
        "family": "a model family's name (1-100 characters)",
        "price_in": "a cost per 1M prompt tokens, 0 or more",
        "price_out": "a cost per 1M completion tokens, 0 or more",
    }
    if key not in what:
        raise MedbenchError(f"--judge {spec[:80]!r}: unknown option '{key[:40]}' (one of {', '.join(what)})")
    raise MedbenchError(f"--judge {spec[:80]!r}: {key} must be {what[key]} (got {value[:40]!r})")


def parse_judge(spec: str, defaults: dict) -> JudgeSpec:
    """``NAME=MODEL@URL[,key_env=VAR][,concurrency=N][,timeout=S][,family=F][,price_in=P,price_out=P]``
    -> a judge; the command's ``--concurrency``, ``--timeout`` and prices are the defaults of a judge
    that names none."""
    match = _SPEC.fullmatch(spec.strip())
    if not match:
        raise MedbenchError(
            f"--judge {spec[:80]!r}: expected NAME=MODEL@URL (e.g. gpt4=gpt-4o@https://api.openai.com/v1)"
        )
    name = match["name"].strip()
    if not _NAME.fullmatch(name):
        raise MedbenchError(
            f"--judge {spec[:80]!r}: the name {name[:60]!r} must be 1-40 letters, digits, . _ - "
            "(it names the judge's columns)"
        )
    options = {}
    for part in filter(None, (p.strip() for p in match["options"].split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise MedbenchError(f"--judge {spec[:80]!r}: option {part[:40]!r} is not KEY=VALUE")
        key, value = _option(spec, key.strip(), value.strip())
        options[key] = value
    return JudgeSpec(
        name=name,
        model=match["model"].strip(),
        base_url=match["url"],
        **{**defaults, **options},
    )


def server_of(url: str) -> str:
    """The server a URL reaches, spelled one way: ``http://localhost:8000/v1/``,
    ``http://127.0.0.1:8000/v1`` and ``http://[::1]:8000/v1`` are one server (any loopback name),
    as are a host in any case and its scheme's default port written or not."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # not a port: compared as written
        return url
    host = (parts.hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
        loopback = address.is_loopback or address.is_unspecified
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    return f"{parts.scheme.lower()}://{'loopback' if loopback else host}:{port}{parts.path.rstrip('/')}"


def jury_of(config) -> list[JudgeSpec]:
    """The judges a :class:`~medbench.config.judge.JudgeConfig` names: its ``--judge`` specs, else the
    one ``--judge-model`` at ``--base-url``; two judges of one name, or of one model at one server,
    are one line."""
    defaults = {k: getattr(config, k) for k in ("concurrency", "timeout", "price_in", "price_out")}
    if config.judges:
        if config.judge_model:
            raise MedbenchError("give either --judge (one per judge of a jury) or --judge-model, not both")
        judges = [parse_judge(s, defaults) for s in config.judges]
    elif config.judge_model and config.base_url:
        judges = [JudgeSpec("judge", config.judge_model, config.base_url, **defaults)]
    else:
        raise MedbenchError(
            "name the judge: --judge-model MODEL --base-url URL, or a jury with --judge NAME=MODEL@URL "
            "(repeatable)"
        )
    names = Counter(j.name for j in judges)
    servers = Counter((j.model, server_of(j.base_url)) for j in judges)
    if max(names.values()) > 1:
        raise MedbenchError(f"two judges are named '{names.most_common(1)[0][0]}': give each its own name")
    if max(servers.values()) > 1:
        model, server = servers.most_common(1)[0][0]
        urls = [j.base_url for j in judges if (j.model, server_of(j.base_url)) == (model, server)]
        raise MedbenchError(
            f"two judges are the same model '{model}' at {' and '.join(urls)} (one server): "
            "a juror counts once"
        )
    if config.min_valid_judges > len(judges):
        raise MedbenchError(
            f"--min-valid-judges {config.min_valid_judges} is more than the jury's {len(judges)} judge(s)"
        )
    return judges


def combine_verdicts(verdicts: list[str], how: str) -> str:
    """The jury's pairwise outcome from its judges' valid verdicts (at least one)."""
    if how == "majority":
        top, count = Counter(verdicts).most_common(1)[0]
        return top if 2 * count > len(verdicts) else "tie"
    if how == "mean":
        mean = sum(SCORE[v] for v in verdicts) / len(verdicts)
        return "win" if mean > 0.5 else "loss" if mean < 0.5 else "tie"
    return verdicts[0] if len(set(verdicts)) == 1 else "tie"


def combine_scores(scores: list[int], how: str) -> float | None:
    """The jury's pointwise score from its judges' valid scores (None: a unanimous jury split)."""
    if how == "majority":
        return statistics.median_low(scores)
    if how == "mean":
        return sum(scores) / len(scores)
    return scores[0] if len(set(scores)) == 1 else None
