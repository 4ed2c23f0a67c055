"""In a terminal a command shows one live progress display that updates in place (the stage, then a
row per open bar with count, rate and ETA); library bars never draw themselves."""

import os
import re
import shutil
import subprocess

import pytest

from medbench.core.paths import SAMPLES_DIR


@pytest.mark.slow
def test_a_run_in_a_terminal_shows_one_display_updated_in_place(tiny_model, tmp_path):
    if not shutil.which("script"):
        pytest.skip("util-linux `script` (a pseudo-terminal) is not installed")
    command = (
        f"medbench run --model {tiny_model} --tasks ceval_med,huatuo26m --mode gen --max-new-tokens 16"
        f" --data-dir {SAMPLES_DIR} --output {tmp_path / 'runs'}"
    )
    typescript = tmp_path / "typescript"
    done = subprocess.run(
        ["script", "-q", "-e", "-c", command, str(typescript)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
        timeout=600,
    )
    screen = typescript.read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, screen[-2000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert screen.count("\x1b[2K") > 5  # rows erased and redrawn: one display, updated in place
    assert "tiny" in plain and "ceval_med, huatuo26m" in plain  # the stage row
    # issue 39: labelled from the first frame, while the data is read and the model loads
    assert "reading the data, loading the model" in plain
    assert "Running generate_until requests" in plain  # lm-eval's bar, as a row of the display
    assert "it/s]" not in plain and "\r" not in screen.replace("\r\n", "\n")  # no tqdm bar of its own
    assert "run folder:" in plain and "| huatuo26m |" in plain  # the results print as before
