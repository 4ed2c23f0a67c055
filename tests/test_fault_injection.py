"""Fault injection on the API path (issue 13, "make it hold by construction").

A scripted server on loopback plays one fault per item -- 429 with Retry-After, 5xx, a hang past the
timeout, malformed JSON, empty choices, a wrong schema, a dropped connection, a 10 MB body -- while a
real ``medbench run`` process is killed with SIGKILL after a random number of requests. Then:

- re-run against the still-faulty server: ``n_failed`` is exactly the number of items whose fault
  never heals, and every other number equals the fault-free run's;
- re-run once the server is healed: the run is complete and its metrics equal a fault-free run's
  exactly.

Seeds are fixed, so CI runs a bounded, repeatable set of kill points.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat

#: a phrase of one evaluated question each -> the fault its requests meet
FAULTS = {
    "转移性右下腹痛": "429-once",  # heals on the client's retry
    "小细胞低色素": "500",
    "大量饮酒后上腹剧痛": "hang",
    "午后低热、盗汗": "bad-json",
    "妊娠32周": "empty-choices",
    "急性细菌感染时常明显增多的白细胞": "wrong-schema",
    "维生素D缺乏可引起": "drop",
    "休克的本质是": "huge",  # answered: the reply is cut, its answer letter kept
}
NEVER_HEAL = {"500", "hang", "bad-json", "empty-choices", "wrong-schema", "drop"}
TASKS = "medqa_mcmle,ceval_med"


def reply(prompt: str) -> str:
    """A deterministic answer per question (the letter depends on the question text)."""
    question = prompt.rsplit("答案", 1)[0][-40:]
    return "答案：" + "ABCD"[sum(map(ord, question)) % 4]


def config(url: str, output) -> RunConfig:
    return RunConfig(
        model="scripted",
        tasks=TASKS.split(","),
        backend="openai",
        data_dir=str(SAMPLES_DIR),
        output=str(output),
        backend_options={
            "model_name": "scripted",
            "base_url": url,
            "max_retries": 1,
            "timeout": 1.0,
            "concurrency": 2,
        },
    )


def metrics(scores) -> list[tuple]:
    return sorted((s.task, s.metric, s.convention, s.value, s.n) for s in scores)


def kill_after(script: ScriptedChat, url: str, output, requests: int) -> None:
    """``medbench run`` in its own process, SIGKILLed once the server has seen ``requests``."""
    cmd = [sys.executable, "-m", "medbench", "run", "--backend", "openai", "--base-url", url]
    cmd += ["--model-name", "scripted", "--tasks", TASKS, "--data-dir", str(SAMPLES_DIR)]
    cmd += ["--output", str(output), "--max-retries", "1", "--timeout", "1", "--concurrency", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    start = script.total
    deadline = time.time() + 240
    while proc.poll() is None and script.total - start < requests and time.time() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory):
    with ScriptedChat([], reply=reply).serving() as url:
        _, scores = run(config(url, tmp_path_factory.mktemp("clean")))
    return metrics(scores)


@pytest.mark.parametrize("seed", [1, 2])
def test_after_faults_and_a_kill_the_reruns_are_exact(tmp_path, fault_free, seed):
    script = ScriptedChat(list(FAULTS.items()), reply=reply)
    script.hang_seconds = 2.5
    output = tmp_path / "runs"
    with script.serving() as url:
        kill_after(script, url, output, requests=random.Random(seed).randint(1, 24))

        folder, scores = run(config(url, output))  # the server still faulty
        status = json.loads((folder.path / "status.json").read_text())
        failures = (folder.path / "failures.jsonl").read_text().splitlines()
        failed = {(f["task"], f["doc_id"]) for f in map(json.loads, failures)}
        assert status["n_failed"] == len(NEVER_HEAL) == len(failed) and not status["complete"]
        by_task = {(s.task, s.metric): s for s in scores if not s.convention.startswith("macro")}
        assert by_task[("medqa_mcmle_gen", "acc")].n_failed == 5 - 1  # all but the 429-once item
        assert by_task[("ceval_med_gen", "acc")].n_failed == 2

        script.healed = True
        healed, healed_scores = run(config(url, output))
    assert json.loads((healed.path / "status.json").read_text()) == {"complete": True, "n_failed": 0}
    assert metrics(healed_scores) == fault_free
    assert all(s.n_failed == 0 for s in healed_scores)
    samples = [
        json.loads(x) for f in (healed.path / "samples").glob("*.jsonl") for x in f.read_text().splitlines()
    ]
    assert not any("error" in s for s in samples)
