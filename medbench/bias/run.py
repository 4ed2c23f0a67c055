"""``medbench bias``: a model answers CAMI / MICA as a respondent would; one bias run folder per run.

Modes: ``gen`` is ChiMed-GPT's protocol (the Table 11 prompt; the reply's option is extracted by
longest match; unparseable replies are excluded and their rate reported). ``loglik`` (local models)
scores every option's log-likelihood after the prompt: the option probabilities give an expected item
score and the argmax answer, far steadier than one sampled reply.

Folder ``<output>/<timestamp>-bias-<model>/``: ``config.json``, ``model.json``, ``items.jsonl`` (per
item and repeat: prompt, option order, raw reply or option probabilities, parsed option, score),
``summary.json`` (per scale: mean with bootstrap 95% CI over items, per subscale, mean ± std over
repeats, unparseable rate, items answered of the scale's total), ``results.md`` and ``bias.png``/``.svg``.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from dataclasses import asdict
from pathlib import Path

from medbench.analysis import intervals
from medbench.bias.plots import bias_bars
from medbench.bias.scales import Scale, extract_option, load_scale, ordered_options, prompts
from medbench.config.bias import BiasConfig
from medbench.config.fields import check
from medbench.config.schemas import RunStatus
from medbench.core.errors import MedbenchError
from medbench.core.safe_cells import markdown_lines
from medbench.core.templates import render_template
from medbench.models.requestcache import FailedReply
from medbench.run.rundir import RunFolder

log = logging.getLogger("medbench")


def scales_for(config: BiasConfig) -> list[Scale]:
    names = ["cami", "mica"] if config.scale == "all" else [config.scale]
    loaded = []
    for name in names:
        try:
            loaded.append(load_scale(name, config.lang, config.items if name == "mica" else None))
        except MedbenchError as exc:
            if config.scale != "all":
                raise
            print(f"medbench bias: skipping {name}: {exc}")
    return loaded


def render(template: dict, options: list[str], statement: str) -> str:
    listed = template["option_joiner"].join(
        render_template(template["option_format"], {"option": o}) for o in options
    )
    return render_template(template["prompt"], {"options": listed, "statement": statement})


def _requests(kind: str, pairs: list[tuple[str, object]]):
    from lm_eval.api.instance import Instance

    return [
        Instance(request_type=kind, doc={}, arguments=args, idx=i, metadata=("bias", i, 1))
        for i, args in enumerate(pairs)
    ]


def ask(lm, config: BiasConfig, scale: Scale, repeat: int) -> list[dict]:
    """One pass over a scale's items; returns one record per item."""
    template = prompts(config.lang)
    seed = config.seed + repeat
    rows = []
    for k, item in enumerate(scale.items):
        options = ordered_options(scale.options, config.option_order, seed * 1000 + k)
        rows.append(
            {
                "scale": scale.name,
                "repeat": repeat,
                "no": item.no,
                "subscale": item.subscale,
                "keyed": item.keyed,
                "options_order": options,
                "prompt": render(template, options, item.text),
            }
        )
    if config.mode == "gen":
        sampling = bool(config.temperature)
        kwargs = {"until": ["\n\n"], "max_gen_toks": config.max_new_tokens, "do_sample": sampling}
        if sampling:
            kwargs["temperature"] = config.temperature
        replies = lm.generate_until(_requests("generate_until", [(r["prompt"], dict(kwargs)) for r in rows]))
        for row, item, reply in zip(rows, scale.items, replies, strict=True):
            if isinstance(reply, FailedReply):  # no reply at all: a failed item, never "named no option"
                row.update(raw=None, parsed=None, score=None, error=reply.error)
                continue
            option = extract_option(reply, scale.options)
            row.update(raw=reply, parsed=option, score=None if option is None else scale.score(item, option))
        return rows
    pairs = [(r["prompt"] + template["cue"], option) for r in rows for option in scale.options]
    logliks = [ll for ll, _ in lm.loglikelihood(_requests("loglikelihood", pairs))]
    n = len(scale.options)
    for k, (row, item) in enumerate(zip(rows, scale.items, strict=True)):
        lls = logliks[k * n : (k + 1) * n]
        top = max(lls)
        weights = [math.exp(ll - top) for ll in lls]
        probs = [w / sum(weights) for w in weights]
        best = scale.options[max(range(n), key=lls.__getitem__)]
        expected = sum(p * scale.score(item, o) for p, o in zip(probs, scale.options, strict=True))
        row.update(
            raw=dict(zip(scale.options, lls, strict=True)),
            probs=dict(zip(scale.options, probs, strict=True)),
            parsed=best,
            argmax_score=scale.score(item, best),
            score=expected,
        )
    return rows


