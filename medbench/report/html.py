"""The report's HTML pages and the cell escaping that keeps CSV and Markdown outputs safe.

``index.html`` (the grouped leaderboard of :mod:`medbench.report.board`, judges, bias, runs),
``tasks/<task>.html`` (metric details, a filterable sample browser, the task's plot) and
``papers/<table>.html`` (a paper's table in its own column order). Every page is self-contained and
works offline: plots are embedded as PNG data (never inline SVG or script from a folder), and Jinja
escapes every piece of model or data text.
"""

from __future__ import annotations

import base64
import json
import logging
from itertools import combinations
from pathlib import Path

from medbench.analysis.compare import pooled
from medbench.analysis.slices import Slice
from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from medbench.core.writing import make_folder, write_text
from medbench.report.board import Board, benchmarks, digits, group_of, no_value
from medbench.report.build import members
from medbench.report.folders import Folder, judge_names

log = logging.getLogger("medbench")

#: items shown per model and per-sample file on a task page
SAMPLES_SHOWN = 200


def data_uri(png: Path) -> str | None:
    """A PNG as a ``data:`` URI, so a page needs no file beside it."""
    if not png.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _status(record: dict) -> str:
    if "correct" not in record:
        return "scored"  # open generation: scored by overlap, not right or wrong
    if record.get("extracted") in (None, "", []):
        return "unparsed"
    return "correct" if record["correct"] else "wrong"


def _samples(runs: list[Folder], tasks: tuple[str, ...]) -> list[dict]:
    out = []
    for run in runs:
        folder = RunRecord.open(run.path)
        for task in tasks:
            file = folder.sample_file(task)
            if not file.is_file():
                continue
            for number, record in folder.lines(task)[:SAMPLES_SHOWN]:
                if not isinstance(record, dict):  # another program's line: not shown, and said so
                    log.warning("report: %s line %d is not a JSON object: not shown", file, number)
                    continue
                raw = record.get("raw")
                out.append(
                    {
                        "model": run.model,
                        "file": task,
                        "doc_id": record.get("doc_id"),
                        "status": _status(record),
                        "prompt": record.get("prompt", ""),
                        "output": raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False),
                        "extracted": record.get("extracted"),
                        "gold": record.get("gold"),
                    }
                )
    return out


def _pair_tests(runs: list[Folder], tasks: tuple[str, ...]) -> list[dict]:
    """Each pair of runs on this page: B - A and the exact McNemar test over the items both scored
    (a group's tasks pooled) -- the test behind the sample browser's "flipped against" view. A pair
    that cannot be compared (no shared items, other gold answers) is left out."""
    out = []
    for a, b in combinations(runs, 2):
        leaves = [t for t in tasks if all(RunRecord.open(r.path).sample_file(t).is_file() for r in (a, b))]
        try:
            result = pooled(a.path, b.path, leaves, tasks[0]) if leaves else None
        except MedbenchError:
            continue
        if result is not None and result.test == "exact McNemar":
            out.append({"a": a.model, "b": b.model, "result": result})
    return out


def _slices(runs: list[Folder], tasks: tuple[str, ...]) -> list[dict]:
    """Each run's per-slice accuracy (``--slice-by``) for this page's tasks, from its slices.json
    (checked like any received file: a bad entry is one logged line, the file not shown)."""
    out = []
    for run in runs:
        record = RunRecord.open(run.path)
        if not record.has("slices.json"):
            continue
        try:
            found = record.entries("slices.json", Slice)
        except MedbenchError as exc:
            found = []
            log.warning("report: %s not shown: %s", run.path / "slices.json", exc)
        out += [{"model": run.model, "slice": s} for s in found if s.task in tasks]
    return out


def _metric_table(metrics: list[tuple[str, dict]]) -> tuple[list[dict], list[dict]]:
    """A task page's metrics, one row per (task, metric, convention) with a value per model, and the
    items behind them per (model, task): n (each distinct n where metrics differ) and exclusions."""
    rows: dict[tuple, dict] = {}
    counts: dict[tuple, dict] = {}
    for model, s in metrics:
        row = rows.setdefault((s["task"], s["metric"], s["convention"]), {**s, "values": {}})
        row["values"][model] = s
        count = counts.setdefault((model, s["task"]), {"model": model, "task": s["task"], "n": []})
        count["n"] += [s["n"]] if s["n"] not in count["n"] else []
        for why in ("failed", "malformed", "duplicate"):
            count[why] = max(count.get(why, 0), s.get(f"n_{why}", 0))
    return list(rows.values()), list(counts.values())


