"""``medbench merge SHARD...``: the run folders of ``--shard 0/N`` ... ``N-1/N`` joined into the run
folder of the unsharded run.

The shards must be the same run (every setting equal but ``shard``, the same model fingerprint), all
N present once, each complete. lm-eval then scores the whole task list again from the shards' recorded
outputs (a replay model answers each request from the shard that computed it), so the merged folder
is what the unsharded run writes: per-sample outputs in order, and every metric -- group micro and
macro means, corpus BLEU/ROUGE, NER F1 -- computed over all items, never averaged across shards.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lm_eval.api.model import LM

from medbench import schemas
from medbench.checks import parse_shard
from medbench.errors import MedbenchError
from medbench.rundir import RunFolder
from medbench.runner import Replay, RunConfig, run
from medbench.summary import Score

#: config keys that may differ between the shards of one run
PER_SHARD = ("shard", "output")


class ReplayLM(LM):
    """Answers lm-eval's requests with the outputs the shards recorded, keyed (task, item)."""

    def __init__(self, records: dict[tuple[str, int], dict]) -> None:
        super().__init__()
        self.records = records

    def _record(self, request) -> dict:
        task, doc_id = request.metadata[:2]
        if (task, doc_id) not in self.records:
            raise MedbenchError(
                f"merge: no shard holds {task} item {doc_id} (were they run with other data?)"
            )
        return self.records[(task, doc_id)]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return [(list(self._record(r)["raw"].values())[r.idx], False) for r in requests]

    def generate_until(self, requests, disable_tqdm: bool = False):
        return [self._record(r)["raw"] for r in requests]

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise MedbenchError("merge: rolling log-likelihood tasks cannot be replayed")


def _shard(folder: Path) -> tuple[dict, int, int]:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise MedbenchError(f"{folder} is not a run folder (no config.json)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    schemas.check_version(config, config_file)
    if not config.get("shard"):
        raise MedbenchError(f"{folder} is not a shard (run with --shard I/N)")
    status = schemas.read(schemas.RunStatus, folder / "status.json")
    if not status.complete:
        raise MedbenchError(
            f"{folder}: shard {config['shard']} is incomplete ({status.reason}); re-run it first"
        )
    if config.get("repeats", 1) != 1:
        raise MedbenchError(f"{folder}: merging runs with --repeats is not supported yet")
    index, count = parse_shard(config["shard"])
    return config, index, count


def merge(folders: list[str], output: str) -> tuple[RunFolder, list[Score]]:
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
    records: dict[tuple[str, int], dict] = {}
    for folder, config, _, _ in shards:
        other = {k: v for k, v in config.items() if k not in PER_SHARD}
        if other != base:
            differing = sorted(k for k in set(other) | set(base) if other.get(k) != base.get(k))
            raise MedbenchError(f"merge: {folder} differs from {shards[0][0]} in {', '.join(differing)}")
        fingerprints.add(
            json.dumps(json.loads((folder / "model.json").read_text(encoding="utf-8")), sort_keys=True)
        )
        for file in sorted((folder / "samples").glob("*.jsonl")):
            for line in file.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                key = (file.stem, record["doc_id"])
                if key in records:
                    raise MedbenchError(f"merge: {file.stem} item {record['doc_id']} is in two shards")
                records[key] = record
    if len(fingerprints) != 1:
        raise MedbenchError("merge: the shards were run with different models (model.json differs)")
    known = {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in base.items() if k in known and k != "schema_version"})
    config.output = output
    return run(config, Replay(ReplayLM(records), json.loads(fingerprints.pop())))
