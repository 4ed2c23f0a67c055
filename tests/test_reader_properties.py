"""Property-based tests over every reader (issue 13, "make it hold by construction").

For any corrupted input, each outcome is one of: a parsed item equal to what the file says, a
malformed item reported with its file and row, or a one-line :class:`MedbenchError` -- never another
exception, and never an item silently altered (fields moved between columns, a value of the wrong
JSON type turned into text, a row read with another row's answer).

Two layers: structured properties build files from generated records with known corruptions, so the
exact expected items and the exact reported rows are known; byte-level properties corrupt every
reader's clean file anywhere (truncation, encodings, inserted bytes, a huge field) and check that
every row the corruption did not touch reads exactly as in the clean file. Example counts are fixed
so CI stays bounded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from medbench.data.catalog import load_task_data
from medbench.run.planning import task_manager

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MANAGER = task_manager()
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# texts without CSV or JSON structure characters: corruptions are added on purpose, never by chance
TEXT = (
    st.text(alphabet="甲乙丙丁发热咳嗽患者治疗药物abcXYZ0123 ", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)


def load(task: str, root: Path, split: str = "test"):
    data = load_task_data(MANAGER, task, {"data_dir": str(root)})
    return list(data[split]), data.report.skipped


def _mc_core(item: dict) -> tuple:
    return (item["question"], tuple(map(tuple, item["options"])), item["answer"])


# ---- structured: CSV fields that shift ----------------------------------------------------------

ROW = st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT, st.sampled_from("ABCD"))


@PROPERTY
@given(
    rows=st.lists(ROW, min_size=1, max_size=8, unique_by=lambda r: r[0]),
    shifts=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 5), st.sampled_from(["extra", "missing"]))),
)
def test_a_csv_row_with_a_field_too_many_or_too_few_is_reported_never_shifted(tmp_path_factory, rows, shifts):
    root = tmp_path_factory.mktemp("data")
    (root / "cmmlu" / "test").mkdir(parents=True)
    (root / "cmmlu" / "dev").mkdir(parents=True)
    shutil.copy(SAMPLES_DIR / "cmmlu" / "dev" / "anatomy.csv", root / "cmmlu" / "dev" / "anatomy.csv")
    broken = {}
    for index, column, how in shifts:
        if index < len(rows):
            broken[index] = (column, how)
    lines = [",Question,A,B,C,D,Answer"]
    for i, row in enumerate(rows):
        fields = [str(i), *row]
        if i in broken:
            column, how = broken[i]
            if how == "extra":  # an unquoted comma inside a field
                fields[column + 1] = fields[column + 1][:1] + "," + fields[column + 1][1:]
            else:
                del fields[column + 1]
        lines.append(",".join(fields))
    (root / "cmmlu" / "test" / "anatomy.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    items, skipped = load("cmmlu_med_anatomy", root)
    expected = [
        (q, (("A", a), ("B", b), ("C", c), ("D", d)), ans)
        for i, (q, a, b, c, d, ans) in enumerate(rows)
        if i not in broken
    ]
    assert [_mc_core(x) for x in items] == expected
    assert sorted(s.row for s in skipped) == sorted(i + 1 for i in broken)
    assert all("fields where the header has 7" in s.reason for s in skipped)


# ---- structured: JSON values of the wrong type --------------------------------------------------

WRONG = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(TEXT, st.integers(), max_size=2),
)


@PROPERTY
@given(
    records=st.lists(
        st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT, st.sampled_from("ABCD")),
        min_size=1,
        max_size=6,
        unique_by=lambda r: r[0],
    ),
    wrong=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["question", "options", "answer_idx"]), WRONG)
    ),
)
def test_medqa_fields_of_the_wrong_json_type_are_reported(tmp_path_factory, records, wrong):
    root = tmp_path_factory.mktemp("data")
    (root / "medqa_mcmle").mkdir()
    shutil.copy(SAMPLES_DIR / "medqa_mcmle" / "dev.jsonl", root / "medqa_mcmle" / "dev.jsonl")
    lines, broken = [], set()
    for i, (q, a, b, c, d, ans) in enumerate(records):
        record = {"question": q, "options": {"A": a, "B": b, "C": c, "D": d}, "answer_idx": ans}
        for index, field, value in wrong:
            if index == i:
                record[field] = value
                broken.add(i)
        lines.append(json.dumps(record, ensure_ascii=False))
    (root / "medqa_mcmle" / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    items, skipped = load("medqa_mcmle", root)
    expected = [
        (q, (("A", a), ("B", b), ("C", c), ("D", d)), ans)
        for i, (q, a, b, c, d, ans) in enumerate(records)
        if i not in broken
    ]
    assert [_mc_core(x) for x in items] == expected
    assert sorted(s.row for s in skipped) == sorted(i + 1 for i in broken)


DIALOGUE_FIELDS = {
    "instruction": TEXT,
    "output": TEXT,
    "history": st.lists(st.tuples(TEXT, TEXT).map(list), max_size=2),
}


@PROPERTY
@given(
    records=st.lists(
        st.fixed_dictionaries(DIALOGUE_FIELDS), min_size=1, max_size=6, unique_by=lambda r: r["instruction"]
    ),
    wrong=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["instruction", "output", "history"]), WRONG)
    ),
)
def test_cmtmedqa_fields_of_the_wrong_shape_are_reported(tmp_path_factory, records, wrong):
    broken = set()
    for index, field, value in wrong:
        if index < len(records) and not (field == "history" and value in ([], {})):  # empty = no history
            records[index] = {**records[index], field: value}
            broken.add(index)
    root = tmp_path_factory.mktemp("data")
    (root / "cmtmedqa").mkdir()
    (root / "cmtmedqa" / "CMtMedQA_test.json").write_text(
        json.dumps(records, ensure_ascii=False), encoding="utf-8"
    )

    items, skipped = load("cmtmedqa", root)
    expected = [
        (r["instruction"], r["output"], [t for pair in r["history"] for t in pair])
        for i, r in enumerate(records)
        if i not in broken
    ]
    assert [(x["question"], x["reference"], [t for _, t in x["history"]]) for x in items] == expected
    assert sorted(s.row for s in skipped) == sorted(i + 1 for i in broken)


# ---- byte level: every reader, corrupted anywhere -----------------------------------------------


def _ccks_text() -> str:
    docs = []
    for k in range(9):
        text = f"患者{k}号因发热咳嗽入院，诊断为肺炎，予阿莫西林治疗。"
        entities = [
            {"label_type": "疾病和诊断", "start_pos": text.index("肺炎"), "end_pos": text.index("肺炎") + 2},
            {
                "label_type": "药物",
                "start_pos": text.index("阿莫西林"),
                "end_pos": text.index("阿莫西林") + 4,
            },
        ]
        docs.append(json.dumps({"originalText": text, "entities": entities}, ensure_ascii=False))
    return "\n".join(docs) + "\n"


def _cmtmedqa_text() -> str:
    records = [
        {
            "instruction": f"问题{k}还要吃药吗？",
            "output": f"回答{k}：按时服药。",
            "history": [[f"头疼{k}", "多休息"]],
        }
        for k in range(5)
    ] + [{"instruct": "怎样自行购买处方药？", "output": "请遵医嘱。"}]
    return json.dumps(records, ensure_ascii=False, indent=1)


def _dialog_text() -> str:
    blocks = [f"id\t{k}\nP\t医生你好，我咳嗽{k}天了\nD\t有发热吗\nP\t没有\nD\t先多喝水观察" for k in range(4)]
    return "\n\n".join(blocks) + "\n"


#: task -> (file under the data folder, its clean text, extra files, the evaluated split, core fields)
READERS = {
    "cmmlu_med_anatomy": ("cmmlu/test/anatomy.csv", None, ["cmmlu/dev/anatomy.csv"], "test", _mc_core),
    "ceval_med_physician": (
        "ceval/val/physician_val.csv",
        None,
        ["ceval/dev/physician_dev.csv"],
        "val",
        _mc_core,
    ),
    "medqa_mcmle": ("medqa_mcmle/test.jsonl", None, ["medqa_mcmle/dev.jsonl"], "test", _mc_core),
    "cmexam": ("cmexam/val.csv", None, [], "val", _mc_core),
    "huatuo26m": (
        "huatuo26m/huatuo26M_test.json",
        None,
        [],
        "test",
        lambda x: (x["question"], x["reference"]),
    ),
    "cmtmedqa": (
        "cmtmedqa/CMtMedQA_test.json",
        _cmtmedqa_text(),
        [],
        "test",
        lambda x: (x["question"], x["reference"], str(x["history"])),
    ),
    "mc_dialogue": (
        "mc/sample_test.dialog",
        _dialog_text(),
        [],
        "test",
        lambda x: (x["question"], x["reference"], str(x["history"])),
    ),
    "chimed_qa": (
        "chimed_qa/test.jsonl",
        (FIXTURES / "chimed_qa" / "test.jsonl").read_text(encoding="utf-8"),
        [],
        "test",
        lambda x: (x["question"], x["reference"]),
    ),
    "ccks2019_ner_train_heldout": (
        "ccks2019/subtask1_training_part1.txt",
        _ccks_text(),
        [],
        "test",
        lambda x: (x["text"], str(x["entities"])),
    ),
}

#: items one record gives (a CCKS document: its segments; an MC dialogue: one per doctor turn)
ITEMS_PER_RECORD = {"ccks2019_ner_train_heldout": 3, "mc_dialogue": 2}

CORRUPTIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("encode"), st.sampled_from(["gb18030", "utf-16", "utf-32", "big5hkscs"])),
    st.tuples(
        st.just("insert"),
        st.floats(0, 1),
        st.sampled_from(
            [b",", b'"', b"\n", b"\t", b"\x00", b"\xff", b"{", b"]", b"\\", "。".encode() * 70000]
        ),
    ),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
)


def _corrupt(raw: bytes, corruption) -> tuple[bytes, int | None]:
    """The corrupted bytes and the byte offset touched (None: the whole file changed)."""
    kind, *args = corruption
    if kind == "truncate":
        at = int(args[0] * len(raw))
        return raw[:at], at
    if kind == "encode":
        return raw.decode("utf-8").encode(args[0], errors="replace"), None
    at = int(args[0] * len(raw))
    if kind == "insert":
        return raw[:at] + args[1] + raw[at:], at
    return raw[:at] + raw[at + args[1] :], at


def _setup(root: Path, task: str) -> tuple[Path, bytes]:
    relative, text, extras, _, _ = READERS[task]
    source = SAMPLES_DIR if text is None else None
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = (source / relative).read_bytes() if source else text.encode("utf-8")
    for extra in extras:
        (root / extra).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES_DIR / extra, root / extra)
    if task == "ccks2019_ner_train_heldout":
        (root / "ccks2019" / "subtask1_training_part2.txt").write_text("", encoding="utf-8")
    target.write_bytes(raw)
    return target, raw


@pytest.mark.parametrize("task", list(READERS))
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(corruption=CORRUPTIONS)
@example(corruption=("insert", 0.5, b","))  # found here: a stray line merged two MC dialogues silently
@example(corruption=("delete", 0.640625, 38))  # found in CI: a deletion across two records
def test_any_corruption_of_any_reader_is_an_item_a_report_or_one_line(tmp_path_factory, task, corruption):
    root = tmp_path_factory.mktemp("data")
    target, raw = _setup(root, task)
    _, _, _, split, core = READERS[task]
    clean, _ = load(task, root, split)
    clean_cores = [core(x) for x in clean]
    corrupted, touched = _corrupt(raw, corruption)
    assume(corrupted != raw)
    target.write_bytes(corrupted)
    try:
        items, skipped = load(task, root, split)
    except MedbenchError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    assert all(s.file and s.row >= 1 and s.reason for s in skipped)
    altered = [core(x) for x in items if core(x) not in clean_cores]
    # only the record the corruption touched may read differently (it says what its bytes say);
    # every other record reads exactly as in the clean file, never shifted into another
    # a deletion can take the boundary between two records with it: then both read differently
    records = 2 if corruption[0] == "delete" else 1
    limit = 0 if touched is None else records * ITEMS_PER_RECORD.get(task, 1)
    assert len(altered) <= limit, altered


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["items", "no", "text_zh", "text_en"]), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(JSON.map(lambda v: json.dumps(v, ensure_ascii=False).encode()), st.binary(max_size=200))
)
def test_any_bias_items_file_loads_or_is_one_line(tmp_path_factory, content):
    from medbench.bias.scales import load_scale

    path = tmp_path_factory.mktemp("items") / "items.json"
    path.write_bytes(content)
    try:
        scale = load_scale("mica", "zh", str(path))
    except MedbenchError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert all(isinstance(item.text, str) and item.text for item in scale.items)
