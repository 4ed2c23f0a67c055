"""Small helpers shared by tests: load a task's data exactly as lm-eval would."""

from __future__ import annotations

from pathlib import Path

from medbench.data.catalog import load_task_data as _load
from medbench.run.planning import task_manager


def load_task_data(name: str, data_dir: Path | str, **metadata):
    """Call the task's custom_dataset hook with its own metadata plus run metadata, as lm-eval does."""
    return _load(task_manager(), name, {"data_dir": str(data_dir), **metadata})


SHARED = "以下是中国关于医师资格考试的单项选择题。\n\n" * 3
EDGE_CASES = [
    (SHARED + "一个比其他问题长得多的问题：" + "很长的病史描述，" * 60 + "\n答案：", "A"),
    (SHARED + "短问题\n答案：", "B"),
    ("一个与其他请求没有共同前缀的上下文", "C"),  # shares no prefix with any other request
    (SHARED + "短问题\n答案：", "正确答案是甲"),  # multi-token continuation: the plain path
]


def mixed_mc_requests(data_dir: Path | str, limit: int):
    """Loglikelihood requests of three subjects with three different few-shot blocks in one list,
    plus hand-made edge cases: a much longer question, an unshared context, a multi-token answer."""
    from lm_eval.api.instance import Instance

    tasks = task_manager({"data_dir": str(data_dir)}).load(
        ["cmmlu_med_anatomy", "ceval_med_physician", "medqa_mcmle"]
    )["tasks"]
    instances = []
    for task in tasks.values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        instances += task.instances
    extra = [
        Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i, metadata=("extra", i, 1))
        for i, r in enumerate(EDGE_CASES)
    ]
    return instances, extra


def predictions(instances, results) -> dict:
    """The chosen option (highest log-likelihood) of each document."""
    by_doc: dict = {}
    for inst, (ll, _) in zip(instances, results, strict=False):
        by_doc.setdefault(inst.metadata[:2], []).append(ll)
    return {key: lls.index(max(lls)) for key, lls in by_doc.items()}


def task_module(folder: str):
    """A benchmark folder's ``utils.py`` (its readers and hooks), loaded as lm-eval loads it."""
    import importlib.util

    from medbench.core.paths import plugin_dir

    path = plugin_dir("tasks") / folder / "utils.py"
    spec = importlib.util.spec_from_file_location(f"medbench_tasks_{folder}_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_ceval_subject(root: Path, questions: int, subject: str = "physician") -> None:
    """One C-Eval subject in the official layout, written by the test (not benchmark data): five dev
    items and ``questions`` val items, ``<split>问题<i>：哪个器官？`` with options 胃 肝 肺 肾."""
    for split, count in (("dev", 5), ("val", questions)):
        folder = Path(root) / "ceval" / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = ["id,question,A,B,C,D,answer,explanation"]
        rows += [f"{i},{split}问题{i}：哪个器官？,胃,肝,肺,肾,{'ABCD'[i % 4]}," for i in range(count)]
        (folder / f"{subject}_{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


#: a CMExam row whose answer is not among its options (written here: the bundled samples are clean)
BROKEN_CMEXAM_ROW = '这道题的答案不在选项中,"A 甲\nB 乙\nC 丙\nD 丁\nE 戊",F,答案F不在选项A至E之中。\r\n'


def samples_with_a_broken_row(root: Path) -> Path:
    """A copy of the bundled samples whose ``cmexam/val.csv`` ends with :data:`BROKEN_CMEXAM_ROW`
    (its row 8), for the checks that a malformed row is skipped, counted and named."""
    import shutil

    from medbench.core.paths import SAMPLES_DIR

    target = Path(root) / "samples"
    shutil.copytree(SAMPLES_DIR, target)
    with (target / "cmexam" / "val.csv").open("a", encoding="utf-8", newline="") as f:
        f.write(BROKEN_CMEXAM_ROW)
    return target
