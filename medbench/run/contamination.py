"""``medbench contamination``: what of each evaluation item a training corpus holds, item by item, and
what a model's own likelihoods say about items it may have seen.

Overlap (``--train`` / ``--model-card``): every item of the tasks named (its question, options,
reference answer and dialogue history) is indexed (:mod:`medbench.audit.overlap`); the training files
(:mod:`medbench.audit.training_files`) stream past the index once. Each item gets its 13-gram overlap share,
the number of training records holding its whole text, and its best near-duplicate similarity; it is
flagged when any of them says the training data holds it. Beside it, each item and task says how many
are *dirty* by lm-eval's and GPT-3's rule (any one 13-gram), a larger count than flagged
(:mod:`medbench.audit.overlap`).

Probe (``--model``): the Min-K% Prob of each item's text against its option-shuffled copies
(:mod:`medbench.audit.mink`), through any backend that scores log-likelihoods; it flags nothing, and with
the training data known it is checked against the overlap (AUROC).

The folder records the training files' and the evaluation data's sha256, so an audit names exactly
what was checked, and ``--exclude-contaminated`` refuses it for other data.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

from medbench.audit import mink, overlap
from medbench.audit.training_files import card_files, training_records
from medbench.config.contamination import ContaminationConfig
from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.core.safe_cells import markdown_lines
from medbench.core.writing import replacing, write_text
from medbench.run.rundir import RunFolder

REASONS = ("overlap", "exact", "near_duplicate")


def item_text(doc: dict, options: list | None = None) -> tuple[str, str]:
    """An item's whole text (history, question, options, reference) and its stem (question and
    options: what a paraphrase would copy); ``options``: another order of the item's options."""
    listed = (doc.get("options") or []) if options is None else options
    option_text = "".join(str(o[1]) for o in listed if isinstance(o, (list, tuple)) and len(o) == 2)
    stem = str(doc.get("question") or doc.get("text") or "") + option_text
    history = "".join(str(t) for turn in doc.get("history") or [] for t in turn)
    return history + stem + str(doc.get("reference") or ""), stem


def evaluation_items(config) -> tuple[dict[tuple[str, str], dict], dict[str, list[str]]]:
    """Every item of the tasks (groups expanded), keyed (task, id), and the sha256 of the data files
    each task read (``config``: anything with tasks, data_dir and include_path)."""
    from medbench.data.catalog import _split_names, leaf_tasks, load_task_data, task_config
    from medbench.data.datasources import resolve_data_dir
    from medbench.run.planning import resolve_tasks, task_manager

    manager = task_manager(include_path=config.include_path)
    data_dir = resolve_data_dir(config.data_dir)
    metadata = {"data_dir": str(data_dir)} if data_dir else {}
    items, data_sha256 = {}, {}
    for name in resolve_tasks(config.tasks, manager.all_tasks, None):
        for leaf in leaf_tasks(manager, name):
            data = load_task_data(manager, leaf, metadata)
            split, _ = _split_names(task_config(manager, leaf))
            if data is None or split not in data:
                raise MedbenchError(f"task {leaf}: no evaluated split '{split}' to audit")
            report = getattr(data, "report", None)
            data_sha256[leaf] = sorted(set(report.files.values())) if report else []
            for doc in data[split]:
                items[(leaf, str(doc["id"]))] = doc
    return items, data_sha256


def overlap_rows(docs: dict[tuple[str, str], dict], files: list[Path]) -> tuple[dict, list[dict]]:
    """Each item's overlap with the training files (keyed (task, id)), and what each file held."""
    texts = {f"{t}\t{i}": item_text(d) for (t, i), d in docs.items()}
    index = overlap.OverlapIndex({k: v[0] for k, v in texts.items()}, {k: v[1] for k, v in texts.items()})
    trained = []
    for f in files:
        before = index.lines
        index.scan(training_records(f))
        trained.append({"file": str(f), "sha256": sha256_file(f), "records": index.lines - before})
    rows = {}
    for key, match in index.matches.items():
        task, item = key.split("\t", 1)
        hits = (match.share >= overlap.FLAG_SHARE, match.exact > 0, match.near >= overlap.NEAR)
        why = [reason for reason, hit in zip(REASONS, hits, strict=True) if hit]
        rows[(task, item)] = {
            "task": task,
            "id": item,
            "ngrams": match.grams,
            "share": round(match.share, 4),
            "exact": match.exact,
            "near": round(match.near, 4),
            "near_record": match.near_line,
            "first_record": match.first_line,
            "flagged": bool(why),
            "why": why,
            "dirty": match.dirty,
        }
    return rows, trained


