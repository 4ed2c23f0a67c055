"""Huatuo-26M test: ``<data-dir>/huatuo26m/huatuo26M_test.json``, a JSON list of
``{instruction: [text], output: [text]}`` single-turn QA records."""

from medbench.data import genread
from medbench.scoring import gen


def read(path):
    return genread.checked(
        genread.read_json_list(path),
        lambda row: {
            "id": genread.item_id(row.data, row),
            "history": [],
            "question": genread.text_field(row.data, "instruction", one_element_list=True),
            "reference": genread.text_field(row.data, "output", one_element_list=True),
        },
    )


load = gen.loader("huatuo26m/huatuo26M_test.json", read)  # the task's custom_dataset hook
