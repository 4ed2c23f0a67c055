"""Human ratings: the sheet raters fill in, read back like any user input, and each judge's and the
jury's agreement with the raters -- the check Zhongjing and IIMedGPT did by hand.

``medbench judge --human-template RUN_A RUN_B --rubric R`` writes ``human-<rubric>-<task>.csv``: one
row per item and dimension with the question and both answers, the answers' seats drawn at random
(``--seed``) and the models' names left out; the seats are recorded beside it in
``<same name>.key.json``. A rater fills in ``verdict`` (``1``: answer 1 is better, ``2``: answer 2,
``tie``) and ``rater``; ``win|tie|loss`` there is answer 1's outcome too -- the rater sees seats,
never run A. Its cells are made safe for spreadsheets (an answer ``=HYPERLINK(...)`` is written
``'=HYPERLINK(...)``). ``--human ratings.csv`` reads a filled sheet (its key file beside it), or any
CSV with the columns ``id, dimension, verdict, rater`` (no ``answer_1``, ``answer_2``) whose
verdicts are ``win|tie|loss`` from run A's side. Every row is checked: a problem is one line naming
the file, the row and the field.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.safe_cells import spreadsheet_cell, spreadsheet_text
from medbench.judge.agreement import agreement, kappa
from medbench.judge.items import answer_text, paired_items
from medbench.judge.rubric import FLIP, OUTCOMES, question_text

TEMPLATE = ("id", "dimension", "question", "answer_1", "answer_2", "verdict", "rater")
SEATED = {"1": "win", "2": "loss", "tie": "tie"}  # answer 1's outcome, in the sheet's seats
SEAT_COLUMNS = ("answer_1", "answer_2")  # a sheet with these shows seats: every verdict is by seat
LONGEST_CELL = 200  # an id, dimension, rater or verdict longer than this is not one


def key_path(sheet: Path) -> Path:
    return sheet.with_name(sheet.stem + ".key.json")


def write_template(config, rubric: dict) -> Path:
    """The sheet for raters and its key (which run sits in which seat), never over a filled one."""
    task, pairs, _failed = paired_items(*config.runs, config.task)
    sheet = Path(config.output) / f"human-{rubric['rubric']}-{task}.csv"
    if sheet.exists():
        raise MedbenchError(f"{sheet} exists (it may hold ratings): move it, or pass another --output")
    sheet.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    seats, rows = {}, []
    for a, b in pairs:
        if not answer_text(a).strip() or not answer_text(b).strip():
            continue  # nothing to rate: judged without a rater (see medbench.judge.pairwise)
        item = str(a["id"])
        seats[item] = rng.random() < 0.5
        first, second = (a, b) if seats[item] else (b, a)
        for dim in rubric["dimensions"]:
            question = question_text(a, config.lang)
            rows.append([item, dim["name"], question, answer_text(first), answer_text(second), "", ""])
    with open(sheet, "w", encoding="utf-8-sig", newline="") as fh:  # the BOM: spreadsheets read UTF-8
        writer = csv.writer(fh)
        writer.writerow(TEMPLATE)
        writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    key = {"runs": [Path(r).name for r in config.runs], "rubric": rubric["rubric"], "task": task}
    key_path(sheet).write_text(json.dumps({**key, "a_first": seats}, ensure_ascii=False, indent=1), "utf-8")
    return sheet


def _key(sheet: Path, runs: list[str]) -> dict[str, bool]:
    """The seats of a filled sheet, checked: written for these two runs, in this order."""
    path = key_path(sheet)
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise MedbenchError(
            f"{sheet} gives verdicts by seat (1, 2, tie): its key file {path.name} (written with the "
            "sheet by --human-template) must lie beside it"
        ) from None
    except ValueError:
        raise MedbenchError(f"{path}: not readable JSON") from None
    seats = key.get("a_first") if isinstance(key, dict) else None
    if not isinstance(seats, dict) or not all(isinstance(v, bool) for v in seats.values()):
        raise MedbenchError(f"{path}: expected an object with 'a_first': {{item id: true|false}}")
    names = [Path(r).name for r in runs]
    if key.get("runs") != names:
        raise MedbenchError(f"{path}: written for the runs {key.get('runs')!r}, not {names} (in this order)")
    return seats


def _cell(row: dict, field: str, where: str) -> str:
    value = spreadsheet_text((row.get(field) or "").strip())
    if len(value) > LONGEST_CELL:
        raise MedbenchError(f"{where}: field '{field}' is {len(value)} characters (at most {LONGEST_CELL})")
    return value


def read_ratings(sheet: str, runs: list[str], dimensions: list[str], items: set[str]) -> dict:
    """``{"labels": {dimension: {rater: {item: outcome for A}}}, "unrated": n, "unknown_items": n}``."""
    path = Path(sheet)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MedbenchError(f"--human {sheet}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise MedbenchError(f"--human {sheet}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in ("id", "dimension", "verdict", "rater") if c not in (reader.fieldnames or [])]
    if missing:
        raise MedbenchError(
            f"{sheet}: no column {', '.join(missing)} (expected id, dimension, verdict, rater)"
        )
    labels: dict[str, dict[str, dict[str, str]]] = {d: {} for d in dimensions}
    seated = all(c in reader.fieldnames for c in SEAT_COLUMNS)
    seats = None
    unrated = unknown = 0
    for number, row in enumerate(reader, 2):
        where = f"{sheet}:{number}"
        item, dim, verdict, rater = (_cell(row, f, where) for f in ("id", "dimension", "verdict", "rater"))
        if not verdict:
            unrated += 1  # a row of the sheet not rated (yet)
            continue
        if not rater:
            raise MedbenchError(f"{where}: field 'rater' is empty (who gave verdict '{verdict}'?)")
        if dim not in labels:
            raise MedbenchError(f"{where}: field 'dimension' {dim!r} is not one of {', '.join(dimensions)}")
        word = verdict.lower()
        if word not in OUTCOMES and word not in SEATED:
            raise MedbenchError(
                f"{where}: field 'verdict' must be 1, 2 or tie (or win, tie, loss), got {verdict!r}"
            )
        outcome = SEATED.get(word, word)  # answer 1's outcome on a seated sheet, else run A's
        if seated or word not in OUTCOMES:  # 1 or 2 names a seat on any sheet
            seats = seats if seats is not None else _key(path, runs)
            if item not in seats:
                raise MedbenchError(f"{where}: item {item!r} is not in the sheet's key file")
            outcome = outcome if seats[item] else FLIP[outcome]
        if item not in items:
            unknown += 1  # an item these runs did not both answer (or another task's)
            continue
        if item in labels[dim].setdefault(rater, {}):
            raise MedbenchError(f"{where}: rater {rater!r} rated item {item!r} on {dim} twice")
        labels[dim][rater][item] = outcome
    return {"labels": labels, "unrated": unrated, "unknown_items": unknown}


def _majority(votes: list[str]) -> str | None:
    top = max(set(votes), key=votes.count)
    return top if 2 * votes.count(top) > len(votes) else None


def human_agreement(ratings: dict, finals: dict[str, dict[str, dict[str, str]]], seed: int) -> dict:
    """Per dimension: the raters' agreement with each other, and each judge's (and the jury's) with
    the raters' majority label -- kappa with its interval, accuracy, confusion matrix (rows: the
    humans' label, columns: the judge's)."""
    out = {"unrated": ratings["unrated"], "unknown_items": ratings["unknown_items"], "dimensions": {}}
    for dim, raters in ratings["labels"].items():
        if not raters:
            continue
        items = sorted({i for rated in raters.values() for i in rated})
        votes = {i: [rated[i] for rated in raters.values() if i in rated] for i in items}
        label = {i: _majority(v) for i, v in votes.items()}
        report = {
            "raters": sorted(raters),
            "items": len(items),
            "raters_split": sum(v is None for v in label.values()),
            "judges": {},
        }
        if len(raters) >= 2:
            report["inter_rater"] = agreement(raters, OUTCOMES, "nominal", seed)
        for judge, by_dim in finals.items():
            pairs = [(label[i], by_dim[dim][i]) for i in items if label[i] and by_dim.get(dim, {}).get(i)]
            confusion = {h: {j: sum(p == (h, j) for p in pairs) for j in OUTCOMES} for h in OUTCOMES}
            report["judges"][judge] = {
                "n": len(pairs),
                "accuracy": sum(h == j for h, j in pairs) / len(pairs) if pairs else None,
                "kappa": kappa(pairs, OUTCOMES, seed),
                "confusion": confusion,
            }
        out["dimensions"][dim] = report
    return out
