"""``medbench judge``: pairwise win/tie/loss between two run folders with an LLM judge.

Rubrics are data (``judges/<name>.yaml``): per dimension a prompt (zh/en) and the verdict labels.
Every pair is judged in both orders by default; a verdict counts as a win (or loss) only if both orders
agree, otherwise it is a tie, and the position-consistency rate is reported (``--order random`` judges
one random order per item: half the cost, and said so). Items whose answer failed in either run (an
API error recorded in the run's samples) are not judged: an empty answer would lose every comparison;
they are counted as ``excluded_failed``. Requests run concurrently through :mod:`medbench.chatcall`
(retries on 429/5xx/timeouts and on replies that are not chat completions). A reply that names no
verdict (or two) is asked once more, then recorded as a parse failure. Every finished request is kept
in a persistent JSON cache keyed on (judge model, rubric and version, prompt) -- the prompt holds both
answers -- so a re-run makes no request for finished work and a killed judge resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from medbench import chatcall
from medbench.errors import MedbenchError
from medbench.mc import render_template
from medbench.paths import plugin_dir
from medbench.requestcache import MISS, open_cache
from medbench.rundir import RunFolder

OUTCOMES = ("win", "tie", "loss")
FLIP = {"win": "loss", "loss": "win", "tie": "tie"}


@dataclass
class JudgeConfig:
    runs: list[str]
    rubric: str
    judge_model: str
    base_url: str
    task: str | None = None
    lang: str = "zh"
    order: str = "both"  # both | random
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 120.0
    seed: int = 1234
    output: str = "runs"
    cache: str | None = None  # default <output>/.judge-cache.sqlite
    price_in: float = 0.0  # per 1M prompt tokens
    price_out: float = 0.0  # per 1M completion tokens


def load_rubric(name: str) -> dict:
    path = plugin_dir("judges") / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in plugin_dir("judges").glob("*.yaml")))
        raise MedbenchError(f"unknown rubric '{name}' (rubrics: {known})")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _samples(run: str, task: str | None) -> tuple[str, dict[str, dict]]:
    folder = Path(run)
    sample_dir = folder / "samples"
    if not (folder / "config.json").is_file() or not sample_dir.is_dir():
        raise MedbenchError(f"{run} is not a run folder with per-sample outputs (no config.json or samples/)")
    files = sorted(sample_dir.glob("*.jsonl"))
    if task:
        files = [f for f in files if f.stem == task]
    judged = [
        f
        for f in files
        if all("question" in json.loads(line) for line in f.read_text("utf-8").splitlines()[:1])
    ]
    if len(judged) != 1:
        names = ", ".join(f.stem for f in files) or "none"
        raise MedbenchError(f"{run}: pass --task with one generation task of the run (its tasks: {names})")
    records = [json.loads(line) for line in judged[0].read_text(encoding="utf-8").splitlines()]
    return judged[0].stem, {str(r["id"]): r for r in records}


def paired_items(run_a: str, run_b: str, task: str | None) -> tuple[str, list[tuple[dict, dict]], list[str]]:
    """The items both runs answered, matched by id (any mismatch is one clear error), and the ids of
    the items left out because their request failed in either run."""
    task_a, a = _samples(run_a, task)
    task_b, b = _samples(run_b, task or task_a)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise MedbenchError(
            f"item ids differ between the runs ({task_a}): {len(only_a)} only in {run_a} "
            f"(e.g. {only_a[:3]}), {len(only_b)} only in {run_b} (e.g. {only_b[:3]})"
        )
    failed = [k for k in a if "error" in a[k] or "error" in b[k]]
    return task_a, [(a[k], b[k]) for k in a if k not in failed], failed


def question_text(record: dict, lang: str) -> str:
    """The patient's question, with the dialogue history before it for multi-turn tasks."""
    roles = {"zh": ("患者：", "医生："), "en": ("Patient: ", "Doctor: ")}[lang]
    turns = [f"{roles[0] if r == 'patient' else roles[1]}{t}" for r, t in record.get("history") or []]
    return "\n".join([*turns, f"{roles[0]}{record['question']}"]) if turns else record["question"]


_CJK = "\u3400-\u9fff\uf900-\ufaff"


def _standalone(label: str) -> str:
    """A label as a whole token: a Latin label not inside a Latin word, a Chinese one not inside a
    Chinese word (``胜`` in ``回答1胜`` is a verdict; in ``胜任``, like ``平`` in ``水平``, it is not)."""
    letters = "A-Za-z" if label.isascii() else _CJK
    return rf"(?<![{letters}]){re.escape(label)}(?![{letters}])"


