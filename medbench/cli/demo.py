"""``medbench demo``: the whole product offline on CPU in a few minutes.

Builds the tiny model, trains it through the tiny recipe (pretrain -> sft -> reward -> dpo) on the
bundled data, evaluates every stage on the bundled sample tasks, prints the stages side by side, then
runs the Qilin-Med suite on the final model, the Zhongjing suite's judge step (DPO against SFT answers,
the DPO model itself served by ``transformers serve`` as a toy judge; skipped with one line where
serving is not installed), the CAMI bias scale, and writes the report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from medbench.analysis.letters import letter_shares
from medbench.analysis.summary import Score
from medbench.config.record import RunRecord
from medbench.core import progress
from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from medbench.core.safe_cells import markdown_lines
from medbench.report.stage_changes import changes
from medbench.run.runner import RunConfig, run


def _step(text: str) -> None:
    """One line per demo step, also the live display's stage row in a terminal."""
    print(f"[demo] {text} ...", flush=True)
    progress.stage(text)


STAGES = ("pretrain", "sft", "reward", "dpo")
EVALUATED = ("base", "pretrain", "sft", "dpo")
TASKS = [
    "ceval_med",
    "cmmlu_med",
    "medqa_mcmle",
    "cmexam",
    "huatuo26m",
    "cmtmedqa",
]  # every sample a suite reads
# (task, metric, row convention, what guessing scores) shown in the comparison table
SHOWN = [
    ("ceval_med", "acc", "micro", "25.00 (4 options)"),
    ("cmmlu_med", "acc", "micro", "25.00 (4 options)"),
    ("medqa_mcmle", "acc", "", "25.00 (4 options)"),
    ("cmexam", "acc", "", "<= 20 (5 options, some items several answers)"),
    ("cmexam", "parse_fail_rate", "", "lower is better"),
    ("huatuo26m", "bleu1", "", "0 = no word in common"),
    ("huatuo26m", "rougeL", "", "0 = no character in common"),
]


def _cell(scores: list[Score], task: str, metric: str, convention: str) -> str:
    """``value [low, high]`` (x100, the 95% interval), or empty."""
    for s in scores:
        same = s.task == task and s.metric == metric and s.convention.startswith(convention)
        if same and s.value is not None:
            interval = "" if s.ci_low is None else f" [{100 * s.ci_low:.1f}, {100 * s.ci_high:.1f}]"
            return f"{100 * s.value:.2f}{interval}"
    return ""


def _top_letter(run: Path) -> str:
    """``A 100%``: the letter a run's multiple-choice replies named most, and its share."""
    shares = letter_shares(RunRecord.open(run).all_samples())
    if not shares:
        return ""
    letter, count = shares.most_common(1)[0]
    return f"{letter} {100 * count / sum(shares.values()):.0f}%"


def comparison_table(
    results: dict[str, list[Score]], cards: dict[str, dict], folders: dict[str, Path]
) -> str:
    """Stages side by side: task metrics (x100, with 95% intervals), the letter each stage named most
    (a stage naming one letter for every item measures a letter preference), and each training stage's
    held-out evidence."""
    names = list(results)
    rows = []
    for task, metric, convention, chance in SHOWN:
        cells = [_cell(results[name], task, metric, convention) for name in names]
        label = f"{task} ({convention})" if convention else task
        rows.append([label, metric, *cells, chance])
    rows.append(["multiple choice", "most named letter", *(_top_letter(folders[name]) for name in names), ""])
    lines = markdown_lines(["Task", "Metric", *names, "chance"], rows, "ll" + "r" * len(names) + "l")
    checks = [
        [stage, f"{h['metric']} ({h['better']} is better)", f"{h['before']:.3f}", f"{h['after']:.3f}"]
        for stage, h in ((stage, card.get("heldout") or {}) for stage, card in cards.items())
        if h
    ]
    lines += ["", *markdown_lines(["Stage", "Held-out check", "Before", "After"], checks, "llrr")]
    lines += [
        "",
        "Values x100 with their 95% intervals; a gap inside the intervals is not a finding. A stage that "
        "names one letter for nearly every item measures a letter preference (medbench run --circular).",
    ]
    return "\n".join(lines) + "\n"


def judge_step(out: Path, recipe) -> None:
    """Zhongjing's suite on the DPO model: Huatuo-26M judged against the SFT model's answers, with the
    DPO model itself served as an OpenAI-compatible judge (a toy judge: its verdicts mostly fail to
    parse, and the report counts them)."""
    from medbench.cli.suite import SuiteConfig, run_suite
    from medbench.models.serve import serving_available, transformers_serve
    from medbench.train.run import stage_config

    if not serving_available():
        print("[demo] skipping the judge step: it needs `pip install 'transformers[serving]'`", flush=True)
        return
    sft_run = next(p for p in sorted(out.glob("*-sft")) if (p / "samples" / "huatuo26m.jsonl").is_file())
    final = stage_config(recipe, "dpo").output_dir
    _step("judge step: Zhongjing suite, DPO vs SFT answers, judged by a served model")
    with transformers_serve(final) as url:
        root, _ = run_suite(
            SuiteConfig(
                suite="zhongjing",
                model=final,
                data_dir=str(SAMPLES_DIR),
                output=str(out),
                max_new_tokens=48,
                baseline=str(sft_run),
                judge_model=final,
                judge_base_url=url,
            )
        )
    for summary in sorted(root.rglob("summary.json")):
        found = RunRecord.open(summary.parent).json(summary.name, "the judge's summary")
        print(f"[demo] {judge_line(found)}", flush=True)


