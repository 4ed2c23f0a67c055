"""Few-shot NER as generation (CCKS-2019, ChiMST), scored with seqeval on character BIO tags.

The model answers one line per entity type (``疾病和诊断：实体1；实体2``, ``类型：无`` when none; a
mention containing a semicolon is quoted ``「…」``). Each predicted mention is located in the source
text and tagged (:func:`locate` says where); gold spans are tagged from their offsets; seqeval then
scores entity-level micro P/R/F1 and per-type F1. A reply with no parseable line predicts nothing
and is counted in ``unparsed_rate``; mentions absent from the text in ``unlocated_rate``. Long
documents are cut into sentence-aligned segments (offsets kept, never inside an entity) so that five
solved examples plus the query fit the context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import datasets

from medbench.core.additive import Additive
from medbench.core.templates import render_template
from medbench.data import datareport, sources
from medbench.data.datareport import DataReport
from medbench.data.datasources import (
    Duplicates,
    check_file,
    resolve_data_dir,
)
from medbench.data.intake import Intake, no_local_data
from medbench.scoring import ner_conventions

SENTENCE_ENDS = "。；！？\n"
SEPARATORS = ("；", ";")
NONE_MARK = "无"


# ---- segmentation -----------------------------------------------------------------------------


def segments(doc: dict, max_chars: int) -> list[dict]:
    """Cut a document at sentence ends into pieces of at most ``max_chars`` (one sentence may exceed it),
    never inside an entity; entity offsets become relative to their piece, ``offset`` keeps its place."""
    text = doc["text"]
    if len(text) <= max_chars:
        return [{**doc, "offset": 0}]
    inside = [False] * (len(text) + 1)
    for e in doc["entities"]:
        for i in range(e["start"] + 1, e["end"]):
            inside[i] = True
    cuts, start = [], 0
    last_end = None
    for i, ch in enumerate(text):
        if ch in SENTENCE_ENDS and not inside[i + 1]:
            if i + 1 - start > max_chars and last_end is not None:
                cuts.append((start, last_end))
                start = last_end
            last_end = i + 1
    if start < len(text):
        if len(text) - start > max_chars and last_end is not None and start < last_end < len(text):
            cuts.append((start, last_end))
            start = last_end
        cuts.append((start, len(text)))
    pieces = []
    for k, (a, b) in enumerate(cuts):
        entities = [
            {"type": e["type"], "start": e["start"] - a, "end": e["end"] - a}
            for e in doc["entities"]
            if a <= e["start"] and e["end"] <= b
        ]
        pieces.append({**doc, "id": f"{doc['id']}#{k}", "text": text[a:b], "entities": entities, "offset": a})
    return pieces


# ---- answers: rendering, parsing, locating ---------------------------------------------------


def mentions(text: str, entities: list[dict], types: list[list[str]]) -> dict[str, list[str]]:
    """Gold mentions per type name, unique, in order of appearance."""
    by_slug = {slug: name for name, slug in types}
    out: dict[str, list[str]] = {name: [] for name, _ in types}
    for e in sorted(entities, key=lambda e: e["start"]):
        name = by_slug.get(e["type"], e["type"])
        mention = text[e["start"] : e["end"]]
        if name in out and mention not in out[name]:
            out[name].append(mention)
    return out


def render_answer(found: dict[str, list[str]]) -> str:
    """The answer format taught by the prompt: ``类型：实体1；实体2`` per line, ``类型：无`` when empty."""
    return "\n".join(
        f"{name}：{'；'.join(map(_quote, items)) if items else NONE_MARK}" for name, items in found.items()
    )


def _clean(mention: str) -> str:
    """Mentions compare without surrounding whitespace (annotations sometimes include a space)."""
    return mention.strip()


_MENTION = re.compile(r"「([^」]*)」|([^；;]+)")


def _split_mentions(rest: str) -> list[str]:
    """Mentions separated by ``；``/``;``; a mention that contains one is quoted as ``「…」``."""
    return [quoted or plain for quoted, plain in _MENTION.findall(rest)]


def _quote(mention: str) -> str:
    return f"「{mention}」" if any(sep in mention for sep in SEPARATORS) else mention


def parse_answer(reply: str, types: list[list[str]]) -> dict[str, list[str]] | None:
    """Mentions per type from a reply; None when no line names a known type (unparseable)."""
    names = {name for name, _ in types}
    found: dict[str, list[str]] = {}
    for line in (reply or "").splitlines():
        line = line.strip().lstrip("-*• ")
        match = re.match(r"([^：:]+)[：:](.*)$", line)
        if not match or match.group(1).strip() not in names:
            continue
        name = match.group(1).strip()
        cleaned = [_clean(m) for m in _split_mentions(match.group(2))]
        found.setdefault(name, []).extend(m for m in cleaned if m and m != NONE_MARK)
    return found if found else None


def bio_tags(length: int, spans: list[tuple[str, int, int]]) -> list[str]:
    """Character BIO tags; a span overlapping an already tagged one is dropped."""
    tags = ["O"] * length
    for label, start, end in spans:
        if start < 0 or end > length or end <= start or any(t != "O" for t in tags[start:end]):
            continue
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def locate(
    text: str, found: dict[str, list[str]], types: list[list[str]], gold: list[dict]
) -> tuple[list[tuple[str, int, int]], int]:
    """Place predicted mentions in the text; returns the spans and how many mentions are not in it.

    An answer names mentions, not positions. A mention whose type and text match gold entities is
    placed at those gold spans (every occurrence the annotators marked); any other mention at its
    first occurrence not overlapping a placed span, so it counts once as a false positive.
    """
    slug = dict((name, s) for name, s in types)
    gold_spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for e in gold:
        key = (e["type"], _clean(text[e["start"] : e["end"]]))
        gold_spans.setdefault(key, []).append((e["start"], e["end"]))
    predicted = {(slug[name], _clean(m)) for name, items in found.items() for m in items}
    spans = [(label, a, b) for (label, m) in predicted for a, b in gold_spans.get((label, m), [])]
    unlocated = 0
    for label, mention in sorted(predicted - set(gold_spans), key=lambda p: (-len(p[1]), p)):
        start = text.find(mention)
        while start != -1 and any(a < start + len(mention) and start < b for _, a, b in spans):
            start = text.find(mention, start + 1)
        if start == -1:
            unlocated += mention not in text
            continue
        spans.append((label, start, start + len(mention)))
    return sorted(spans, key=lambda s: s[1]), unlocated


# ---- the lm-eval hooks ------------------------------------------------------------------------


def load(
    read: Callable[[Path], Iterator[dict]],
    *,
    report: DataReport,
    benchmark: str,
    eval_files: list[str],
    shot_file: str,
    shots: int,
    types: list[list[str]],
    templates: dict,
    max_chars: int = 400,
    data_dir: str | None = None,
    missing_hint: str = "",
    **_: object,
) -> datasets.DatasetDict:
    """Read, validate and segment one NER benchmark (each benchmark's hook, made by :func:`loader` in
    ``tasks/ner/utils.py``, passes its reader): split ``shots`` holds the solved examples, ``test`` the
    documents of ``eval_files`` that are not shots. ``missing_hint`` says what to do when an evaluated file is
    missing (e.g. which task evaluates without the official test release)."""
    needed = [f"{benchmark}/{f}" for f in dict.fromkeys([*eval_files, shot_file])]
    root = resolve_data_dir(data_dir) or sources.resolve(benchmark, needed, report)
    if root is None:
        raise no_local_data(benchmark, [f"{benchmark}/{f}" for f in eval_files])
    known = {slug for _, slug in types} | {name for name, _ in types}
    context = {"types": [name for name, _ in types]}

    seen = {"shots": Duplicates(), "test": Duplicates()}  # the shots are read again as part of a file

    def prepared(path: Path, split: str) -> Iterator[dict]:
        hint = f"official layout: <data-dir>/{path.relative_to(root).as_posix()}"
        check_file(path, benchmark, hint + (f"; {missing_hint}" if missing_hint and split == "test" else ""))
        report.fingerprint(path)
        intake = Intake(
            benchmark, split, report, seen=seen[split]
        )  # a split's files share one duplicate check
        for doc in read(path):
            unknown = sorted({e["type"] for e in doc["entities"]} - known)
            reason = (
                doc.get("problem")
                or (f"unknown entity type(s) {', '.join(unknown)}" if unknown else None)
                or (None if doc["text"].strip() else "empty text")
            )
            if not intake.admit(path, doc["row"], reason, None, [doc["text"], doc["entities"]]):
                continue
            name_to_slug = {name: slug for name, slug in types}
            doc["entities"] = [{**e, "type": name_to_slug.get(e["type"], e["type"])} for e in doc["entities"]]
            for piece in segments(doc, max_chars):
                gold = mentions(piece["text"], piece["entities"], types)
                intake.keep()
                yield {
                    "id": piece["id"],
                    "text": piece["text"],
                    "offset": piece["offset"],
                    "entities": piece["entities"],
                    "types": types,
                    "prompt": render_template(templates["query"], {**context, "text": piece["text"]}),
                    "answer": render_answer(gold),
                    "description": render_template(templates["instruction"], context),
                }
        intake.report()

    shot_docs = []
    for piece in prepared(root / benchmark / shot_file, "shots"):
        if len(shot_docs) == shots:
            break
        shot_docs.append(piece)
    used = {d["id"].split("#")[0] for d in shot_docs}
    test = [
        p
        for f in eval_files
        for p in prepared(root / benchmark / f, "test")
        if p["id"].split("#")[0] not in used
    ]
    return datasets.DatasetDict(
        {"shots": datasets.Dataset.from_list(shot_docs), "test": datasets.Dataset.from_list(test)}
    )


def loader(read: Callable[[Path], Iterator[dict]]) -> Callable[..., datasets.DatasetDict]:
    """The ``custom_dataset`` hook of an NER benchmark whose files ``read`` parses (one dict per
    document: ``text``, ``entities`` [{type, start, end}], ``problem`` when malformed)."""

    @datareport.task_data
    def hook(**kwargs) -> datasets.DatasetDict:
        return load(read, **kwargs)

    return hook


def process_results(doc: dict, results: list[str]) -> dict:
    """Gold and predicted BIO sequences for the corpus-level seqeval aggregations."""
    types = [list(t) for t in doc["types"]]
    found = parse_answer(results[0], types)
    gold = bio_tags(len(doc["text"]), [(e["type"], e["start"], e["end"]) for e in doc["entities"]])
    spans, unlocated = locate(doc["text"], found or {}, types, doc["entities"])
    pred = bio_tags(len(doc["text"]), spans)
    pair = (gold, pred)
    predicted = sum(len(set(v)) for v in (found or {}).values())
    out = {
        "f1": pair,
        "precision": pair,
        "recall": pair,
        "unparsed_rate": float(found is None),
        "unlocated_rate": unlocated / predicted if predicted else 0.0,
    }
    out.update({f"f1_{slug}": pair for _, slug in types})
    slug = dict(map(tuple, types))
    mentions_found = {(slug[name], _clean(m)) for name, items in (found or {}).items() for m in items if m}
    for convention, triple in ner_conventions.counts(doc["text"], doc["entities"], mentions_found).items():
        out.update({f"{convention}_{m}": triple for m in ("precision", "recall", "f1")})
    return out


def _entity_counts(slug: str | None) -> Callable[[tuple[list[str], list[str]]], tuple[int, int, int]]:
    """One item's (true positives, predicted, gold) entities -- of type ``slug``, or of every type --
    as seqeval's default (conlleval) chunking finds them: the counts its micro and per-type scores
    sum over the corpus, so the corpus score is a sum (:class:`~medbench.core.additive.Additive`)."""
    from seqeval.metrics.sequence_labeling import get_entities

    def counts(item: tuple[list[str], list[str]]) -> tuple[int, int, int]:
        gold, pred = ({e for e in get_entities(list(tags)) if slug in (None, e[0])} for tags in item)
        return len(gold & pred), len(pred), len(gold)

    return counts


def _prf(totals) -> tuple[float, float, float]:
    """Precision, recall and F1 from summed counts; 0 where undefined (seqeval's zero_division=0)."""
    tp, predicted, gold = (float(t) for t in totals)
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def __getattr__(name: str) -> Additive:
    """``aggregation: !function medbench.scoring.ner.<metric>``: micro f1/precision/recall, or
    ``f1_<type>``."""
    if name in ("precision", "recall", "f1"):
        which = ("precision", "recall", "f1").index(name)
        return Additive(_entity_counts(None), lambda totals: _prf(totals)[which], name=f"ner {name}")
    if name.startswith("f1_"):
        return Additive(_entity_counts(name[3:]), lambda totals: _prf(totals)[2], name=f"ner {name}")
    raise AttributeError(name)
