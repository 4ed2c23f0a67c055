"""MC (Song et al., 2020): ``<data-dir>/mc/sample_test.dialog``, blank-line separated ``.dialog``
blocks (``id<TAB>...`` header, ``P``/``D`` turns, ``SUM`` summaries)."""

from medbench.data import genread
from medbench.data.datasources import Row, read_text
from medbench.scoring import gen


def dialogue_turns(block: list[tuple[int, str]]) -> list[list]:
    """``[role, text, line]`` turns of one ``.dialog`` block; a line that is not a ``P``/``D`` turn or a
    ``SUM`` summary (two dialogues run together, a stray line) makes the block malformed."""
    turns: list[list] = []
    for line_no, text in block[1:]:
        tag, _, rest = text.partition("\t")
        if tag.startswith("SUM"):
            continue
        if tag not in ("P", "D") or not rest.strip():
            raise genread.Malformed(
                f"line {line_no}: expected 'P<TAB>text', 'D<TAB>text' or a SUM line, got {text[:30]!r}"
            )
        role = "patient" if tag == "P" else "doctor"
        utterance = rest.split("\t")[0].strip()
        if turns and turns[-1][0] == role:
            turns[-1][1] += "，" + utterance
        else:
            turns.append([role, utterance, line_no])
    return turns


def read(path):
    """MC (Song et al., 2020) ``.dialog`` blocks -> one item per doctor turn with the turns before it.

    Consecutive utterances of one speaker are joined into one turn (with ``，``).
    """
    block: list[tuple[int, str]] = []
    lines = read_text(path).splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append((number, line))
            continue
        if not block:
            continue
        header = block[0][1].split("\t")
        dialog_id = header[1] if len(header) > 1 and header[0] == "id" else str(block[0][0])
        try:
            turns = dialogue_turns(block)
        except genread.Malformed as exc:
            blank = {"id": dialog_id, "history": [], "question": "", "reference": ""}
            yield Row(str(path), block[0][0], {}, f"dialogue {dialog_id}: {exc}"), blank
            turns = []
        for i, (role, text, line_no) in enumerate(turns):
            if role == "doctor" and i > 0:
                yield (
                    Row(str(path), line_no, {}),
                    {
                        "id": f"{dialog_id}-{i}",
                        "history": [[r, t] for r, t, _ in turns[: i - 1]],
                        "question": turns[i - 1][1],
                        "reference": text,
                    },
                )
        block = []


load = gen.loader("mc/sample_test.dialog", read)  # the task's custom_dataset hook
