"""``medbench merge SHARD...``: the run folders of ``--shard 0/N`` ... ``N-1/N`` joined into the run
folder of the unsharded run.

The shards must be the same run (every setting equal but ``shard``, the same model fingerprint), all
N present once, each complete. lm-eval then scores the whole task list again from the shards' recorded
outputs (a replay model answers each request from the shard that computed it), so the merged folder
is what the unsharded run writes: per-sample outputs in order, and every metric -- group micro and
macro means, corpus BLEU/ROUGE, NER F1 -- computed over all items, never averaged across shards.

Every shard file is read like user input, through its run record (:mod:`medbench.config.record`: one
line naming the file and line when it is not what ``medbench run`` writes), and the merge refuses, in
one line, shards that read different data (their data.json hashes differ) or whose recorded outputs no
longer give their own metrics.json (a sample edited after the run). LLM-extractor readings come from the
shards' samples, never asked again.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

from lm_eval.api.model import LM

from medbench.analysis.summary import Score
from medbench.config import schemas
from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError
from medbench.models import chat, chatcall, thinking
from medbench.run.checks import parse_shard
from medbench.run.rundir import RunFolder
from medbench.run.runner import Replay, RunConfig, run
from medbench.scoring import llm_extract
from medbench.scoring.extract import UNPARSED

#: config keys that may differ between the shards of one run
PER_SHARD = ("shard", "output")


class ReplayLM(LM):
    """Answers lm-eval's requests with the outputs the shards recorded, keyed (task, item). A chat run
    is replayed through the messages themselves (:func:`medbench.models.chat.encode`): the answers are the
    shards', whatever the template would have rendered."""

    tokenizer_name = "replay"
    chat_template = None

    def __init__(self, records: dict[tuple[str, int], dict]) -> None:
        super().__init__()
        self.records = records

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        return chat.encode(chat.expand(chat_history))

    def _record(self, request) -> dict:
        task, doc_id = request.metadata[:2]
        if (task, doc_id) not in self.records:
            raise MedbenchError(
                f"merge: no shard holds {task} item {doc_id} (were they run with other data?)"
            )
        return self.records[(task, doc_id)]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        out = []
        for r in requests:
            raw = self._record(r)["raw"]
            if not isinstance(raw, dict) or r.idx >= len(raw):
                raise MedbenchError(
                    f"merge: {r.metadata[0]} item {r.metadata[1]} has no log-likelihood per option"
                )
            out.append((list(raw.values())[r.idx], False))
        return out

    def generate_until(self, requests, disable_tqdm: bool = False):
        out = []
        for r in requests:
            raw = self._record(r)["raw"]
            if not isinstance(raw, str):
                raise MedbenchError(f"merge: {r.metadata[0]} item {r.metadata[1]} has no recorded reply")
            out.append(raw)
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise MedbenchError("merge: rolling log-likelihood tasks cannot be replayed")


class RecordedReadings:
    """The LLM extractor's readings as the shards recorded them, in its place (``letters``): a merge
    never asks the extractor again (it may be down, or read differently today)."""

    def __init__(self, records: dict[tuple[str, int], dict], tags: tuple[str, str]) -> None:
        self.usage = chatcall.Usage()
        self.readings: dict[tuple, str | None] = {}
        for record in records.values():
            extracted, raw = record.get("extracted"), record.get("raw")
            if (
                isinstance(extracted, str)
                and isinstance(raw, str)
                and (extracted.endswith(llm_extract.MARK) or extracted == UNPARSED)
            ):
                letters = extracted.removesuffix(llm_extract.MARK) if extracted != UNPARSED else None
                self.readings[(str(record.get("id")), thinking.split(raw, tags).answer)] = letters

    def letters(self, items: list[tuple[str, dict]]) -> list[str | None]:
        out = []
        for reply, doc in items:
            key = (str(doc.get("id")), reply)
            if key not in self.readings:
                raise MedbenchError(
                    f"merge: no shard recorded the LLM extractor's reading of item {doc.get('id')} "
                    "(were the shards run with --extractor llm?)"
                )
            self.usage.cached += 1
            out.append(self.readings[key])
        return out


def _shard(folder: Path) -> tuple[dict, int, int]:
    shard = RunRecord.open(folder)
    if not shard.has("config.json"):
        raise MedbenchError(f"{folder} is not a run folder (no config.json)")
    config = shard.config()
    if not config.get("shard"):
        raise MedbenchError(f"{folder} is not a shard (run with --shard I/N)")
    status = shard.status()
    if not status.complete:
        raise MedbenchError(
            f"{folder}: shard {config['shard']} is incomplete ({status.reason}); re-run it first"
        )
    if config.get("repeats", 1) != 1:
        raise MedbenchError(f"{folder}: merging runs with --repeats is not supported yet")
    index, count = parse_shard(str(config["shard"]))
    return config, index, count


def _records(folder: Path) -> dict[tuple[str, int], dict]:
    """The shard's per-sample outputs by (task, item), each line checked by the run record."""
    shard, records = RunRecord.open(folder), {}
    for task in shard.tasks():
        for record in shard.samples(task):
            if "doc_id" not in record:  # lm-eval's number for it: what a replayed request asks for
                raise MedbenchError(
                    f"{shard.sample_file(task)}: item {str(record['id'])[:40]!r}: not a sample record (a "
                    "JSON object with an integer doc_id)"
                )
            records[(task, record["doc_id"])] = record
    return records


