"""The report's tables: the leaderboard (one row per model and result-affecting settings) and the
paper-style tables, each number read from a folder's ``metrics.json`` (nothing is recomputed), and the
papers' published numbers beside them, marked reported. :mod:`medbench.report.site` writes them.

A leaderboard row is one model (its full name and fingerprint, shown by the shortest path suffix
that tells it apart from the others) under one set of result-affecting settings: two models that
share a folder name never merge, nor do two runs of one model with different ``--limit`` or shots.
Each score shows the items behind it and those excluded.
"""

from __future__ import annotations

import functools
import logging

import pandas as pd
import yaml

from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from medbench.report.folders import Folder

log = logging.getLogger("medbench")

#: the first a task has heads its column: CMB's own average before the share of questions right (a
#: cmb_exam_official column shows what CMB reports); the last, a clean-subset score
#: (medbench.audit.clean), heads a column only in a clean-only report
MAIN_METRICS = ("acc_cmb", "acc", "acc_cmexam", "f1", "rougeL", "bleu1", "clean_acc")


def shown_runs(runs: list[Folder]) -> dict[str, dict[str, Folder]]:
    """model -> task -> the run whose scores of that task a report shows: the latest (folder names
    begin with their time). Every score of a task comes from that one run, so a row never shows acc
    from one run beside clean_acc from another, whatever order the folders were given in."""
    out: dict[str, dict[str, Folder]] = {}
    for run in sorted(runs, key=lambda f: f.path.name):
        for s in run.data:
            out.setdefault(run.model, {})[s["task"]] = run
    return out


def measured(runs: list[Folder]) -> dict[str, dict[tuple[str, str, str], dict]]:
    """model -> (task, metric, row convention) -> score, each task's from its latest run."""
    table: dict[str, dict] = {}
    for model, tasks in shown_runs(runs).items():
        for task, run in tasks.items():
            for s in run.data:
                if s["task"] != task:
                    continue
                convention = (
                    s["convention"].split(" ")[0] if s["convention"].startswith(("micro", "macro")) else ""
                )
                table.setdefault(model, {})[(task, s["metric"], convention)] = s
    return table


def excluded(score: dict) -> str:
    """``"2 failed, 1 malformed"`` or ``"0"``: the items of a score's split that are not in its n."""
    parts = [
        f"{score.get(f'n_{why}', 0)} {why}"
        for why in ("failed", "malformed", "duplicate")
        if score.get(f"n_{why}", 0)
    ]
    return ", ".join(parts) or "0"


def row_status(runs: list[Folder]) -> dict[str, str]:
    """Per row: ``complete``, or why not. Only the runs whose scores the row shows count: a failed run
    re-run with the same settings is superseded by the re-run (the later run of a task wins, as in
    :func:`measured`), not reported as incomplete beside its score."""
    shown = {(model, task): run for model, tasks in shown_runs(runs).items() for task, run in tasks.items()}
    for run in runs:
        if not run.data:
            shown[(run.model, "")] = run
    out: dict[str, str] = {}
    for (model, _), run in shown.items():
        if run.status.get("complete") is False:
            out[model] = f"incomplete ({run.status.get('n_failed', '?')} failed)"
        else:
            out.setdefault(model, "complete")
    return out


#: a named metric convention -> how the main metrics are spelled under it (README "Conventions")
HEADLINES: dict[str, dict[str, str]] = {
    "sacrebleu-zh": {},
    "cmexam-official": {"rougeL": "rougeL_cmexam", "bleu1": "bleu1_cmexam"},
    "jieba": {"rougeL": "rougeL_jieba", "bleu1": "bleu1_jieba"},
    "char-f1": {"rougeL": "char_f1", "bleu1": "char_f1"},
    "gold-placement": {},
    "all-occurrences": {"f1": "all_occurrences_f1"},
    "first-occurrence": {"f1": "first_occurrence_f1"},
    "mention-set": {"f1": "mention_set_f1"},
}
#: ``None`` (each metric's default), one convention for every task, or a convention per task
Headline = str | dict[str, str] | None


def check_headline(headline: Headline) -> None:
    names = [headline] if isinstance(headline, str) else list((headline or {}).values())
    unknown = [n for n in names if n not in HEADLINES]
    if unknown:
        raise MedbenchError(f"unknown convention {unknown[0]!r} (known: {', '.join(HEADLINES)})")


def main_metric(scores: dict, task: str, headline: Headline = None) -> tuple[str, str] | None:
    """The (metric, row convention) shown for a task: the first main metric it has, spelled under
    the headline convention chosen for it (the column label then names that metric)."""
    name = headline if isinstance(headline, str) else (headline or {}).get(task.removesuffix("_gen"))
    spelling = HEADLINES.get(name or "", {})
    for metric in MAIN_METRICS:
        metric = spelling.get(metric, metric)
        for convention in ("micro", ""):
            if (task, metric, convention) in scores:
                return metric, convention
    return None


def column_label(task: str, metric: str, convention: str = "") -> str:
    """A leaderboard column's name: ``ceval_med (acc, micro)``, ``medqa_mcmle (acc)``."""
    return f"{task} ({metric}{', ' + convention if convention else ''})"