def judge_line(summary: dict) -> str:
    """What a judge step produced, in one line: judged items and outcomes, or why there are none."""
    dims = summary.get("dimensions", {})
    items = max((d["items"] for d in dims.values()), default=0)
    judged = sum(d["judged"] for d in dims.values())
    failures = sum(d["parse_failures"] for d in dims.values())
    empty = max((d.get("both_empty", 0) for d in dims.values()), default=0)
    head = f"judge ({summary.get('rubric')}, {summary.get('model_a')} vs {summary.get('model_b')}): "
    if not judged:
        return head + (
            f"0 of {items} items judged in {len(dims)} dimension(s): {empty} with both answers empty (not "
            f"sent), {failures} verdict(s) unreadable -- the tiny models cannot answer or judge; the "
            "protocol's output (prompts, replies, counts) is in the report"
        )
    rates = "; ".join(
        f"{name} win {100 * (d['rates']['win'] or 0):.0f}% / tie {100 * (d['rates']['tie'] or 0):.0f}%"
        for name, d in dims.items()
        if d["judged"]
    )
    return head + f"{judged} verdicts, {failures} unreadable; {rates}"


def demo(output: str, backend: str = "hf", backend_options: dict | None = None) -> str:
    """Train and evaluate every stage (with ``backend``: a local one, since the demo trains its own
    models); returns the comparison table (also saved as demo.md)."""
    from medbench.backends import backend_class
    from medbench.bias.run import BiasConfig, run_bias
    from medbench.cli.suite import SuiteConfig, run_suite
    from medbench.report.site import build
    from medbench.train.config import load_recipe
    from medbench.train.run import run_stage, stage_config

    if not backend_class(backend).capabilities.local:
        raise MedbenchError(f"the demo evaluates the models it trains: backend {backend} cannot load them")
    chosen = {"backend": backend, "backend_options": backend_options or {}}
    out = Path(output)
    recipe = load_recipe("tiny", str(out / "demo-models"))
    cards: dict[str, dict] = {}
    for stage in STAGES:
        started = time.time()
        _step(f"training stage {stage}")
        cards[stage] = run_stage(stage, stage_config(recipe, stage), recipe)
        print(
            f"[demo] {stage}: {cards[stage]['steps']} steps, loss {cards[stage]['first_loss']:.3f} -> "
            f"{cards[stage]['final_loss']:.3f} ({time.time() - started:.0f}s)",
            flush=True,
        )
    results: dict[str, list[Score]] = {}
    folders: dict[str, Path] = {}
    for name in EVALUATED:
        model = "tiny" if name == "base" else stage_config(recipe, name).output_dir
        _step(f"evaluating {name} on the bundled sample tasks")
        folder, results[name] = run(
            RunConfig(
                model=model,
                tasks=TASKS,
                data_dir=str(SAMPLES_DIR),
                output=str(out),
                max_new_tokens=48,
                **chosen,
            )
        )
        folders[name] = folder.path
    table = comparison_table(results, cards, folders)
    pairs = [(a, folders[a], b, folders[b]) for a, b in zip(EVALUATED, EVALUATED[1:], strict=False)]
    table += "\nWhat each stage fixed and broke (items both runs scored; p: exact McNemar):\n"
    table += "".join(f"- {line}\n" for line in changes(pairs))
    final = stage_config(recipe, "dpo").output_dir
    _step("Qilin-Med suite on the DPO model (bundled samples)")
    suite_root, _ = run_suite(
        SuiteConfig(
            suite="qilin_med",
            model=final,
            data_dir=str(SAMPLES_DIR),
            output=str(out),
            max_new_tokens=48,
            **chosen,
        )
    )
    judge_step(out, recipe)
    _step("CAMI bias scale on the DPO model (option log-likelihoods)")
    run_bias(BiasConfig(scale="cami", model=final, mode="loglik", output=str(out), **chosen))
    build([str(out)], str(out / "report"), ["md", "csv", "latex", "html"])
    table += "\nPaper tables (the measured row beside the paper's numbers):\n"
    for path in sorted((suite_root / "report" / "tables").glob("*.md")):
        title = path.read_text(encoding="utf-8").splitlines()[0].split(" (")[0]
        table += f"- {title}: {path}\n"
    table += f"\nReport (leaderboard, paper tables, plots, bias): {out / 'report'}/index.html\n"
    (out / "demo.md").write_text(table, encoding="utf-8")
    (out / "demo-models" / "cards.json").write_text(
        json.dumps(cards, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return table