def kept_column(group) -> str | None:
    """The column a folded benchmark group keeps: none of its tasks' when it has an average (the
    average stays), else its first measured task's (its first column where the papers give all)."""
    if group.averaged:
        return None
    own = [c for c in group.columns if not c.published_only] or group.columns
    return own[0].key if own else None


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(plugin_dir("reports") / "templates"),
        autoescape=True,  # every piece of model or data text is escaped
    )
    env.globals["digits"] = digits
    env.globals["no_value"] = no_value
    env.globals["kept_column"] = kept_column
    return env


def write_pages(
    target: Path, folders: list[Folder], board: Board, tables: dict, incomplete=(), stage_lines=None
) -> list[Path]:
    """Every page of the site under ``target``; the plots under ``target/plots`` must exist already."""
    env = _environment()
    plots = target / "plots"
    runs = [f for f in folders if f.kind == "run"]
    paper_links = [(name, title) for name, (title, _) in tables.items()]
    pages = sorted({c.task for g in board.groups for c in g.columns if c.task})
    written = []

    def write(path: Path, template: str, root: str, **context) -> None:
        make_folder(path.parent, "the report's pages")
        html = env.get_template(template).render(root=root, paper_links=paper_links, **context)
        write_text(path, html)
        written.append(path)

    write(
        target / "index.html",
        "index.html.j2",
        "",
        board=board,
        measured_rows=any(r.measured for r in board.rows),
        published_count=sum(not r.measured for r in board.rows),
        incomplete=[(str(p), why) for p, why in incomplete],
        task_pages=pages,
        stage_lines=stage_lines or {},
        stage_plots=[
            (p.stem.removeprefix("stages-"), data_uri(p)) for p in sorted(plots.glob("stages-*.png"))
        ],
        judges=[f for f in folders if f.kind == "judge" and "dimensions" in f.data],
        judge_names=judge_names(folders),
        judge_plots={
            f.path.name: data_uri(plots / f"judge-{f.path.name}.png") for f in folders if f.kind == "judge"
        },
        judge_length_plots={
            f.path.name: data_uri(plots / f"judge-length-{f.path.name}.png")
            for f in folders
            if f.kind == "judge"
        },
        bias=[f for f in folders if f.kind == "bias"],
        bias_plot=data_uri(plots / "bias.png"),
        runs=[
            {
                "model": r.model,
                "path": r.path.name,
                "status": "incomplete" if r.status.get("complete") is False else "complete",
                "tasks": sorted({s["task"] for s in r.data} & set(pages)),
            }
            for r in runs
        ],
    )
    for task in pages:
        group = members(task)
        tasks = (task, *(t for t in group if t != task))
        metrics = [(r.model, s) for r in runs for s in r.data if s["task"] in tasks]
        samples = _samples(runs, tasks)
        table, counts = _metric_table(metrics)
        write(
            target / "tasks" / f"{task}.html",
            "task.html.j2",
            "../",
            task=task,
            group=group_of(task),
            chance=benchmarks().get(group_of(task), {}).get("chance"),
            members=tasks,
            metric_models=sorted({m for m, _ in metrics}, key=str.casefold),
            metric_rows=table,
            counts=counts,
            plot=data_uri(plots / f"{task}.png"),
            samples=samples,
            pair_tests=_pair_tests([r for r in runs if any(s["task"] in tasks for s in r.data)], tasks),
            slices=_slices(runs, tasks),
            models=sorted({s["model"] for s in samples}),
            shown=SAMPLES_SHOWN,
        )
    for name, (title, df) in tables.items():
        measured_rows = df["Source"] == "measured"
        conventions = {}
        if "Convention" in df:  # said once above the table, not on every row
            conventions = {"measured rows": df[measured_rows], "published rows": df[~measured_rows]}
            conventions = {k: v["Convention"] for k, v in conventions.items()}
        write(
            target / "papers" / f"{name}.html",
            "paper.html.j2",
            "../",
            title=title,
            source=sorted(set(df[~measured_rows]["Source"])),
            conventions={k: sorted(set(v.dropna())) for k, v in conventions.items() if len(v.dropna())},
            columns=[c for c in df.columns if c != "Convention"],
            rows=df.assign(Source=df["Source"].where(measured_rows, "paper")).to_dict("records"),
        )
    return written