def parse_verdict(reply: str, labels: dict[str, str]) -> str | None:
    """The verdict a reply ends on, following the rubrics' output format (the label alone, at the end).

    The last line that names a label as a whole token decides, and it must name exactly one outcome;
    a label inside a word never counts. Anything else is None (asked again, then a parse failure).
    """
    patterns = {outcome: [] for outcome in labels.values()}
    for label, outcome in labels.items():
        patterns[outcome].append(re.compile(_standalone(label), re.IGNORECASE))
    for line in reversed((reply or "").splitlines()):
        found = {o for o, pats in patterns.items() if any(p.search(line) for p in pats)}
        if found:
            return found.pop() if len(found) == 1 else None
    return None


def _score(pattern: re.Pattern, text: str) -> str | None:
    """A pointwise score: the pattern's distinct captures must agree (one score), else None."""
    found = set(pattern.findall(text or ""))
    return found.pop() if len(found) == 1 else None


def combine(first: str | None, second_flipped: str | None) -> str | None:
    """Both orders, from A's side: agreement stands, disagreement is a tie; a failed order -> None."""
    if first is None or second_flipped is None:
        return None
    return first if first == second_flipped else "tie"


def bootstrap_rates(outcomes: list[str], seed: int, iterations: int = 2000) -> dict[str, list[float]]:
    """95% percentile intervals of the win/tie/loss rates, resampling items."""
    rng = random.Random(seed)
    draws = {o: [] for o in OUTCOMES}
    for _ in range(iterations):
        sample = rng.choices(outcomes, k=len(outcomes))
        for o in OUTCOMES:
            draws[o].append(sample.count(o) / len(sample))
    out = {}
    for o, values in draws.items():
        values.sort()
        out[o] = [values[int(0.025 * iterations)], values[int(0.975 * iterations) - 1]]
    return out


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: int = 0
    errors: list[str] = field(default_factory=list)


class Judge:
    """Cached, concurrent chat-completion calls that return a parsed verdict per prompt."""

    def __init__(self, config: JudgeConfig, rubric: dict) -> None:
        self.config, self.rubric = config, rubric
        if rubric.get("kind") == "pointwise":
            pattern = re.compile(rubric["score_pattern"])
            self.parse = lambda text: _score(pattern, text)
        else:
            labels = rubric["verdicts"][config.lang]
            self.parse = lambda text: parse_verdict(text, labels)
        self.cache = open_cache(config.cache or str(Path(config.output) / ".judge-cache.sqlite"))
        self.usage = Usage()

    def key(self, prompt: str) -> str:
        ident = [self.config.judge_model, self.rubric["rubric"], self.rubric.get("version"), prompt]
        return hashlib.sha256(json.dumps(ident, ensure_ascii=False).encode()).hexdigest()

    async def _ask(self, client, gate, prompt: str) -> dict:
        key = self.key(prompt)
        cached = self.cache.get(key, MISS)
        if isinstance(cached, dict) and isinstance(cached.get("replies"), list) and "verdict" in cached:
            self.usage.cached += 1
            return cached
        replies = []
        async with gate:
            for _ in range(2):  # a reply with no verdict is asked once more
                body = {
                    "model": self.config.judge_model,
                    "temperature": 0.0,
                    "max_tokens": 256,
                    "messages": [{"role": "user", "content": prompt}],
                }
                try:
                    reply = await chatcall.complete(client, body, self.config.max_retries)
                except Exception as exc:  # retried already; not cached, re-asked next run
                    error = chatcall.describe(exc)
                    self.usage.errors.append(error)
                    return {"replies": replies, "verdict": None, "error": error}
                self.usage.requests += 1
                self.usage.prompt_tokens += reply.prompt_tokens
                self.usage.completion_tokens += reply.completion_tokens
                replies.append(reply.text)
                verdict = self.parse(reply.text)
                if verdict:
                    break
        result = {"replies": replies, "verdict": verdict, "error": None}
        self.cache[key] = result
        return result

    async def ask_all(self, prompts: list[str]) -> list[dict]:
        client = chatcall.client(self.config.base_url, self.config.max_retries, self.config.timeout)
        gate = asyncio.Semaphore(self.config.concurrency)
        try:
            return await asyncio.gather(*(self._ask(client, gate, p) for p in prompts))
        finally:
            await client.close()


def _ask(config: JudgeConfig, rubric: dict, task: str, plan: list[tuple], slot: str):
    """Ask the judge every planned prompt; record each raw exchange in a new judge folder."""
    judge = Judge(config, rubric)
    results = asyncio.run(judge.ask_all([p for *_, p in plan]))
    folder = RunFolder.create(Path(config.output), f"judge-{config.rubric}")
    folder.write_json("config.json", {"kind": "judge", "task": task, **asdict(config)})
    with open(folder.path / "requests.jsonl", "w", encoding="utf-8") as fh:
        for (item, dim, which, prompt), result in zip(plan, results, strict=True):
            record = {"id": item, "dimension": dim, slot: which, "prompt": prompt, **result}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return judge, folder, results


