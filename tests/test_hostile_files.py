"""Nothing in a runs folder received from someone else runs code when medbench reads it (issue 13).

Each cache is filled by a real run, then every stored value is replaced with a pickle whose loading
would write a marker file -- what a planted file in a shared runs folder would do. Reading the
folder again must not create the marker: the value reads as a miss and the work is redone.
"""

import pickle
import sqlite3
from pathlib import Path

from medbench.core.paths import SAMPLES_DIR
from medbench.judge import JudgeConfig, run_judge
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat
from tests.test_judge import _reply, _run_folder


class Payload:
    """Unpickling this writes ``path``: code running while a cache is read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "code ran"))


def plant(cache: Path, marker: Path) -> int:
    """Overwrite every value of a SqliteDict file with the payload; returns how many."""
    with sqlite3.connect(cache) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM unnamed")]
        for key in keys:
            db.execute("UPDATE unnamed SET value = ? WHERE key = ?", (pickle.dumps(Payload(marker)), key))
    return len(keys)


def test_a_planted_pickle_in_the_judge_cache_does_not_execute(tmp_path):
    runs = [_run_folder(tmp_path, "run-a", "A答"), _run_folder(tmp_path, "run-b", "B答")]
    marker = tmp_path / "marker"
    script = ScriptedChat([], reply=_reply)
    config = JudgeConfig(
        runs=runs,
        rubric="iimedgpt_pf",
        judge_model="j",
        base_url="",
        lang="en",
        output=str(tmp_path / "shared"),
    )
    with script.serving() as url:
        config.base_url = url
        run_judge(config)
        assert plant(tmp_path / "shared" / ".judge-cache.sqlite", marker) == 10
        _, again = run_judge(config)
    assert not marker.exists()
    assert again["usage"]["cached"] == 0 and again["usage"]["requests"] >= 10  # asked again


def test_a_planted_pickle_in_the_request_cache_does_not_execute(tmp_path):
    marker = tmp_path / "marker"
    with ScriptedChat([]).serving() as url:
        config = RunConfig(
            model="s",
            tasks=["medqa_mcmle"],
            backend="openai",
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path / "shared"),
            backend_options={"model_name": "s", "base_url": url},
        )
        run(config)
        (cache,) = (tmp_path / "shared" / ".cache").glob("*.sqlite")
        assert plant(cache, marker) == 5
        again, _ = run(config)
    assert not marker.exists()
    assert (again.path / "calls.json").read_text().count('"generate_until": 5') == 1  # asked again
