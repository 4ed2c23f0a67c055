"""Multiple-choice benchmarks as lm-eval data: reading, validation and prompt rendering.

Each benchmark's folder declares its file layout and row parser (``tasks/<benchmark>/utils.py``, a
:class:`Layout`) and its YAML calls that module's hook (``custom_dataset: !function utils.load``, made
by :func:`loader`). lm-eval passes the hook the task's metadata (prompt templates, the chosen prompt
style, ``data_dir``) and ``dataset_kwargs`` (subject and splits). Each item is normalised to one
schema -- ``question``, ``options`` (``[[letter, text], ...]``), ``answer`` (sorted letters) -- then
rendered with the style's Jinja templates from the YAML into ``prompt``, ``description`` and
``choices`` (continuations for log-likelihood scoring). Prompts stay in the plug-in files; this module
only fills them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import datasets

from medbench.core.errors import MedbenchError
from medbench.core.hooks import PLAIN, HookContext
from medbench.core.templates import render_template
from medbench.data import datareport, sources
from medbench.data.datareport import DataReport
from medbench.data.datasources import (
    Row,
    check_file,
    read_csv,
    read_jsonl,
    read_parquet,
    resolve_data_dir,
)
from medbench.data.hubdata import Mirror, local_file
from medbench.data.intake import Intake, no_local_data
from medbench.models import thinking
from medbench.models.thinking import Tags
from medbench.scoring import llm_extract, rotations
from medbench.scoring.extract import UNPARSED, extract_choice

LETTERS = "ABCDEFGH"

Item = dict  # {"id", "question", "options": [[letter, text]], "answer", "explanation"}


def options_from_columns(record: dict, letters: str = "ABCD") -> list[list[str]]:
    """Options given as one column per letter (C-Eval, CMMLU)."""
    return [[letter, str(record.get(letter) or "")] for letter in letters]


class Layout:
    """Where one benchmark's files lie under the data folder and how to read a row (its hub mirror, if
    any, is in the task's YAML metadata: see :mod:`medbench.data.hubdata`)."""

    def __init__(
        self,
        path: str,
        columns: list[str] | None,
        parse: Callable[[Row], Item],
        file_ids: bool = False,
        variants: dict[str, Callable[[Row], Item]] | None = None,
        companions: tuple[str, ...] = (),
    ) -> None:
        """``file_ids``: the file gives each item an id (else ids are row numbers, unique by nature);
        ``variants``: readers of other layouts a pinned source may declare (``layout:`` in
        _sources_yaml), never guessed from a file's content; ``companions``: other files under the
        data folder that :meth:`rows` joins with the main one (CMB's answers and category counts),
        pulled and verified against their pins as the main file is."""
        self.path, self.columns, self.parse = path, columns, parse
        self.file_ids = file_ids
        self.variants = variants or {}
        self.companions = companions

    def file(self, root: Path, split: str, subject: str | None) -> Path:
        return root / self.path.format(split=split, subject=subject)

    def rows(self, path: Path, subject: str | None = None) -> Iterator[Row]:
        """The file's rows (``subject`` is for a layout whose one file holds every subject)."""
        if path.suffix == ".parquet":
            return read_parquet(path, self.columns or [])
        return read_csv(path, self.columns) if self.columns else read_jsonl(path)


# ---- validation -------------------------------------------------------------------------------


def problem(item: Item) -> str | None:
    """Why an item cannot be scored, or None. Letters must run A, B, C, ... with no gap or blank."""
    if not item["question"].strip():
        return "empty question"
    letters = [letter for letter, _ in item["options"]]
    if len(letters) < 2:
        return "fewer than 2 options"
    if len(letters) > len(LETTERS):
        return f"{len(letters)} options: at most {len(LETTERS)} ({LETTERS[0]}-{LETTERS[-1]}) are read"
    expected = LETTERS[: len(letters)]
    for want, (letter, text) in zip(expected, item["options"], strict=False):
        if letter != want or not text.strip():
            return f"missing option {want}"
    answer = item["answer"]
    if not answer:
        return "no answer"
    outside = sorted(set(answer) - set(letters))
    if outside:
        return f"answer '{answer}' is not among the options {letters[0]}-{letters[-1]}"
    return None


