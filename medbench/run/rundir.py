"""One run = one folder: config, versions, fingerprints, lm-eval's results, per-sample outputs, tables.

Layout of ``runs/<timestamp>-<model>/``::

    config.json       the resolved run configuration
    versions.json     medbench, lm-eval, torch, transformers, datasets, python, git commit
    model.json        model fingerprint (config hash, weights sha256)
    data.json         sha256 of every data file read, skipped malformed rows, excluded items
    results.json      lm-eval's results (``results-<r>.json`` per repeat when ``--repeats`` > 1)
    samples/<task>.jsonl   prompt, raw output, extracted answer, gold, correct -- one line per item
    metrics.json      medbench's scores (tasks; groups micro and macro), values in [0, 1]
    results.md        the Markdown table printed at the end
    calls.json        requests that reached the model (the rest came from the request cache), API usage
    failures.jsonl    requests that failed after retries (API backends), re-asked on the next run
    status.json       ``complete`` (false while any item failed: its scores leave those items out)

Reports, judges, compare, explain and merge read these files through one checked record
(:class:`medbench.config.record.RunRecord`); nothing downstream recomputes what is here.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from medbench.analysis.margins import margin
from medbench.analysis.summary import WIDTH, Score, markdown_table
from medbench.config.schemas import SCHEMA_VERSION
from medbench.core import units
from medbench.core._compat import jsonable
from medbench.core.hooks import DEFAULT_TAGS
from medbench.core.paths import PACKAGE_DIR
from medbench.core.writing import failed_write, make_folder, replacing, write_text
from medbench.data.datareport import Skipped
from medbench.models import chat, thinking
from medbench.models.thinking import Tags


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def sample_record(
    sample: dict, tags: Tags = DEFAULT_TAGS, encode: Callable[[str], list] | None = None
) -> dict:
    """One per-sample line: what the model saw, said, and how it was scored; a reply's thinking read by
    the run's ``tags`` and its tokens counted by the model's own tokenizer (``encode``), if it has one."""
    doc = sample["doc"]
    args = sample["arguments"][0] if sample.get("arguments") else []
    resps = sample.get("resps", [])
    record = {
        "doc_id": sample["doc_id"],
        "id": doc.get("id", sample["doc_id"]),
        "prompt": args[0] if args else None,
        # the answer as the file gives it where the item keeps it (CMB's "EB", which its own scoring
        # compares exactly), else the normalised answer or lm-eval's target
        "gold": doc.get("answer_as_given", doc.get("answer", sample.get("target"))),
        "unit": units.doc_unit(doc, sample["doc_id"]),  # the unit of analysis (medbench.core.units)
    }
    messages = chat.decode(record["prompt"])
    if messages is not None:  # --chat on a chat API: the messages it was sent, as messages
        record.update(prompt=None, messages=messages)
    if doc.get("choices") and resps and isinstance(resps[0][0], (list, tuple)):
        # log-likelihood multiple choice: one (loglik, is_greedy) per option
        logliks = [r[0][0] for r in resps]
        letters = [letter for letter, _ in doc["options"]]
        record["raw"] = dict(zip(letters, logliks, strict=True))
        record["extracted"] = letters[max(range(len(logliks)), key=logliks.__getitem__)]
        record["margin"] = margin(logliks)  # how close the answer was to another option
    else:
        record["raw"] = resps[0][0] if resps and resps[0] else None
        filtered = sample.get("filtered_resps")
        record["extracted"] = filtered[0] if isinstance(filtered, list) and filtered else filtered
        part = thinking.split(record["raw"], tags) if isinstance(record["raw"], str) else None
        if part is not None and part.thinking is not None:  # a reasoning model's reply, in two parts
            record.update(thinking=part.thinking, answer=part.answer, thinking_cut_off=part.unfinished)
            record.update(thinking.token_counts(part, encode))
    # dialogue and QA items: what a judge shows; a rotated MC item (--circular): which rotation of what
    # and the file's own per-item annotations (--slice-by)
    for key in (
        "question",
        "history",
        "reference",
        "circular_of",
        "rotation",
        "rotations",
        "order",
        "fields",
    ):
        if key in doc:
            record[key] = doc[key]
    metric_names = sample.get("metrics", [])
    # scalar per-item metrics only; corpus metrics' (reference, prediction) inputs are already here
    record["metrics"] = {m: sample[m] for m in metric_names if isinstance(sample.get(m), (int, float))}
    if "acc" in record["metrics"]:
        record["correct"] = bool(record["metrics"]["acc"])
    return record


@dataclass
class RunFolder:
    path: Path

    @classmethod
    def create(cls, output: Path, model: str) -> RunFolder:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/")).name or model)
        if len(name) > 80:  # a file name has room for 255 bytes: a long served name keeps a hash of itself
            name = f"{name[:63]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        make_folder(output, "run folders")
        path = output / f"{stamp}-{name}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = output / f"{stamp}-{name}-{suffix}"
        try:
            path.mkdir()
        except OSError as exc:
            raise failed_write(path, exc) from None
        return cls(path)

    def write_json(self, name: str, data) -> None:
        """One JSON file of the folder, written whole or not at all (:mod:`medbench.core.writing`)."""
        text = json.dumps(data, ensure_ascii=False, indent=2, default=jsonable)
        write_text(self.path / name, text + "\n")

    def write_config(self, config: dict) -> None:
        """config.json: what the folder's numbers depend on, with the folder schema's version."""
        self.write_json("config.json", {"schema_version": SCHEMA_VERSION, **config})

    def write_versions(self) -> None:
        versions = {p: _version(p) for p in ("medbench", "lm_eval", "torch", "transformers", "datasets")}
        versions["python"] = platform.python_version()
        versions["git_commit"] = _git_commit()
        self.write_json("versions.json", versions)

    def write_results(
        self,
        results: dict,
        repeat: int | None,
        failures: list[dict] | None = None,
        tags: Tags = DEFAULT_TAGS,
        encode: Callable[[str], list] | None = None,
    ) -> None:
        """lm-eval's results JSON, the per-sample JSONL files (per repeat when repeating; replies read
        by :func:`sample_record`), and the requests that failed after retries (their samples carry the
        error)."""
        samples = results.pop("samples", {}) or {}
        suffix = "" if repeat is None else f"-{repeat}"
        self.write_json(f"results{suffix}.json", results)
        errors = {(f["task"], f["doc_id"]): f["error"] for f in failures or []}
        if failures:
            with replacing(self.path / f"failures{suffix}.jsonl") as fh:
                for f in failures:
                    fh.write(
                        json.dumps({k: f[k] for k in ("task", "doc_id", "error")}, ensure_ascii=False) + "\n"
                    )
        sample_dir = self.path / f"samples{suffix}"
        make_folder(sample_dir, "the per-item outputs")
        for task, items in samples.items():
            with replacing(sample_dir / f"{task}.jsonl") as fh:
                for sample in items:
                    record = sample_record(sample, tags, encode)
                    if (task, sample["doc_id"]) in errors:
                        record["error"] = errors[(task, sample["doc_id"])]
                    line = json.dumps(record, ensure_ascii=False, default=jsonable)
                    fh.write(line + "\n")

    def write_scores(
        self,
        scores: list[Score],
        skipped: list[Skipped],
        n_failed: int = 0,
        warnings: list[str] = (),
        notes: list[str] = (),
        appendix: str = "",
    ) -> str:
        """metrics.json and results.md (warnings first, ``notes`` after the table, then ``appendix``,
        e.g. the CircularEval table); returns the Markdown."""
        self.write_json("metrics.json", [asdict(s) for s in scores])
        table = markdown_table(scores)
        if n_failed:
            table = (
                f"INCOMPLETE RUN: {n_failed} item(s) failed after retries and are left out of the scores "
                "below (Excluded, failures.jsonl); re-run the same command to fill them in.\n\n" + table
            )
        if warnings:
            said = (textwrap.fill(f"WARNING: {w}", WIDTH, subsequent_indent="  ") for w in warnings)
            table = "".join(f"{w}\n" for w in said) + "\n" + table
        if notes:
            table += "\nThinking (reasoning replies; the scores above read only the answers):\n"
            table += "".join(f"- {n}\n" for n in notes)
        if skipped:
            table += (
                f"\nIn the files read, {len(skipped)} malformed or duplicate row(s) were skipped (Excluded "
                "counts those among the items evaluated; details in data.json):\n"
            )
            table += "".join(f"- {s}\n" for s in skipped[:20])
        table += appendix
        write_text(self.path / "results.md", table)
        return table
