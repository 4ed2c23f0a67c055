"""The NER benchmarks' official layouts: CCKS-2019 subtask 1 (JSON lines with ``originalText`` and
``entities`` offsets) and ChiMST (character-per-line BIO files). Each reader yields one document per
record (``text``, ``entities`` [{type, start, end}], ``problem`` when malformed)."""

from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.data.datasources import read_jsonl, read_text
from medbench.scoring import ner


def _ccks_entities(record: dict) -> tuple[str, list[dict]]:
    """``originalText`` and its entities, every offset checked against the text (ValueError if not).

    A gold span with whitespace at an edge (e.g. ``'PLT '``; issue 24 counted 21 of the 6,002 test
    entities) is trimmed to its text: replies are read without surrounding whitespace, so one rule
    holds for both sides and a perfect reply reaches recall 100 under every convention."""
    text, entities = record.get("originalText"), record.get("entities")
    if not isinstance(text, str):
        raise ValueError("originalText: expected text")
    if not isinstance(entities, list):
        raise ValueError("entities: expected a list of {label_type, start_pos, end_pos}")
    out = []
    for k, e in enumerate(entities, start=1):
        if not isinstance(e, dict) or not all(key in e for key in ("label_type", "start_pos", "end_pos")):
            raise ValueError(f"entity {k}: expected {{label_type, start_pos, end_pos}}")
        start, end, label = e["start_pos"], e["end_pos"], e["label_type"]
        if not isinstance(label, str) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (start, end)
        ):
            raise ValueError(f"entity {k}: expected a text label_type and integer start_pos, end_pos")
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"malformed entity {k} ({label} {start}-{end}): offsets must satisfy "
                f"0 <= start < end <= {len(text)} (the text's length)"
            )
        span = text[start:end]
        start, end = start + len(span) - len(span.lstrip()), end - len(span) + len(span.rstrip())
        if start >= end:
            raise ValueError(
                f"malformed entity {k} ({label} {e['start_pos']}-{e['end_pos']}): only whitespace"
            )
        out.append({"type": label, "start": start, "end": end})
    return text, out


def read_ccks(path: Path) -> Iterator[dict]:
    """CCKS-2019 (Yidu-S4K) JSON lines: ``originalText`` + ``entities`` [{label_type, start_pos, end_pos}].

    A document with a bad line or a malformed entity comes with a ``problem`` (and is reported, not
    scored): scoring it without that entity would score against altered gold.
    """
    for row in read_jsonl(path):
        doc = {"id": f"{path.name}:{row.number}", "text": "", "entities": [], "row": row.number}
        try:
            if row.problem:
                raise ValueError(row.problem)
            doc["text"], doc["entities"] = _ccks_entities(row.data)
        except ValueError as exc:
            doc["problem"] = str(exc)
        yield doc


def read_bio(path: Path) -> Iterator[dict]:
    """ChiMST-style CoNLL: one ``character<TAB>tag`` per line (BIO, tags like ``B-term``), blank line between
    sentences."""
    chars: list[str] = []
    tags: list[str] = []
    start_line = 1
    lines = read_text(path).splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) != 2:
                raise MedbenchError(f"{path} line {number}: expected 'character<TAB>tag', got {line!r}")
            chars.append(parts[0])
            tags.append(parts[1])
            continue
        if chars:
            text = "".join(chars)
            yield {
                "id": f"{path.name}:{start_line}",
                "text": text,
                "entities": spans_from_bio(tags),
                "row": start_line,
            }
        chars, tags, start_line = [], [], number + 1


def spans_from_bio(tags: list[str]) -> list[dict]:
    """``[B-x, I-x, O]`` -> ``[{type: x, start: 0, end: 2}]`` (end exclusive)."""
    spans, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if current and (prefix != "I" or label != current["type"]):
            current["end"] = i
            spans.append(current)
            current = None
        if prefix == "B" or (prefix == "I" and current is None and label):
            current = {"type": label, "start": i}
    return spans


load_ccks = ner.loader(read_ccks)  # custom_dataset of the CCKS-2019 tasks
load_bio = ner.loader(read_bio)  # custom_dataset of ChiMST