def overlap_record(rows: dict, trained: list[dict]) -> dict:
    """The overlap check's summary: its rules, the training files, and per task what it flagged."""
    return {
        "n": overlap.N,
        "flag_share": overlap.FLAG_SHARE,
        "near": overlap.NEAR,
        "dirty_rule": overlap.DIRTY_RULE,
        "training": trained,
        "tasks": overlap_summary(list(rows.values())),
    }


def write_rows(path: Path, rows: dict) -> None:
    """``contamination.jsonl``: one item's findings per line."""
    with replacing(path) as fh:
        for r in rows.values():
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def overlap_summary(rows: list[dict]) -> dict[str, dict]:
    """Per task: items, flagged, their share, how many each rule found, and how many are dirty by
    lm-eval's and GPT-3's rule (any one 13-gram)."""
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        flagged = sum(r["flagged"] for r in mine)
        out[task] = {
            "items": len(mine),
            "flagged": flagged,
            "share": flagged / len(mine) if mine else 0.0,
            **{why: sum(why in r["why"] for r in mine) for why in REASONS},
            "dirty": sum(r["dirty"] for r in mine),
        }
    return out


def training_files(config: ContaminationConfig) -> list[Path]:
    files = [Path(f).expanduser() for f in config.train]
    for f in files:
        if not f.is_file():
            raise MedbenchError(f"--train {f}: no such file")
    return files + (card_files(config.model_card) if config.model_card else [])


def _copied(row: dict) -> bool | None:
    """The probe's label from the overlap: copied (n-gram overlap or whole text), found nowhere, or
    None (a near-duplicate only: neither)."""
    if "overlap" in row["why"] or "exact" in row["why"]:
        return True
    return None if row["flagged"] else False


def _probe(config: ContaminationConfig, docs: dict, rows: dict) -> dict:
    """Min-K% of every item (and its shuffles) through the configured backend; adds to ``rows``."""
    from medbench.backends import backend_config

    backend = backend_config(config.backend, config.backend_options)
    if not backend.capabilities.loglik:
        raise MedbenchError(
            f"the Min-K% probe needs a backend that scores log-likelihoods ({config.backend} does not)"
        )
    backend.resolve()
    config.backend_options = asdict(backend)
    model_path, model_fp = backend.identity(config.model)
    texts = {}
    for (task, item), doc in docs.items():
        rng = random.Random(f"{config.seed}:{task}:{item}")
        orders = mink.shuffles(list(doc.get("options") or []), config.references, rng)
        texts[(task, item)] = (item_text(doc)[0], [item_text(doc, order)[0] for order in orders])
    lm = backend.make_lm(model_path, config.seed)
    try:
        values, cut = mink.probe(lm, texts, config.min_k, config.min_k_convention)
    finally:
        backend.release(lm)
    for key, value in values.items():
        rows[key].update(value)
    tasks = dict.fromkeys(task for task, _ in docs)
    summary = {
        "model": config.model,
        "model_fingerprint": model_fp,
        "k_percent": config.min_k,
        "convention": config.min_k_convention,
        "convention_means": mink.CONVENTIONS[config.min_k_convention],
        "references": config.references,
        "cut_to_window": cut,
        "caveats": mink.CAVEATS,
        "tasks": {t: mink.task_summary([r for r in rows.values() if r["task"] == t]) for t in tasks},
    }
    if config.train or config.model_card:
        summary["separation"] = mink.separation(list(rows.values()), _copied)
    return summary