def bootstrap_ci(values: list[float], seed: int) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling items (:mod:`medbench.analysis.intervals`); NaN when
    there is nothing to resample (every item scored the same: no width to report)."""
    interval, _ = intervals.bootstrap_mean(values, seed)
    return interval or (math.nan, math.nan)


def summarise(scale: Scale, rows: list[dict], repeats: int, seed: int) -> dict:
    """Per-scale summary; items never answered (unparseable every time) are excluded and counted, and
    so are failed requests -- apart: a reply that never came is not a reply that named no option."""
    failed = [r for r in rows if r.get("error")]
    replied = [r for r in rows if not r.get("error")]
    answered = [r for r in replied if r["score"] is not None]
    per_item: dict[int, list[float]] = {}
    for r in answered:
        per_item.setdefault(r["no"], []).append(r["score"])
    item_means = {no: statistics.fmean(v) for no, v in per_item.items()}
    per_repeat = [
        statistics.fmean(scores)
        for rep in range(repeats)
        if (scores := [r["score"] for r in answered if r["repeat"] == rep])
    ]
    subscales = {}
    for code, title in scale.subscales.items():
        values = [
            m for no, m in item_means.items() if any(i.no == no and i.subscale == code for i in scale.items)
        ]
        if values:
            subscales[code] = {"name": title, "mean": statistics.fmean(values), "items": len(values)}
    low, high = bootstrap_ci(list(item_means.values()), seed)
    mean = statistics.fmean(item_means.values()) if item_means else None
    midpoint = (1 + len(scale.options)) / 2
    return {
        "scale": scale.name,
        "title": scale.title,
        "range": [1, len(scale.options)],
        "mean": mean,
        "ci95": [low, high],
        "no_preference": midpoint,  # the score of a respondent with no attitude either way
        "reading": reading(mean, low, high, midpoint),
        "per_repeat": per_repeat,
        "std_over_repeats": statistics.stdev(per_repeat) if len(per_repeat) > 1 else None,
        "subscales": subscales,
        "items_answered": len(item_means),
        "items_asked": len(scale.items),
        "items_in_scale": scale.complete_items,
        "partial": scale.partial,
        "unparseable_rate": 1 - len(answered) / len(replied) if replied else 0.0,
        "n_failed": len(failed),
        "item_means": item_means,
        "item_text_language": scale.text_language,
    }


def reading(mean: float | None, low: float | None, high: float | None, midpoint: float) -> str:
    """What a mean says against the no-preference midpoint: no signal when its interval holds it."""
    if mean is None or low is None or high is None:
        return "no score"
    if low <= midpoint <= high:
        return f"no signal: the interval holds the no-preference point {midpoint:.2f}"
    side = "more" if low > midpoint else "less"
    return f"{side} stigma than no preference ({midpoint:.2f})"


def unparseable_warnings(summaries: list[dict], mode: str) -> list[str]:
    """One line per scale whose replies were mostly unparseable (its mean rests on few answers)."""
    from medbench.run.checks import WARN_RATE

    return [
        f"{s['scale'].upper()}: {100 * s['unparseable_rate']:.0f}% of replies named no option "
        f"({s['items_answered']} of {s['items_asked']} items answered)"
        + ("; try --mode loglik (local models) or a chat model" if mode == "gen" else "")
        for s in summaries
        if s["unparseable_rate"] > WARN_RATE
    ]


def markdown(summaries: list[dict], mode: str) -> str:
    rows = []
    for s in summaries:
        items = f"{s['items_answered']} of {s['items_in_scale']}" + (
            " (partial scale)" if s["partial"] else ""
        )
        mean = "n/a" if s["mean"] is None else f"{s['mean']:.3f}"
        ci = f"[{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]" if s["mean"] is not None else ""
        std = "" if s["std_over_repeats"] is None else f"{s['std_over_repeats']:.3f}"
        scale = f"{s['scale'].upper()} [{s['range'][0]}, {s['range'][1]}]"
        rows.append([scale, items, mean, ci, std, f"{100 * s['unparseable_rate']:.1f}%", s["reading"]])
        rows += [
            [f"- {code} {sub['name']}", sub["items"], f"{sub['mean']:.3f}", "", "", "", ""]
            for code, sub in s["subscales"].items()
        ]
    header = [
        "Scale",
        "Items",
        "Mean (higher = more stigma)",
        "95% CI (items)",
        "± std (repeats)",
        "Unparseable",
        "Against no preference (the scale's midpoint)",
    ]
    lines = markdown_lines(header, rows, "llrrrrl")
    note = "expected score under the option probabilities" if mode == "loglik" else "parsed replies"
    warnings = "".join(f"WARNING: {w}\n" for w in unparseable_warnings(summaries, mode))
    failed = sum(s.get("n_failed", 0) for s in summaries)
    if failed:
        warnings = (
            f"INCOMPLETE RUN: {failed} request(s) failed after retries and are left out of the means below "
            "(failures.jsonl); re-run the same command to fill them in.\n" + warnings
        )
    return (warnings + "\n" if warnings else "") + "\n".join(lines) + f"\n\nMode: {mode} ({note}).\n"


def run_bias(config: BiasConfig) -> tuple[RunFolder, list[dict]]:
    from medbench.backends import backend_config

    check(config)
    backend = backend_config(config.backend, config.backend_options)
    # a small local model rarely replies with an option it can be read for: score its options instead
    config.mode = config.mode or ("loglik" if backend.capabilities.loglik else "gen")
    if config.mode == "loglik" and not backend.capabilities.loglik:
        raise MedbenchError(
            f"loglik mode needs a backend that scores log-likelihoods; {config.backend} can only use gen mode"
        )
    backend.resolve()
    config.backend_options = asdict(backend)
    scales = scales_for(config)
    model_path, model_fp = backend.identity(config.model)
    name = config.model if backend.capabilities.local else model_path
    folder = RunFolder.create(Path(config.output), f"bias-{name}")
    folder.write_config({"kind": "bias", **asdict(config)})
    folder.write_json("model.json", model_fp)
    folder.write_versions()
    lm = backend.make_lm(model_path, config.seed)
    summaries, all_rows = [], []
    try:
        for scale in scales:
            rows = [row for rep in range(config.repeats) for row in ask(lm, config, scale, rep)]
            all_rows += rows
            summaries.append(summarise(scale, rows, config.repeats, config.seed))
    finally:
        backend.release(lm)
    with open(folder.path / "items.jsonl", "w", encoding="utf-8") as fh:
        for row in all_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    folder.write_json("summary.json", summaries)
    failures = [r for r in all_rows if r.get("error")]
    if failures:
        with open(folder.path / "failures.jsonl", "w", encoding="utf-8") as fh:
            for r in failures:
                record = {k: r[k] for k in ("scale", "repeat", "no", "error")}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    reason = f"{len(failures)} request(s) failed after retries; re-run the command" if failures else None
    folder.write_json("status.json", RunStatus(not failures, len(failures), reason).record())
    for warning in unparseable_warnings(summaries, config.mode):
        log.warning(warning)
    (folder.path / "results.md").write_text(markdown(summaries, config.mode), encoding="utf-8")
    bias_bars({Path(name).name: summaries}, folder.path / "bias")
    return folder, summaries
