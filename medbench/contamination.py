"""``medbench contamination``: what of each evaluation item a training corpus holds, item by item.

Every item of the tasks named (its question, options, reference answer and dialogue history) is
indexed (:mod:`medbench.overlap`); the training files stream past the index once. Each item gets its
13-gram overlap share, the number of training records holding its whole text, and its best
near-duplicate similarity; it is flagged when any of them says the training data holds it. The folder
records the training files' sha256, so an audit names exactly what was checked.

Training files: ``.jsonl`` (one JSON value per line: every string in it is text), ``.json`` (a list of
such records), ``.csv`` (every cell), anything else a text file of lines. A line that is not JSON in a
``.jsonl`` file is one line naming file and row, never skipped in silence.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from medbench import overlap
from medbench.config.contamination import ContaminationConfig
from medbench.datasources import read_text
from medbench.errors import MedbenchError
from medbench.hashing import sha256_file
from medbench.rundir import RunFolder
from medbench.safe_cells import markdown_lines


def _strings(value) -> list[str]:
    """Every string in a JSON value (the text a training record holds), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def training_records(path: Path) -> Iterator[list[str]]:
    """A training file's records, each as its text fields."""
    text = read_text(path, "training file")
    if path.suffix == ".jsonl":
        for row, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield _strings(json.loads(line))
            except ValueError:
                raise MedbenchError(
                    f"{path}:{row}: not a JSON value (a .jsonl file holds one per line)"
                ) from None
    elif path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            raise MedbenchError(f"{path}: not readable JSON") from None
        for record in data if isinstance(data, list) else [data]:
            yield _strings(record)
    elif path.suffix == ".csv":
        for cells in csv.reader(text.splitlines()):
            yield [c for c in cells if c]
    else:
        for line in text.splitlines():
            if line.strip():
                yield [line]


def item_text(doc: dict) -> tuple[str, str]:
    """An item's whole text (history, question, options, reference) and its stem (question and
    options: what a paraphrase would copy)."""
    options = doc.get("options") or []
    option_text = "".join(str(o[1]) for o in options if isinstance(o, (list, tuple)) and len(o) == 2)
    stem = str(doc.get("question") or doc.get("text") or "") + option_text
    history = "".join(str(t) for turn in doc.get("history") or [] for t in turn)
    return history + stem + str(doc.get("reference") or ""), stem


def evaluation_items(config: ContaminationConfig) -> dict[tuple[str, str], dict]:
    """Every item of the tasks (groups expanded), keyed (task, id)."""
    from medbench.catalog import _split_names, leaf_tasks, load_task_data, task_config
    from medbench.datasources import resolve_data_dir
    from medbench.planning import resolve_tasks, task_manager

    manager = task_manager(include_path=config.include_path)
    data_dir = resolve_data_dir(config.data_dir)
    metadata = {"data_dir": str(data_dir)} if data_dir else {}
    items = {}
    for name in resolve_tasks(config.tasks, manager.all_tasks, None):
        for leaf in leaf_tasks(manager, name):
            data = load_task_data(manager, leaf, metadata)
            split, _ = _split_names(task_config(manager, leaf))
            if data is None or split not in data:
                raise MedbenchError(f"task {leaf}: no evaluated split '{split}' to audit")
            for doc in data[split]:
                items[(leaf, str(doc["id"]))] = doc
    return items


CARD = "medbench_model_card.json"


def card_files(model_dir: str, depth: int = 10) -> list[Path]:
    """The files a medbench-trained model was trained on: its card's, then its base model's (the
    stage before), each still holding the bytes the card's sha256 names; a held-out evaluation file is
    not training data and is left out."""
    from medbench import schemas

    files: list[Path] = []
    folder: str | None = model_dir
    while folder and depth:
        path = Path(folder) / CARD
        if not path.is_file():
            if folder == model_dir:
                raise MedbenchError(f"--model-card {model_dir}: no {CARD} (a model medbench trained has one)")
            break  # a base model medbench did not train
        card = schemas.read(schemas.ModelCard, path)
        held_out = _held_out(card.config.get("eval_data"))
        for name, digest in card.data_sha256.items():
            file = Path(name)
            if held_out is not None and file.resolve() == held_out:
                continue
            if not file.is_file():
                raise MedbenchError(
                    f"{path}: training file {name[:200]} is not here (run from where it was trained)"
                )
            if sha256_file(file) != digest:
                raise MedbenchError(
                    f"{path}: training file {name[:200]} changed since training (sha256 differs): the audit "
                    "would not check what the model saw"
                )
            files.append(file)
        folder, depth = card.base_model, depth - 1
    return list(dict.fromkeys(files))