def published_records(columns: list[str]) -> list[dict]:
    """Each published number under one of the leaderboard's columns (a column the paper measured
    differently gets its own label): model, label, value, paper, table, paper column name, task."""
    specs = yaml.safe_load((plugin_dir("reports") / "paper_tables.yaml").read_text(encoding="utf-8"))
    published = pd.concat(
        [pd.read_csv(p, dtype=str) for p in sorted((plugin_dir("reports") / "published").glob("*.csv"))]
    )
    records = []
    for spec in specs.values():
        part = published[(published["paper"] == spec["paper"]) & (published["table"] == spec["table"])]
        for c in spec["columns"]:
            label = column_label(c["task"], c["metric"], c.get("convention", ""))
            if label not in columns:
                continue
            if c.get("published_measures"):  # the paper measured something else: its own column
                label = f"{c['name']} ({spec['paper']}: {c['published_measures']})"
            for _, r in part[part["column"] == c["name"]].iterrows():
                value = pd.to_numeric(r["value"], errors="coerce")
                records.append(
                    {
                        "model": r["model"],
                        "label": label,
                        "value": None if pd.isna(value) else float(value),
                        "paper": spec["paper"],
                        "table": spec["table"],
                        "name": c["name"],
                        "task": c["task"],
                        "metric": c["metric"],
                    }
                )
    return records


def paper_tables(
    runs: list[Folder], with_published: bool = True, only: list[str] | None = None
) -> dict[str, tuple[str, pd.DataFrame]]:
    """Each paper table: measured rows for every model (with how they were scored: mode, prompt style,
    and the metric convention where the table declares one), then the paper's own rows marked reported."""
    specs = yaml.safe_load((plugin_dir("reports") / "paper_tables.yaml").read_text(encoding="utf-8"))
    specs = {k: v for k, v in specs.items() if only is None or k in only}
    published = pd.concat(
        [pd.read_csv(p, dtype=str) for p in sorted((plugin_dir("reports") / "published").glob("*.csv"))]
    )
    table = measured(runs)
    prompts = {run.model: run.config.get("prompt_style") or "official" for run in runs}
    limits = {run.model: run.config.get("limit") for run in runs}
    shown = shown_runs(runs)
    out = {}
    for name, spec in specs.items():
        names = [c["name"] for c in spec["columns"]]
        rows = []
        for model, scores in table.items():
            values, modes, items, circular = {}, {}, {}, False
            for c in spec["columns"]:
                found = next(
                    (
                        (scores[k], variant)
                        for variant in ("", "_gen", "_loglik")  # either scoring mode measures the column
                        if (k := (c["task"] + variant, c["metric"], c.get("convention", ""))) in scores
                    ),
                    None,
                )
                s = found[0] if found else None
                values[c["name"]] = None if s is None or s["value"] is None else round(100 * s["value"], 2)
                if values[c["name"]] is not None:
                    modes[c["name"]] = scoring_mode(c["task"] + found[1])
                    # a --circular run's scores are means over rotations: its row says so
                    circular = circular or bool(shown[model][c["task"] + found[1]].config.get("circular"))
                if s is not None:  # a measured column with no value says it rests on no item
                    items[c["name"]] = s["n"]
            if any(v is not None for v in values.values()):
                rows.append(
                    {
                        "Model": model,
                        **values,
                        "Source": "measured",
                        "Mode": _modes(modes) + (" (--circular)" if circular else ""),
                        "Prompts": prompts[model],
                        "Items": _items(items, limits[model]),
                    }
                )
                rows[-1]["Convention"] = spec.get("measured_convention")
        if with_published:
            part = published[(published["paper"] == spec["paper"]) & (published["table"] == spec["table"])]
            for model, group in part.groupby("model", sort=False):
                values = dict(zip(group["column"], group["value"], strict=True))
                rows.append(
                    {
                        "Model": model,
                        **{n: values.get(n) for n in names},
                        "Source": f"reported ({spec['paper']} {spec['table']})",
                        "Convention": spec.get("published_convention"),
                    }
                )
        # a table whose numbers depend on a metric convention says which one each row used
        labelled = "measured_convention" in spec or "published_convention" in spec
        columns = [
            "Model",
            *names,
            "Source",
            "Mode",
            "Prompts",
            "Items",
            *(["Convention"] if labelled else []),
        ]
        title = spec["title"]
        if with_published and spec.get("no_published"):  # an empty paper side says why, never silently
            title += f" -- published rows: none ({spec['no_published']})"
        out[name] = (title, pd.DataFrame(rows, columns=columns))
    return out


@functools.lru_cache(maxsize=1)
def _manager():
    """One lm-eval task index for the whole report (building one reads every task YAML)."""
    from medbench.run.planning import task_manager

    return task_manager()


@functools.lru_cache(maxsize=256)
def scoring_mode(task: str) -> str:
    """``loglik`` or ``gen``: how a task's items are scored (its lm-eval output type)."""
    from medbench.data.catalog import leaf_tasks, task_config

    manager = _manager()
    try:  # a group is scored as its tasks are
        output_type = task_config(manager, leaf_tasks(manager, task)[0]).get("output_type")
    except (KeyError, IndexError):
        return "?"
    return "gen" if output_type == "generate_until" else "loglik"


@functools.lru_cache(maxsize=256)
def members(task: str) -> tuple[str, ...]:
    """A group's leaf tasks (lm-eval's group definition); a task alone for anything else."""
    from medbench.data.catalog import leaf_tasks

    try:
        return tuple(leaf_tasks(_manager(), task))
    except KeyError:
        return (task,)


def _items(items: dict[str, int], limit: int | None) -> str:
    """The items a measured row rests on: one n, or each column's where they differ, and the
    ``--limit`` it ran under (a 5-item row is not a paper's full test set)."""
    distinct = sorted(set(items.values()))
    text = str(distinct[0]) if len(distinct) == 1 else "; ".join(f"{c}: {n}" for c, n in items.items())
    return text + (f" (--limit {limit})" if limit else "")


def _modes(modes: dict[str, str]) -> str:
    """A measured row's mode: one word, or each column's where they differ."""
    distinct = sorted(set(modes.values()))
    if len(distinct) == 1:
        return distinct[0]
    return "; ".join(f"{column}: {mode}" for column, mode in modes.items())