def normalise_answer(answer: str) -> str:
    """``' a,c '`` -> ``'AC'``: answers compare as sets of letters."""
    return "".join(sorted(set(re.sub(r"[^A-Za-z]", "", answer).upper())))


# ---- rendering --------------------------------------------------------------------------------


def render(item: Item, style: dict, context: dict) -> dict:
    """Fill one item into a prompt style: the question block, the description, the choice strings."""
    ctx = {**context, **item}
    letters = [letter for letter, _ in item["options"]]
    choices = [render_template(style["choice"], {**ctx, "letter": letter}) for letter in letters]
    return {
        **item,
        "prompt": render_template(style["question"], ctx),
        "description": render_template(style.get("description", ""), ctx),
        "choices": choices,
        "target": letters.index(item["answer"]) if len(item["answer"]) == 1 else -1,
    }


# ---- the lm-eval hook -------------------------------------------------------------------------


def _local_rows(
    layout: Layout, root: Path, split: str, subject: str | None, task: str, report: DataReport
) -> Iterable[Row]:
    path = layout.file(root, split, subject)
    check_file(path, task, f"official layout: <data-dir>/{layout.path.format(split=split, subject=subject)}")
    _fingerprint(layout, path, root, report)
    return layout.rows(path, subject)


def _fingerprint(layout: Layout, path: Path, root: Path, report: DataReport) -> None:
    """The files a split's rows are read from: its own and the layout's companions (those present: a
    missing one is the reader's one line)."""
    for file in (path, *(root / c for c in layout.companions)):
        if file.is_file():
            report.fingerprint(file)


def _hub_rows(
    layout: Layout,
    mirror: Mirror | None,
    split: str,
    subject: str | None,
    task: str,
    files: list[str],
    report: DataReport,
) -> Iterable[Row]:
    if mirror is None:
        raise no_local_data(task, files, mirrored=True)
    report.source(mirror.record())
    path = local_file(mirror, split, subject, task, ", ".join(files))
    report.fingerprint(path)
    return layout.rows(path, subject)


def load(
    layout: Layout,
    report: DataReport,
    *,
    benchmark: str,
    splits: list[str],
    prompt_styles: dict,
    prompt_style: str = "official",
    subject: str | None = None,
    subject_zh: str | None = None,
    single_answer_only: bool = False,
    data_dir: str | None = None,
    mirror: dict | None = None,
    circular_splits: list[str] | None = None,
    circular_limit: int | None = None,
    circular_orders: bool = False,
    **_: object,
) -> datasets.DatasetDict:
    """Read, validate and render one benchmark subject's splits: from ``data_dir``, or from the
    benchmark's pinned hub ``mirror`` when there is no data folder or it has no folder for this
    benchmark. Each benchmark's ``custom_dataset`` hook (``tasks/<benchmark>/utils.py``) calls this
    with its :class:`Layout`. ``circular_splits`` (``--circular``): those splits keep their first
    ``circular_limit`` questions, each under every rotation of its options (``circular_orders``: every
    order; :mod:`medbench.analysis.circular`)."""
    task = f"{benchmark}/{subject}" if subject else benchmark
    if prompt_style not in prompt_styles:
        raise MedbenchError(
            f"{task}: unknown prompt style '{prompt_style}'; this task has {', '.join(prompt_styles)}"
        )
    style = prompt_styles[prompt_style]
    root = resolve_data_dir(data_dir)
    hub = Mirror.from_metadata(task, mirror)
    if root and hub and not (root / layout.path.split("/")[0]).is_dir():
        root = None  # the data folder has no copy of this benchmark at all: its pinned mirror
    files = [layout.path.format(split=s, subject=subject) for s in splits]
    pulled = None
    if root is None:  # a benchmark pinned on a git host (medbench.data.sources), if any; offline and not
        # pulled from there, its hub mirror instead
        pulled = sources.resolve(
            benchmark, files + list(layout.companions), report, hub_instead=hub is not None
        )
    context = {"subject": subject, "subject_zh": subject_zh}
    out = {}
    for split in splits:
        parse = layout.parse
        if pulled:
            path, variant = sources.pulled_file(layout.path.format(split=split, subject=subject))
            if variant and variant not in layout.variants:
                raise MedbenchError(
                    f"{task}: its pinned source declares layout {variant!r}; its reader knows "
                    f"{', '.join(layout.variants) or 'only the official layout'}"
                )
            _fingerprint(layout, path, pulled, report)
            rows, parse = layout.rows(path, subject), layout.variants[variant] if variant else layout.parse
        elif root:
            rows = _local_rows(layout, root, split, subject, task, report)
        else:
            rows = _hub_rows(layout, hub, split, subject, task, files, report)
        intake, items, multi = Intake(task, split, report), [], 0
        for row in rows:
            try:
                item = parse(row)
            except ValueError as exc:
                intake.malformed(row.file, row.number, str(exc))
                continue
            item["answer"] = normalise_answer(item["answer"])
            item_id = item["id"] if layout.file_ids else None
            content = {k: v for k, v in item.items() if k != "id"}
            if not intake.admit(row.file, row.number, row.problem or problem(item), item_id, content):
                continue
            if single_answer_only and len(item["answer"]) > 1:
                multi += 1
            else:
                items.append(item)
                intake.keep()
        intake.report()
        if split in (circular_splits or ()):  # each question under every rotation, side by side
            items = [r for item in items[:circular_limit] for r in rotations.rotations(item, circular_orders)]
        items = [render(item, style, context) for item in items]
        if multi:
            report.exclude(
                f"{task}:{split}", multi, "multiple-answer item(s) excluded from log-likelihood scoring"
            )
        out[split] = datasets.Dataset.from_list(items)
    return datasets.DatasetDict(out)


