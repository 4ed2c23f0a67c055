"""``medbench report``: leaderboards, paper-style tables and plots from run, judge and bias folders.

Nothing is recomputed: every number comes from a folder's ``metrics.json`` / ``summary.json``.
Outputs under ``--out``: ``leaderboard.md``/``.csv``, ``index.html`` (self-contained: sortable
leaderboard, per-task sample browser, judge and bias tables; all model and data text escaped),
``tables/<paper table>.{md,csv,tex}`` with the published rows beside the measured ones (marked
"reported", never averaged with ours), and ``plots/<task>.{png,svg}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from medbench.errors import MedbenchError
from medbench.paths import plugin_dir

MAIN_METRICS = ("acc", "f1", "rougeL", "bleu1")
SAMPLES_SHOWN = 20


@dataclass
class Folder:
    path: Path
    kind: str  # run | judge | bias | arena
    model: str
    config: dict
    data: dict | list = field(default_factory=dict)


def _config(path: Path) -> dict | None:
    """A medbench folder's config (runs have ``tasks``, judge/bias/arena folders a ``kind``), else None."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) and ("tasks" in config or "kind" in config) else None


def _read(path: Path) -> Folder:
    config = _config(path)
    if config is None:
        raise MedbenchError(f"{path} is not a medbench run, judge or bias folder")
    kind = config.get("kind", "run")
    model = Path(str(config.get("model_name") or config.get("model") or path.name).rstrip("/")).name
    if kind == "run":
        metrics = path / "metrics.json"
        if not metrics.is_file():
            raise MedbenchError(f"{path} is a run folder without metrics.json (an unfinished run?)")
        return Folder(path, kind, model, config, json.loads(metrics.read_text(encoding="utf-8")))
    summary = path / "summary.json"
    if not summary.is_file():
        raise MedbenchError(f"{path} is a {kind} folder without summary.json")
    return Folder(path, kind, model, config, json.loads(summary.read_text(encoding="utf-8")))


def collect(paths: list[str]) -> list[Folder]:
    """Folders given directly, or every folder with a config.json below a given directory."""
    folders = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise MedbenchError(f"{path} does not exist")
        if (path / "config.json").is_file():
            folders.append(_read(path))
            continue
        found = sorted(c.parent for c in path.rglob("config.json") if _config(c.parent) is not None)
        if not found:
            raise MedbenchError(f"{path} holds no run, judge or bias folders")
        folders += [_read(f) for f in found]
    return folders


def measured(runs: list[Folder]) -> dict[str, dict[tuple[str, str, str], dict]]:
    """model -> (task, metric, row convention) -> score; a later run of the same task wins."""
    table: dict[str, dict] = {}
    for run in sorted(runs, key=lambda f: f.path.name):
        for s in run.data:
            convention = (
                s["convention"].split(" ")[0] if s["convention"].startswith(("micro", "macro")) else ""
            )
            table.setdefault(run.model, {})[(s["task"], s["metric"], convention)] = s
    return table


def main_metric(scores: dict, task: str) -> tuple[str, str] | None:
    for metric in MAIN_METRICS:
        for convention in ("micro", ""):
            if (task, metric, convention) in scores:
                return metric, convention
    return None


def published_rows(columns: list[str]) -> list[dict]:
    """The papers' published numbers under the leaderboard's own columns, marked reported."""
    specs = yaml.safe_load((plugin_dir("reports") / "paper_tables.yaml").read_text(encoding="utf-8"))
    published = pd.concat(
        [pd.read_csv(p, dtype=str) for p in sorted((plugin_dir("reports") / "published").glob("*.csv"))]
    )
    rows: dict[tuple[str, str], dict] = {}
    for spec in specs.values():
        part = published[(published["paper"] == spec["paper"]) & (published["table"] == spec["table"])]
        for c in spec["columns"]:
            label = f"{c['task']} ({c['metric']}{', ' + c['convention'] if c.get('convention') else ''})"
            if label not in columns:
                continue
            for _, r in part[part["column"] == c["name"]].iterrows():
                source = f"reported ({spec['paper']} {spec['table']})"
                row = rows.setdefault((r["model"], source), {"model": r["model"], "source": source})
                row[label] = pd.to_numeric(r["value"], errors="coerce")
    return list(rows.values())