def _held_out(spec) -> Path | None:
    """A stage's held-out evaluation file (``bundled:...`` or a path), resolved."""
    from medbench.paths import RESOURCES_DIR

    if not isinstance(spec, str) or not spec:
        return None
    return (
        RESOURCES_DIR / spec.removeprefix("bundled:") if spec.startswith("bundled:") else Path(spec)
    ).resolve()


def run_contamination(config: ContaminationConfig) -> tuple[RunFolder, dict]:
    """Index the items, stream the training files past them, write the audit folder."""
    if not config.train and not config.model_card:
        raise MedbenchError("name the training data: --train FILE[,FILE...] or --model-card MODEL_DIR")
    files = [Path(f).expanduser() for f in config.train]
    for f in files:
        if not f.is_file():
            raise MedbenchError(f"--train {f}: no such file")
    if config.model_card:
        files += card_files(config.model_card)
    docs = evaluation_items(config)
    texts = {f"{t}\t{i}": item_text(d) for (t, i), d in docs.items()}
    index = overlap.OverlapIndex({k: v[0] for k, v in texts.items()}, {k: v[1] for k, v in texts.items()})
    trained = []
    for f in files:
        before = index.lines
        index.scan(training_records(f))
        trained.append({"file": str(f), "sha256": sha256_file(f), "records": index.lines - before})
    rows = []
    for key, match in index.matches.items():
        task, item = key.split("\t", 1)
        why = [
            reason
            for reason, hit in (
                ("overlap", match.share >= overlap.FLAG_SHARE),
                ("exact", match.exact > 0),
                ("near_duplicate", match.near >= overlap.NEAR),
            )
            if hit
        ]
        rows.append(
            {
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
            }
        )
    summary = {
        "n": overlap.N,
        "flag_share": overlap.FLAG_SHARE,
        "near": overlap.NEAR,
        "training": trained,
        "tasks": {},
    }
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        flagged = [r for r in mine if r["flagged"]]
        summary["tasks"][task] = {
            "items": len(mine),
            "flagged": len(flagged),
            "share": len(flagged) / len(mine) if mine else 0.0,
            **{why: sum(why in r["why"] for r in mine) for why in ("overlap", "exact", "near_duplicate")},
        }
    folder = RunFolder.create(Path(config.output), "contamination")
    folder.write_config({"kind": "contamination", **asdict(config)})
    with open(folder.path / "contamination.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    folder.write_json("summary.json", summary)
    (folder.path / "results.md").write_text(markdown(summary), encoding="utf-8")
    return folder, summary


def markdown(summary: dict) -> str:
    records = sum(t["records"] for t in summary["training"])
    lines = [
        f"Contamination audit: {len(summary['training'])} training file(s), {records} records; an item is "
        f"flagged when {100 * summary['flag_share']:.0f}% of its character {summary['n']}-grams, its whole "
        f"text, or a near-duplicate (Jaccard >= {summary['near']}) is in them.",
        "",
    ]
    rows = [
        [
            task,
            s["items"],
            s["flagged"],
            f"{100 * s['share']:.1f}%",
            s["overlap"],
            s["exact"],
            s["near_duplicate"],
        ]
        for task, s in summary["tasks"].items()
    ]
    header = ["Task", "Items", "Flagged", "Share", "By n-gram overlap", "Whole text", "Near-duplicate"]
    lines += markdown_lines(header, rows, "lrrrrrr")
    return "\n".join(lines) + "\n"
