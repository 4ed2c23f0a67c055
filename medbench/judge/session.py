"""A judge session: the config, the cached concurrent client of each judge of the jury, and the judge
folder it writes.

Every finished request is kept in a persistent JSON cache keyed on (judge model -- its name and what
its server says of it --, rubric and version, prompt) -- the prompt holds both answers -- so a re-run
makes no request for finished work. A cached
entry is read like user input: its replies must be text, and its verdict the one this rubric's parser
reads from them (so a planted verdict of 99 on a 1-3 rubric, or "banana", is a miss, counted as
``cache_rejected`` in the usage record, and asked again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from medbench.config.judge import JudgeConfig
from medbench.core.errors import MedbenchError
from medbench.core.writing import replacing, write_text
from medbench.judge import readable
from medbench.judge.jury import JudgeSpec, jury_of
from medbench.judge.plots import judge_bars
from medbench.judge.present import markdown
from medbench.judge.rubric import parse_verdict, score_of
from medbench.models import chatcall, thinking
from medbench.models.requestcache import MISS, open_cache
from medbench.models.served import served_model
from medbench.run.rundir import RunFolder


class Judge:
    """Cached, concurrent chat-completion calls that return a parsed verdict per prompt."""

    def __init__(self, spec: JudgeSpec, config: JudgeConfig, rubric: dict, cache) -> None:
        self.spec, self.config, self.rubric = spec, config, rubric
        if spec.key_env != "OPENAI_API_KEY" and not os.environ.get(spec.key_env):
            raise MedbenchError(f"judge {spec.name}: its key variable {spec.key_env} is not set")
        if rubric.get("kind") == "pointwise":
            pattern = re.compile(rubric["score_pattern"])
            self.parse = lambda text: score_of(pattern, text)
        else:
            labels = rubric["verdicts"][config.lang]
            self.parse = lambda text: parse_verdict(
                text, labels, rubric.get("answer_names", {}).get(config.lang)
            )
        # what the judge's server says of the model it serves under that name: two servers of two
        # judges under one name share no verdicts (and a server that does not answer is one line)
        self.served = served_model(spec.base_url, spec.model, min(spec.timeout, 30.0), spec.key_env)
        self.cache = cache  # one file; each judge's entries keyed on its own model
        self.usage = chatcall.Usage()

    def key(self, prompt: str) -> str:
        judge = [self.spec.model, self.served]
        ident = [judge, self.rubric["rubric"], self.rubric.get("version"), prompt]
        return hashlib.sha256(json.dumps(ident, ensure_ascii=False).encode()).hexdigest()

    def read(self, text: str) -> str | None:
        """The verdict of one reply: a reasoning judge's is in its answer only, never its thinking."""
        judged = thinking.split(text)
        return None if judged.unfinished else self.parse(judged.answer)

    def _valid(self, cached) -> bool:
        """A cached entry as :meth:`_ask` writes it: one or two replies (text), no error, and the
        verdict this rubric reads from the last of them."""
        if not isinstance(cached, dict) or set(cached) != {"replies", "verdict", "error"}:
            return False
        replies = cached["replies"]
        if not (
            isinstance(replies, list) and 1 <= len(replies) <= 2 and all(isinstance(r, str) for r in replies)
        ):
            return False
        return cached["error"] is None and cached["verdict"] == self.read(replies[-1])

    async def _ask(self, client, gate, prompt: str) -> dict:
        key = self.key(prompt)
        cached = self.cache.get(key, MISS)
        if cached is not MISS:
            if self._valid(cached):
                self.usage.cached += 1
                return cached
            self.usage.cache_rejected += 1
        replies = []
        async with gate:
            for _ in range(2):  # a reply with no verdict is asked once more
                body = {
                    "model": self.spec.model,
                    "temperature": 0.0,
                    "max_tokens": 256,
                    "messages": [{"role": "user", "content": prompt}],
                }
                try:
                    reply = await chatcall.complete(
                        client, body, self.config.max_retries, self.config.max_reply_chars
                    )
                except Exception as exc:  # retried already; not cached, re-asked next run
                    error = chatcall.describe(exc)
                    self.usage.failures.append({"error": error})
                    return {"replies": replies, "verdict": None, "error": error}
                self.usage.add(reply)
                text = thinking.tagged(reply.reasoning, reply.text, reply.cut_off)
                replies.append(text)
                verdict = self.read(text)
                if verdict:
                    break
        result = {"replies": replies, "verdict": verdict, "error": None}
        self.cache[key] = result
        return result

    async def ask_all(self, prompts: list[str]) -> list[dict]:
        spec = self.spec
        client = chatcall.client(spec.base_url, self.config.max_retries, spec.timeout, spec.key_env)
        gate = asyncio.Semaphore(spec.concurrency)
        try:
            from tqdm.asyncio import tqdm_asyncio  # a row of the live display in a terminal

            asks = [self._ask(client, gate, p) for p in prompts]
            return await tqdm_asyncio.gather(*asks, desc=f"Judge {spec.name}", total=len(asks))
        finally:
            await client.close()