def _finish(folder: RunFolder, summary: dict, judge: Judge, config: JudgeConfig, entries: list[dict]):
    """Usage and cost, the per-item verdicts, the summary, its table and chart."""
    summary["usage"] = _usage(judge.usage, config)
    with open(folder.path / "verdicts.jsonl", "w", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    folder.write_json("summary.json", summary)
    (folder.path / "results.md").write_text(markdown(summary), encoding="utf-8")
    plot(summary, folder.path / "judge")
    return folder, summary


def run_judge(config: JudgeConfig) -> tuple[RunFolder, dict]:
    if len(config.runs) != 2:
        raise MedbenchError("medbench judge compares exactly two runs: --runs RUN_A RUN_B")
    if config.order not in ("both", "random"):
        raise MedbenchError(f"unknown order '{config.order}' (both or random)")
    rubric = load_rubric(config.rubric)
    if any(config.lang not in d["prompt"] for d in rubric["dimensions"]):
        raise MedbenchError(f"rubric {config.rubric} has no '{config.lang}' prompt")
    if rubric.get("kind") == "pointwise":
        return run_pointwise(config, rubric)
    task, pairs, failed = paired_items(*config.runs, config.task)
    rng = random.Random(config.seed)
    plan = []  # (item id, dimension, A-first?, prompt)
    for a, b in pairs:
        question = question_text(a, config.lang)
        orders = [True, False] if config.order == "both" else [rng.random() < 0.5]
        for dim in rubric["dimensions"]:
            for a_first in orders:
                first, second = (a, b) if a_first else (b, a)
                prompt = render_template(
                    dim["prompt"][config.lang],
                    {
                        "question": question,
                        "answer1": first["raw"] or "",
                        "answer2": second["raw"] or "",
                        "reference": a.get("reference", ""),
                    },
                )
                plan.append((str(a["id"]), dim["name"], a_first, prompt))
    judge, folder, results = _ask(config, rubric, task, plan, "a_first")
    name_a, name_b = (Path(r).name for r in config.runs)
    verdicts: dict[tuple[str, str], dict] = {}
    for (item, dim, a_first, _), result in zip(plan, results, strict=True):
        v = result["verdict"]
        entry = verdicts.setdefault((item, dim), {"id": item, "dimension": dim})
        entry["a_first" if a_first else "b_first"] = v if a_first or v is None else FLIP[v]
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    summary = {
        "task": task,
        "model_a": name_a,
        "model_b": name_b,
        "rubric": config.rubric,
        "order": config.order,
        "excluded_failed": len(failed),
        "excluded_failed_ids": failed,
        "dimensions": {},
    }
    for dim in (d["name"] for d in rubric["dimensions"]):
        entries = [e for (item, d), e in verdicts.items() if d == dim]
        finals, consistent, both = [], 0, 0
        for e in entries:
            if config.order == "both":
                e["final"] = combine(e.get("a_first"), e.get("b_first"))
                if e.get("a_first") and e.get("b_first"):
                    both += 1
                    consistent += e["a_first"] == e["b_first"]
            else:
                e["final"] = e.get("a_first") or e.get("b_first")
            if e["final"]:
                finals.append(e["final"])
        rates = {o: finals.count(o) / len(finals) if finals else None for o in OUTCOMES}
        summary["dimensions"][dim] = {
            "items": len(entries),
            "judged": len(finals),
            "parse_failures": sum(1 for e in entries if e["final"] is None and not e.get("errors")),
            "request_errors": sum(1 for e in entries if e.get("errors")),
            "rates": rates,
            "ci95": bootstrap_rates(finals, config.seed) if finals else None,
            "position_consistency": consistent / both if both else None,
        }
    return _finish(folder, summary, judge, config, list(verdicts.values()))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


PROTOCOLS = {
    "both": "both orders",
    "random": "one random order per item, half the cost",
    "pointwise": "pointwise: each answer rated on its own, scores compared item by item",
}


def markdown(summary: dict) -> str:
    lines = [
        f"{summary['model_a']} vs {summary['model_b']} on {summary['task']} ({summary['rubric']}, "
        f"{PROTOCOLS[summary['order']]})",
        "",
        *(
            [
                f"{summary['excluded_failed']} item(s) not judged: their answer failed in a run "
                f"(ids {', '.join(summary['excluded_failed_ids'][:10])}).",
                "",
            ]
            if summary.get("excluded_failed")
            else []
        ),
        "| Dimension | Judged | Win | Tie | Loss | Win 95% CI | Position consistency | Parse failures "
        "| Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dim, s in summary["dimensions"].items():
        r = s["rates"]
        ci = "" if not s["ci95"] else f"[{100 * s['ci95']['win'][0]:.1f}, {100 * s['ci95']['win'][1]:.1f}]"
        rates = f"{_pct(r['win'])} | {_pct(r['tie'])} | {_pct(r['loss'])}"
        lines.append(
            f"| {dim} | {s['judged']}/{s['items']} | {rates} | {ci} | {_pct(s['position_consistency'])} | "
            f"{s['parse_failures']} | {s['request_errors']} |"
        )
    means = {d: s["mean_score"] for d, s in summary["dimensions"].items() if s.get("mean_score")}
    if means:
        lines += ["", "| Dimension | Mean score A | Mean score B |", "|---|---:|---:|"]
        lines += [f"| {d} | {_num(m['a'])} | {_num(m['b'])} |" for d, m in means.items()]
    u = summary["usage"]
    lines += [
        "",
        f"Judge requests: {u['requests']} (cached: {u['cached']}), tokens {u['prompt_tokens']} in / "
        f"{u['completion_tokens']} out, estimated cost {u['estimated_cost']:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    """Stacked win/tie/loss bars per dimension (Zhongjing Figure 4 style)."""
    from medbench.plotting import pyplot

    plt = pyplot()

    dims = [d for d, s in summary["dimensions"].items() if s["judged"]]
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.5 * max(len(dims), 1)))
    left = [0.0] * len(dims)
    for outcome, color in zip(OUTCOMES, ("#4C72B0", "#C0C0C0", "#DD8452"), strict=True):
        values = [100 * (summary["dimensions"][d]["rates"][outcome] or 0) for d in dims]
        ax.barh(dims, values, left=left, color=color, label=outcome)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of items: {summary['model_a']} vs {summary['model_b']}")
    ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)


def run_pointwise(config: JudgeConfig, rubric: dict) -> tuple[RunFolder, dict]:
    """Each answer rated on its own per dimension (e.g. 1-3); scores compared item by item."""
    task, pairs, failed = paired_items(*config.runs, config.task)
    plan = []  # (item id, dimension, side, prompt)
    for a, b in pairs:
        question = question_text(a, config.lang)
        for dim in rubric["dimensions"]:
            for side, record in (("a", a), ("b", b)):
                prompt = render_template(
                    dim["prompt"][config.lang],
                    {
                        "question": question,
                        "answer": record["raw"] or "",
                        "reference": a.get("reference", ""),
                    },
                )
                plan.append((str(a["id"]), dim["name"], side, prompt))
    judge, folder, results = _ask(config, rubric, task, plan, "side")
    name_a, name_b = (Path(r).name for r in config.runs)
    scores: dict[tuple[str, str], dict] = {}
    for (item, dim, side, _), result in zip(plan, results, strict=True):
        entry = scores.setdefault((item, dim), {"id": item, "dimension": dim})
        entry[side] = None if result["verdict"] is None else int(result["verdict"])
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    summary = {
        "task": task,
        "model_a": name_a,
        "model_b": name_b,
        "rubric": config.rubric,
        "order": "pointwise",
        "excluded_failed": len(failed),
        "excluded_failed_ids": failed,
        "dimensions": {},
    }
    for dim in (d["name"] for d in rubric["dimensions"]):
        entries = [e for (item, d), e in scores.items() if d == dim]
        both = [e for e in entries if e.get("a") is not None and e.get("b") is not None]
        outcomes = ["win" if e["a"] > e["b"] else "loss" if e["a"] < e["b"] else "tie" for e in both]
        means = {}
        for side in ("a", "b"):
            values = [e[side] for e in entries if e.get(side) is not None]
            means[side] = sum(values) / len(values) if values else None
        summary["dimensions"][dim] = {
            "items": len(entries),
            "judged": len(both),
            "mean_score": means,
            "parse_failures": sum(
                (e.get("a") is None) + (e.get("b") is None) - len(e.get("errors", [])) for e in entries
            ),
            "request_errors": sum(len(e.get("errors", [])) for e in entries),
            "rates": {o: outcomes.count(o) / len(outcomes) if outcomes else None for o in OUTCOMES},
            "ci95": bootstrap_rates(outcomes, config.seed) if outcomes else None,
            "position_consistency": None,
        }
    return _finish(folder, summary, judge, config, list(scores.values()))


def _usage(usage: Usage, config: JudgeConfig) -> dict:
    return {
        "requests": usage.requests,
        "cached": usage.cached,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "estimated_cost": (usage.prompt_tokens * config.price_in + usage.completion_tokens * config.price_out)
        / 1e6,
    }