def run_contamination(config: ContaminationConfig) -> tuple[RunFolder, dict]:
    """Index the items, stream the training files past them, probe the model; write the folder."""
    if not (config.train or config.model_card or config.model):
        raise MedbenchError(
            "name the training data (--train FILE[,FILE...] or --model-card MODEL_DIR) or a model to "
            "probe (--model)"
        )
    files = training_files(config)
    docs, data_sha256 = evaluation_items(config)
    summary: dict = {"data_sha256": data_sha256}
    if files:
        rows, trained = overlap_rows(docs, files)
        summary.update(overlap_record(rows, trained))
    else:
        rows = {key: {"task": key[0], "id": key[1]} for key in docs}
    if config.model:
        summary["probe"] = _probe(config, docs, rows)
    folder = RunFolder.create(Path(config.output), "contamination")
    folder.write_config({"kind": "contamination", **asdict(config)})
    write_rows(folder.path / "contamination.jsonl", rows)
    folder.write_json("summary.json", summary)
    write_text(folder.path / "results.md", markdown(summary))
    return folder, summary


def markdown(summary: dict) -> str:
    lines = overlap_markdown(summary) if "training" in summary else []
    if "probe" in summary:
        lines += mink_markdown(summary["probe"])
    return "\n".join(lines) + "\n"


def overlap_markdown(summary: dict) -> list[str]:
    records = sum(t["records"] for t in summary["training"])
    lines = [
        f"Contamination audit: {len(summary['training'])} training file(s), {records} records; an item is "
        f"flagged when {100 * summary['flag_share']:.0f}% of its character {summary['n']}-grams, its whole "
        f"text, or a near-duplicate (Jaccard >= {summary['near']}) is in them; {summary['dirty_rule']}.",
        "",
    ]
    rows = [
        [task, s["items"], s["flagged"], f"{100 * s['share']:.1f}%", s["dirty"], *(s[why] for why in REASONS)]
        for task, s in summary["tasks"].items()
    ]
    header = ["Task", "Items", "Flagged", "Share", f"Dirty (any {summary['n']}-gram)"]
    header += ["By n-gram overlap", "Whole text", "Near-duplicate"]
    return lines + markdown_lines(header, rows, "lrrrrrrr")


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def mink_markdown(probe: dict) -> list[str]:
    lines = [
        "",
        f"Min-K% Prob probe ({probe['model']}, k = {probe['k_percent']:g}%, {probe['convention']} "
        f"convention: {probe['convention_means']}): each item's text against "
        f"{probe['references']} copies with its options shuffled; gap = its Min-K% minus theirs"
        + (f"; {probe['cut_to_window']} text(s) cut to the model's window" if probe["cut_to_window"] else "")
        + ".",
        "",
    ]
    rows = [
        [
            task,
            s["items"],
            _number(s["min_k_mean"]),
            s["with_reference"],
            _number(s["gap_mean"]),
            s["gap_positive"],
            _number(s["wilcoxon_p"], 4),
        ]
        for task, s in probe["tasks"].items()
    ]
    header = ["Task", "Items", "Mean Min-K%", "With reference", "Mean gap", "Gap > 0", "Wilcoxon p (gap > 0)"]
    lines += markdown_lines(header, rows, "lrrrrrr")
    found = probe.get("separation")
    if found:
        lines += [
            "",
            f"Against the training data: {found['copied']} item(s) copied, {found['not_found']} found "
            f"nowhere ({found['left_out_near_duplicates']} near-duplicate-only item(s) left out).",
        ]
        for score in ("min_k", "gap"):
            if found[score]:
                lines.append(
                    f"- {score}: AUROC {found[score]['auroc']:.3f} "
                    f"(one-sided Mann-Whitney p = {found[score]['mannwhitney_p']:.4f})"
                )
    elif "separation" in probe:
        lines += ["", "Against the training data: no AUROC (the audit found no copied item, or none clean)."]
    lines += ["", "Caveats:", *(f"- {c}" for c in probe["caveats"])]
    return lines