def leaderboard(runs: list[Folder], with_published: bool = False) -> pd.DataFrame:
    """One row per model, one column per task (main metric, x100), and the items behind each;
    optionally the papers' published rows, marked reported (never averaged with measured ones)."""
    table = measured(runs)
    tasks = sorted({task for scores in table.values() for task, _, _ in scores})
    rows = []
    for model, scores in table.items():
        row = {"model": model, "source": "measured"}
        for task in tasks:
            picked = main_metric(scores, task)
            if picked:
                s = scores[(task, *picked)]
                label = f"{task} ({picked[0]}{', ' + picked[1] if picked[1] else ''})"
                row[label] = round(100 * s["value"], 2)
                row[f"{label} n"] = s["n"]
        rows.append(row)
    board = pd.DataFrame(rows)
    if with_published:
        board = pd.concat([board, pd.DataFrame(published_rows(list(board.columns)))], ignore_index=True)
    return board


def paper_tables(
    runs: list[Folder], with_published: bool = True, only: list[str] | None = None
) -> dict[str, tuple[str, pd.DataFrame]]:
    """Each paper table: measured rows for every model, then the paper's own rows marked reported."""
    specs = yaml.safe_load((plugin_dir("reports") / "paper_tables.yaml").read_text(encoding="utf-8"))
    specs = {k: v for k, v in specs.items() if only is None or k in only}
    published = pd.concat(
        [pd.read_csv(p, dtype=str) for p in sorted((plugin_dir("reports") / "published").glob("*.csv"))]
    )
    table = measured(runs)
    out = {}
    for name, spec in specs.items():
        names = [c["name"] for c in spec["columns"]]
        rows = []
        for model, scores in table.items():
            values = {}
            for c in spec["columns"]:
                s = next(
                    (
                        scores[k]
                        for variant in ("", "_gen", "_loglik")  # either scoring mode measures the column
                        if (k := (c["task"] + variant, c["metric"], c.get("convention", ""))) in scores
                    ),
                    None,
                )
                values[c["name"]] = None if s is None else round(100 * s["value"], 2)
            if any(v is not None for v in values.values()):
                rows.append({"Model": model, **values, "Source": "measured"})
        if with_published:
            part = published[(published["paper"] == spec["paper"]) & (published["table"] == spec["table"])]
            for model, group in part.groupby("model", sort=False):
                values = dict(zip(group["column"], group["value"], strict=True))
                rows.append(
                    {
                        "Model": model,
                        **{n: values.get(n) for n in names},
                        "Source": f"reported ({spec['paper']} {spec['table']})",
                    }
                )
        out[name] = (spec["title"], pd.DataFrame(rows, columns=["Model", *names, "Source"]))
    return out


def plot_tasks(runs: list[Folder], out: Path) -> list[str]:
    """One bar chart per task: the main metric of every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = measured(runs)
    tasks = sorted({task for scores in table.values() for task, _, _ in scores})
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in tasks:
        models, values, label = [], [], ""
        for model, scores in table.items():
            picked = main_metric(scores, task)
            if picked:
                models.append(model)
                values.append(100 * scores[(task, *picked)]["value"])
                label = picked[0]
        fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(models), 3))
        ax.bar(range(len(models)), values, color="#4C72B0")
        ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
        ax.set_title(task)
        ax.set_ylabel(f"{label} (x100)")
        fig.tight_layout()
        for suffix in (".png", ".svg"):
            fig.savefig(out / f"{task}{suffix}", dpi=110)
        plt.close(fig)
        written.append(task)
    return written


def stage_progression(runs: list[Folder], out: Path) -> list[str]:
    """Per recipe, each task's main metric across training stages (from the models' model cards)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_recipe: dict[str, dict[str, Folder]] = {}
    for run in runs:
        card_file = Path(str(run.config.get("model", ""))) / "medbench_model_card.json"
        if card_file.is_file():
            card = json.loads(card_file.read_text(encoding="utf-8"))
            if card.get("recipe"):
                by_recipe.setdefault(card["recipe"], {})[card["stage"]] = run
    written = []
    for recipe, stages in by_recipe.items():
        order = [s for s in ("pretrain", "sft", "reward", "rejection_sampling", "rl", "dpo") if s in stages]
        table = measured([stages[s] for s in order])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        groups = {t for scores in table.values() for t, _, c in scores if c == "micro"}
        every = {t for scores in table.values() for t, _, _ in scores}
        tasks = sorted(groups | {t for t in every if not any(t.startswith(f"{g}_") for g in groups)})
        for task in tasks:
            points = []
            for stage in order:
                scores = table.get(stages[stage].model, {})
                picked = main_metric(scores, task)
                points.append(100 * scores[(task, *picked)]["value"] if picked else float("nan"))
            ax.plot(order, points, marker="o", label=task)
        ax.set_title(f"{recipe}: main metric by training stage")
        ax.legend(fontsize=7)
        fig.tight_layout()
        for suffix in (".png", ".svg"):
            fig.savefig(out / f"stages-{recipe}{suffix}", dpi=110)
        plt.close(fig)
        written.append(recipe)
    return written