def loader(layout: Layout) -> Callable[..., datasets.DatasetDict]:
    """The ``custom_dataset`` hook of a benchmark with this layout (``hook.layout`` says where its files
    lie, for ``medbench tasks``)."""

    @datareport.task_data
    def hook(*, report: DataReport, **kwargs) -> datasets.DatasetDict:
        return load(layout, report, **kwargs)

    hook.layout = layout
    return hook


def _answer_letters(reply: str, doc: dict, tags: Tags) -> str:
    """One reply's answer letters, read after its thinking; ``[truncated-thinking]`` when the thinking
    never ended (nothing is read from the thinking itself)."""
    part = thinking.split(reply, tags)
    if part.unfinished:
        return thinking.TRUNCATED
    return extract_choice(part.answer, [letter for letter, _ in doc["options"]], doc["options"])


def extract_filter(
    resps: list[list[str]], docs: list[dict], *, context: HookContext = PLAIN
) -> list[list[str]]:
    """lm-eval ``custom`` filter: each generated reply -> its answer letters (or ``[unparsed]``), read
    after the run's thinking tags; with ``--extractor llm`` (the run context's extractor) the unparsed
    ones (only those) go to the LLM extractor, marked when it reads them."""
    tags, extractor = context.tags, context.extractor
    out = [[_answer_letters(r, doc, tags) for r in replies] for replies, doc in zip(resps, docs, strict=True)]
    todo = [(i, j) for i, row in enumerate(out) for j, value in enumerate(row) if value == UNPARSED]
    if extractor and todo:
        read = extractor.letters([(thinking.split(resps[i][j], tags).answer, docs[i]) for i, j in todo])
        for (i, j), letters in zip(todo, read, strict=True):
            if letters == llm_extract.FAILED:
                out[i][j] = letters  # a failed item: left out of the score (medbench.run.evaluate)
            elif letters:
                out[i][j] = letters + llm_extract.MARK
    return out


def process_gen(doc: dict, results: list[str]) -> dict[str, float]:
    """Score an extracted answer by exact set match; an unparsed reply, or one whose thinking was cut
    off, is wrong and counted (each on its own); an answer the LLM extractor read is counted too."""
    pred = results[0].removesuffix(llm_extract.MARK)
    return {
        "acc": float(pred == doc["answer"]),
        "parse_fail_rate": float(pred == UNPARSED),
        "truncated_thinking_rate": float(pred == thinking.TRUNCATED),
        "llm_extracted_rate": float(results[0].endswith(llm_extract.MARK)),
    }
