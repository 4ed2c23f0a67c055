"""``--extractor llm``: an LLM reads the answer letters of replies the pattern table cannot parse.

Only replies :mod:`medbench.scoring.extract` leaves ``[unparsed]`` are sent, with a fixed prompt (data in
``tasks/_llm_extractor_yaml``) to an OpenAI-compatible model. Its reply must be the letters alone
(or the prompt's word for "none"); anything else stays unparsed. Each answer is cached under the
run's output folder (a re-run asks nothing again), marked on its sample (``C [llm]``) and counted in
``llm_extracted_rate``: never silently mixed with what the patterns read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from medbench.core.templates import render_template
from medbench.models import chatcall
from medbench.models.requestcache import MISS, open_cache
from medbench.models.served import Unreachable, served_model

#: what the extracted answer carries when the LLM, not a pattern, read it
MARK = " [llm]"
#: a reply the extractor was asked about but never answered (failed after retries): a failed item,
#: left out of the score and counted like a failed model request, never scored as unparsed
FAILED = "[extractor-failed]"
_LETTERS = re.compile(r"^[A-H]{1,8}$")


@dataclass
class Extractor:
    model: str
    base_url: str
    cache: str  # sqlite path
    concurrency: int = 8
    max_retries: int = 3
    timeout: float = 60.0
    usage: chatcall.Usage = field(default_factory=chatcall.Usage)

    def __post_init__(self) -> None:
        self._served: dict | None = None
        self.spec = yaml.safe_load((plugin_dir("tasks") / "_llm_extractor_yaml").read_text(encoding="utf-8"))

    def prompt(self, reply: str, doc: dict) -> str:
        return render_template(
            self.spec["prompt"], {"question": doc["question"], "options": doc["options"], "reply": reply}
        )

    def read(self, text: str, letters: list[str]) -> str | None:
        """The letters an extractor's reply names, or None (it found none, or said anything else)."""
        answer = re.sub(r"\s+", "", text or "").upper()
        if not _LETTERS.match(answer) or not set(answer) <= set(letters):
            return None
        return "".join(sorted(set(answer)))

    def letters(self, items: list[tuple[str, dict]]) -> list[str | None]:
        """For each (reply, doc): the letters the extractor read, None (it read none), or
        :data:`FAILED` (its request failed after retries)."""
        return asyncio.run(self._all(items))

    def served(self) -> dict:
        """What the extractor's server says of its model (part of each reading's cache key: two
        extractors under one name share no readings); nothing listening leaves every request to fail
        as a failed item."""
        if self._served is None:
            try:
                self._served = served_model(self.base_url, self.model, min(self.timeout, 30.0))
            except Unreachable as exc:
                self._served = {"unreachable": str(exc)}
        return self._served

    async def _all(self, items: list[tuple[str, dict]]) -> list[str | None]:
        served = self.served()
        db = open_cache(self.cache)
        client = chatcall.client(self.base_url, self.max_retries, self.timeout)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(reply: str, doc: dict) -> str | None:
            prompt = self.prompt(reply, doc)
            ident = [self.model, served, self.spec["version"], prompt]
            key = hashlib.sha256(json.dumps(ident, ensure_ascii=False).encode()).hexdigest()
            text = db.get(key, MISS)
            if text is not MISS and not isinstance(text, str):  # not what the extractor wrote: asked again
                self.usage.cache_rejected += 1
                text = MISS
            if text is MISS:
                body = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
                body |= {"temperature": 0.0, "max_tokens": 16}
                async with gate:
                    try:
                        answer = await chatcall.complete(client, body, self.max_retries)
                    except Exception as exc:  # retried already: a failed item (excluded, counted)
                        self.usage.failures.append({"error": chatcall.describe(exc)})
                        return FAILED
                self.usage.add(answer)
                text = answer.text
                db[key] = text
            else:
                self.usage.cached += 1
            return self.read(text, [letter for letter, _ in doc["options"]])

        try:
            return await asyncio.gather(*(one(r, d) for r, d in items))
        finally:
            db.commit()
            db.close()
            await client.close()


def from_config(config) -> Extractor | None:
    """The run's extractor (``--extractor llm``), or None; one line when its model or server is missing."""
    if config.extractor == "patterns":
        return None
    if config.extractor != "llm":
        raise MedbenchError(f"--extractor must be patterns or llm (got {config.extractor!r})")
    if not config.extractor_model or not config.extractor_base_url:
        raise MedbenchError("--extractor llm needs --extractor-model NAME and --extractor-base-url URL")
    cache = Path(config.output) / ".cache" / "llm-extractor.sqlite"
    return Extractor(
        config.extractor_model,
        config.extractor_base_url,
        str(cache),
        max_retries=config.extractor_max_retries,
        timeout=config.extractor_timeout,
    )