def _config(base: dict, output: str, path: Path, include_path: str | None = None) -> RunConfig:
    """The merged run's settings: the shards' (checked like every received file), written to
    ``output``. Task YAMLs from the shards' ``--include-path`` carry Python hooks: a received folder
    must never make medbench import code, so that folder is used only when the user names the same
    one (``include_path``)."""
    config = schemas.check_run_config(base, path)
    if config.include_path and config.include_path != include_path:
        raise MedbenchError(
            f"merge: the shards ran tasks from --include-path {config.include_path}, whose hooks are code; "
            "merging re-reads them: pass that folder as --include-path to merge if you trust it"
        )
    config.output = output
    return config


def _replay(
    config: RunConfig, records: dict, fingerprint: dict, noise: float | None
) -> tuple[RunFolder, list[Score]]:
    tags = thinking.parse_tags(config.think_tags)
    readings = RecordedReadings(records, tags) if config.extractor == "llm" else None
    return run(config, Replay(ReplayLM(records), fingerprint, readings, noise))


def _rederives(
    folder: Path,
    config: dict,
    records: dict,
    fingerprint: dict,
    include_path: str | None,
    noise: float | None,
) -> None:
    """The shard's own outputs, scored again, must give its metrics.json: else they were edited. Each
    score they give must be there: a metrics.json emptied or cut short would leave edited samples
    nothing to be compared with."""
    recorded = {(s["task"], s["metric"], s["convention"]): s["value"] for s in _scores(folder)}
    # lm-eval numbers a shard's requests by position among its selected items (ascending doc ids)
    by_position = {}
    for task in sorted({task for task, _ in records}):
        ids = sorted(doc_id for t, doc_id in records if t == task)
        by_position.update({(task, position): records[(task, doc_id)] for position, doc_id in enumerate(ids)})
    with tempfile.TemporaryDirectory() as scratch:
        checked = _config(config, scratch, folder / "config.json", include_path)
        _, scores = _replay(checked, by_position, fingerprint, noise)
    for s in scores:
        if s.value is None:
            continue
        want = recorded.get((s.task, s.metric, s.convention))
        if want is None:
            named = " ".join(part for part in (s.task, s.metric, s.convention) if part)
            raise MedbenchError(
                f"merge: {folder / 'metrics.json'} has no {named}, which the shard's samples give: the "
                "shard was edited after its run (or scored by another medbench); refused"
            )
        if abs(want - s.value) > 1e-9:
            raise MedbenchError(
                f"merge: {folder}'s samples give {s.task} {s.metric} {s.value:.4f}, its metrics.json says "
                f"{want:.4f}: the shard was edited after its run (or scored by another medbench); refused"
            )


def _scores(folder: Path) -> list[dict]:
    return [dataclasses.asdict(s) for s in RunRecord.open(folder).scores(Score)]


def _same_data(shards: list[Path]) -> dict:
    """Every shard read the same data files (data.json's sha256); the one record of them."""
    seen: dict | None = None
    for folder in shards:
        files = RunRecord.open(folder).files_sha256()
        if seen is not None and files != seen:
            differing = sorted(k for k in set(files) | set(seen) if files.get(k) != seen.get(k))
            raise MedbenchError(
                f"merge: {folder} read other data than {shards[0]} ({', '.join(differing[:3])} differ): "
                "the shards must read the same files"
            )
        seen = files
    return seen or {}


def merge(folders: list[str], output: str, include_path: str | None = None) -> tuple[RunFolder, list[Score]]:
    shards = [(Path(f), *_shard(Path(f))) for f in folders]
    counts = {count for _, _, _, count in shards}
    if len(counts) != 1:
        raise MedbenchError(f"merge: the folders come from different shard counts ({sorted(counts)})")
    (count,) = counts
    indices = sorted(index for _, _, index, _ in shards)
    if indices != list(range(count)):
        missing = sorted(set(range(count)) - set(indices))
        raise MedbenchError(f"merge: need shards 0..{count - 1} once each; got {indices} (missing {missing})")
    base = {k: v for k, v in shards[0][1].items() if k not in PER_SHARD}
    fingerprints = set()
    noises: set[float | None] = set()
    records: dict[tuple[str, int], dict] = {}
    files = _same_data([folder for folder, *_ in shards])
    for folder, config, _, _ in shards:
        other = {k: v for k, v in config.items() if k not in PER_SHARD}
        if other != base:
            differing = sorted(k for k in set(other) | set(base) if other.get(k) != base.get(k))
            raise MedbenchError(f"merge: {folder} differs from {shards[0][0]} in {', '.join(differing)}")
        fingerprint = RunRecord.open(folder).model()
        fingerprints.add(json.dumps(fingerprint, sort_keys=True))
        own = _records(folder)
        noise = RunRecord.open(folder).fragile_margin()
        noises.add(noise)
        _rederives(folder, config, own, fingerprint, include_path, noise)
        for key in own:
            if key in records:
                raise MedbenchError(f"merge: {key[0]} item {key[1]} is in two shards")
        records.update(own)
    if len(fingerprints) != 1:
        raise MedbenchError("merge: the shards were run with different models (model.json differs)")
    if len(noises - {None}) > 1:
        raise MedbenchError(
            f"merge: the shards' fragile margins differ ({sorted(noises - {None})} nats): their weights "
            "loaded in different dtypes"
        )
    config = _config(base, output, shards[0][0] / "config.json", include_path)
    folder, scores = _replay(
        config, records, json.loads(fingerprints.pop()), max(noises - {None}, default=None)
    )
    merged = RunRecord.open(folder.path).files_sha256()
    if merged != files:
        shutil.rmtree(folder.path)
        raise MedbenchError(
            "merge: the data here differs from the data the shards read (data.json sha256): give the "
            "same --data-dir the shards used; nothing merged"
        )
    return folder, scores
