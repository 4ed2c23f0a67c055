"""The questions ``--circular`` asks: each multiple-choice item under every cyclic rotation (or every
order) of its options, the answer set moving with its options, side by side. What the answers say
(circular accuracy, changed answers, the letter histogram) is :mod:`medbench.analysis.circular`'s;
this module only builds the items, so the MC data hooks need nothing from the analyses.
"""

from __future__ import annotations

import itertools

from medbench.core.errors import MedbenchError
from medbench.data.catalog import leaf_tasks, task_config

ALL_ORDERS = "all"  # --circular-orders all: every permutation of the options


def orders(n: int, every: bool = False) -> list[tuple[int, ...]]:
    """The option orders a question is asked under: position i shows original option ``order[i]``;
    the n cyclic rotations, or all n! permutations (``every``), the benchmark's own order first."""
    if every:
        return list(itertools.permutations(range(n)))
    return [tuple((i + k) % n for i in range(n)) for k in range(n)]


def rotate(item: dict, k: int, order: tuple[int, ...] | None = None) -> dict:
    """Order ``k`` of a normalised item (options ``[[letter, text], ...]``, answer letters): cyclic
    rotation ``k`` unless ``order`` says which original option each position shows."""
    letters = [letter for letter, _ in item["options"]]
    n = len(letters)
    order = order or tuple((i + k) % n for i in range(n))
    texts = [text for _, text in item["options"]]
    answer = "".join(sorted(letters[i] for i in range(n) if letters[order[i]] in item["answer"]))
    moved = {letters[order[i]]: letters[i] for i in range(n)}  # original letter -> where it is shown
    given = item.get("answer_as_given")  # a file's own answer string (CMB's): its order kept
    return {
        **item,
        **({"answer_as_given": _moved(given, moved)} if given is not None else {}),
        "id": f"{item.get('id', '')}#r{k}",
        "options": [[letters[i], texts[order[i]]] for i in range(n)],
        "answer": answer,
        "circular_of": str(item.get("id", "")),
        "rotation": k,
        "rotations": n,  # the cyclic count; rotations() sets the count of the orders it asks
        "order": list(order),
    }


def _moved(given: str, moved: dict[str, str]) -> str:
    """A file's own answer string under an order: each letter where its option now is, in order
    (alphabetical, as the file writes nearly all of them, so a reply naming the right options in
    order still matches; a string the file gives out of order, CMB's few ``EB``, keeps its order)."""
    letters = [moved.get(a, a) for a in given]
    return "".join(sorted(letters) if list(given) == sorted(given) else letters)


def rotations(item: dict, every: bool = False) -> list[dict]:
    """The item under each of its orders (:func:`orders`), side by side."""
    found = orders(len(item["options"]), every)
    return [{**rotate(item, k, order), "rotations": len(found)} for k, order in enumerate(found)]


def metadata(tasks: list[str], manager, limit: int | None, every: bool = False) -> dict:
    """The task metadata that makes the MC hooks rotate: the evaluated splits (never a few-shot one)
    and --limit in questions. A task that is not multiple choice is one line."""
    evaluated, fewshot = set(), set()
    for name in tasks:
        for leaf in leaf_tasks(manager, name):
            cfg = task_config(manager, leaf, resolve=True)
            if not hasattr(cfg.get("custom_dataset"), "layout"):
                raise MedbenchError(
                    f"--circular rotates multiple-choice options; {leaf} is not multiple choice"
                )
            metrics = {m.get("metric") for m in cfg.get("metric_list") or []}
            if "acc" not in metrics:  # circular accuracy needs each rotation right or wrong
                raise MedbenchError(
                    f"--circular needs each rotation scored right or wrong (a per-item acc); {leaf} is "
                    f"scored by {', '.join(sorted(map(str, metrics))) or 'no metric'} only: run its "
                    "medbench-convention task instead"
                )
            evaluated.add(cfg.get("test_split") or cfg.get("validation_split"))
            if cfg.get("fewshot_split"):
                fewshot.add(cfg["fewshot_split"])
    if evaluated & fewshot:
        raise MedbenchError(
            f"--circular: split {sorted(evaluated & fewshot)[0]!r} is evaluated by one task and gives "
            "another its few-shot examples; run those tasks separately"
        )
    return {"circular_splits": sorted(evaluated), "circular_limit": limit, "circular_orders": every}
