"""A judge session: the config, the cached concurrent judge client, and the judge folder it writes.

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
import re
from dataclasses import asdict
from pathlib import Path

from medbench import chatcall, thinking
from medbench.config.judge import JudgeConfig
from medbench.judge.present import markdown
from medbench.judge.rubric import parse_verdict, score_of
from medbench.plotting import judge_bars
from medbench.requestcache import MISS, open_cache
from medbench.rundir import RunFolder
from medbench.served import served_model


class Judge:
    """Cached, concurrent chat-completion calls that return a parsed verdict per prompt."""

    def __init__(self, config: JudgeConfig, rubric: dict) -> None:
        self.config, self.rubric = config, rubric
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
        self.served = served_model(config.base_url, config.judge_model, min(config.timeout, 30.0))
        self.cache = open_cache(config.cache or str(Path(config.output) / ".judge-cache.sqlite"))
        self.usage = chatcall.Usage()

    def key(self, prompt: str) -> str:
        judge = [self.config.judge_model, self.served]
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
                    "model": self.config.judge_model,
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
        client = chatcall.client(self.config.base_url, self.config.max_retries, self.config.timeout)
        gate = asyncio.Semaphore(self.config.concurrency)
        try:
            from tqdm.asyncio import tqdm_asyncio  # a row of the live display in a terminal

            asks = [self._ask(client, gate, p) for p in prompts]
            return await tqdm_asyncio.gather(*asks, desc="Judge requests", total=len(asks))
        finally:
            await client.close()


def ask(config: JudgeConfig, rubric: dict, task: str, plan: list[tuple], slot: str):
    """Ask the judge every planned prompt; record each raw exchange in a new judge folder."""
    judge = Judge(config, rubric)
    results = asyncio.run(judge.ask_all([p for *_, p in plan]))
    folder = RunFolder.create(Path(config.output), f"judge-{config.rubric}")
    folder.write_config({"kind": "judge", "task": task, **asdict(config), "judge_served": judge.served})
    with open(folder.path / "requests.jsonl", "w", encoding="utf-8") as fh:
        for (item, dim, which, prompt), result in zip(plan, results, strict=True):
            record = {"id": item, "dimension": dim, slot: which, "prompt": prompt, **result}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return judge, folder, results


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


def finish(folder: RunFolder, summary: dict, judge: Judge, config: JudgeConfig, entries: list[dict]):
    """Usage and cost, the per-item verdicts, the summary, its table and chart."""
    summary["usage"] = usage_record(judge.usage, config)
    with open(folder.path / "verdicts.jsonl", "w", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    folder.write_json("summary.json", summary)
    (folder.path / "results.md").write_text(markdown(summary), encoding="utf-8")
    judge_bars(summary, folder.path / "judge")
    return folder, summary


def usage_record(usage: chatcall.Usage, config: JudgeConfig) -> dict:
    return {
        "requests": usage.requests,
        "cached": usage.cached,
        "cache_rejected": usage.cache_rejected,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "estimated_cost": (usage.prompt_tokens * config.price_in + usage.completion_tokens * config.price_out)
        / 1e6,
    }