def _samples(run: Folder) -> dict[str, list[dict]]:
    out = {}
    for file in sorted((run.path / "samples").glob("*.jsonl")):
        out[file.stem] = [
            json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()[:SAMPLES_SHOWN]
        ]
    return out


def html(folders: list[Folder], board: pd.DataFrame, tables: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(plugin_dir("reports") / "templates"),
        autoescape=True,  # every piece of model or data text is escaped
    )
    runs = [f for f in folders if f.kind == "run"]
    return env.get_template("index.html.j2").render(
        columns=[c for c in board.columns if not c.endswith(" n")],
        board=board.to_dict("records"),
        tables={
            name: (title, df.to_dict("records"), list(df.columns)) for name, (title, df) in tables.items()
        },
        runs=[
            {"model": r.model, "path": r.path.name, "samples": _samples(r), "metrics": r.data} for r in runs
        ],
        judges=[f for f in folders if f.kind == "judge"],
        bias=[f for f in folders if f.kind == "bias"],
        json=json,
    )


def build(
    paths: list[str],
    out: str,
    formats: list[str],
    with_published: bool = True,
    tables: list[str] | None = None,
) -> Path:
    folders = collect(paths)
    runs = [f for f in folders if f.kind == "run"]
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    board = leaderboard(runs, with_published)
    tables = paper_tables(runs, with_published, tables)
    if "md" in formats:
        (target / "leaderboard.md").write_text(board.to_markdown(index=False) + "\n", encoding="utf-8")
    if "csv" in formats:
        board.to_csv(target / "leaderboard.csv", index=False)
    table_dir = target / "tables"
    table_dir.mkdir(exist_ok=True)
    for name, (title, df) in tables.items():
        if "md" in formats:
            (table_dir / f"{name}.md").write_text(
                f"{title}\n\n{df.to_markdown(index=False)}\n", encoding="utf-8"
            )
        if "csv" in formats:
            df.to_csv(table_dir / f"{name}.csv", index=False)
        if "latex" in formats:
            (table_dir / f"{name}.tex").write_text(
                df.to_latex(index=False, na_rep="--", caption=title, escape=True), encoding="utf-8"
            )
    if "html" in formats:
        (target / "index.html").write_text(html(folders, board, tables), encoding="utf-8")
        plot_tasks(runs, target / "plots")
        stage_progression(runs, target / "plots")
        _extra_plots(folders, target / "plots")
    return target


def _extra_plots(folders: list[Folder], out: Path) -> None:
    """Judge stacked bars (one per judge folder) and the bias chart across models."""
    from medbench.bias_run import plot as plot_bias
    from medbench.judge import plot as plot_judge

    for judge in (f for f in folders if f.kind == "judge" and "dimensions" in f.data):
        plot_judge(judge.data, out / f"judge-{judge.path.name}")
    bias = {f.model: f.data for f in folders if f.kind == "bias"}
    if bias:
        plot_bias(bias, out / "bias")