async def _ask_jury(judges: list[Judge], prompts: list[str]) -> list[list[dict]]:
    """Every judge asked at once, each through its own client and concurrency limit."""
    return list(await asyncio.gather(*(j.ask_all(prompts) for j in judges)))


def ask(config: JudgeConfig, rubric: dict, task: str, plan: list[tuple], slot: str):
    """Ask every judge of the jury every planned prompt; record each raw exchange in a new judge
    folder. Returns the judges, the folder and each judge's results by name."""
    cache = open_cache(config.cache or str(Path(config.output) / ".judge-cache.sqlite"))
    judges = [Judge(spec, config, rubric, cache) for spec in jury_of(config)]
    try:
        answers = asyncio.run(_ask_jury(judges, [p for *_, p in plan]))
    finally:
        cache.close()
    results = {j.spec.name: r for j, r in zip(judges, answers, strict=True)}
    folder = RunFolder.create(Path(config.output), f"judge-{config.rubric}")
    served = {j.spec.name: j.served for j in judges}
    folder.write_config(
        {
            "kind": "judge",
            "task": task,
            **asdict(config),
            "jury": [asdict(j.spec) for j in judges],
            "judge_served": served if len(judges) > 1 else judges[0].served,
        }
    )
    with replacing(folder.path / "requests.jsonl") as fh:
        for name, answered in results.items():
            for (item, dim, which, prompt), result in zip(plan, answered, strict=True):
                record = {
                    "judge": name,
                    "id": item,
                    "dimension": dim,
                    slot: which,
                    "prompt": prompt,
                    **result,
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return judges, folder, results


def summary_head(config: JudgeConfig, task: str, order: str, failed: list[str]) -> dict:
    """What every judge summary starts with: the two runs, the rubric, the protocol, the exclusions."""
    name_a, name_b = (Path(r).name for r in config.runs)
    return {
        "task": task,
        "model_a": name_a,
        "model_b": name_b,
        "rubric": config.rubric,
        "order": order,
        "excluded_failed": len(failed),
        "excluded_failed_ids": failed,
        "dimensions": {},
    }


def tables(summary: dict, config: JudgeConfig, entries: list[dict], per_judge: dict, stats, dims: list[str]):
    """The jury's statistics per dimension and, for a jury of several, each judge's own (``stats``:
    one dimension's records -> its statistics). Items decided without a request count for every
    judge alike."""

    def by_dimension(records: list[dict]) -> dict[str, dict]:
        return {d: stats([e for e in records if e["dimension"] == d], config.seed) for d in dims}

    summary["dimensions"] = by_dimension(entries)
    if len(per_judge) > 1:
        summary["aggregate"], summary["min_valid_judges"] = config.aggregate, config.min_valid_judges
        decided = [e for e in entries if "decided" in e]
        summary["judges"] = {
            name: {
                "dimensions": by_dimension(
                    [{"id": i, "dimension": d, **e} for (i, d), e in own.items()] + decided
                )
            }
            for name, own in per_judge.items()
        }


def finish(folder: RunFolder, summary: dict, judges: list[Judge], config: JudgeConfig, entries: list[dict]):
    """Usage and cost (each judge's and the jury's), the per-item verdicts, the summary, its table and
    chart."""
    total = chatcall.Usage()
    for judge in judges:
        for field in ("requests", "cached", "cache_rejected", "prompt_tokens", "completion_tokens"):
            setattr(total, field, getattr(total, field) + getattr(judge.usage, field))
        total.failures += judge.usage.failures
        if len(judges) > 1:
            summary["judges"][judge.spec.name]["usage"] = usage_record(judge.usage, cost(judge))
    summary["usage"] = usage_record(total, sum(cost(j) for j in judges))
    readable.warn(summary)  # a judge whose verdicts were mostly unreadable: one line each
    with replacing(folder.path / "verdicts.jsonl") as fh:
        for e in entries:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    folder.write_json("summary.json", summary)
    write_text(folder.path / "results.md", markdown(summary))
    judge_bars(summary, folder.path / "judge")
    return folder, summary


def cost(judge: Judge) -> float:
    """What one judge's requests cost at its prices (per 1M tokens)."""
    u, spec = judge.usage, judge.spec
    return (u.prompt_tokens * spec.price_in + u.completion_tokens * spec.price_out) / 1e6


def usage_record(usage: chatcall.Usage, estimated_cost: float) -> dict:
    return {
        "requests": usage.requests,
        "cached": usage.cached,
        "cache_rejected": usage.cache_rejected,
        "failed": len(usage.failures),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "estimated_cost": estimated_cost,
    }
