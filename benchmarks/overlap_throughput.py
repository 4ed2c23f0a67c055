"""Throughput of the contamination index (medbench.audit.overlap): training lines scanned per second against
the items of real benchmarks, and the peak memory.

The training lines are synthetic: sentences cut at random from the bundled Chinese corpus (lengths
like SFT records', 40-400 characters), every 1,000th one holding a benchmark item verbatim, so the
scan does the work of a real corpus with hits. Run on an idle machine and give the load with the
figure::

    uptime; python benchmarks/overlap_throughput.py --lines 1000000 --data-dir ../shared/data; uptime
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from medbench.audit.overlap import OverlapIndex
from medbench.config.contamination import ContaminationConfig
from medbench.core.paths import RESOURCES_DIR, SAMPLES_DIR
from medbench.run.contamination import evaluation_items, item_text


def synthetic_lines(count: int, items: list[str], seed: int = 0):
    corpus = (RESOURCES_DIR / "corpus_zh.txt").read_text(encoding="utf-8").replace("\n", "")
    rng = random.Random(seed)
    for i in range(count):
        if i % 1000 == 999:
            yield [rng.choice(items)]
            continue
        start, length = rng.randrange(len(corpus) - 400), rng.randrange(40, 400)
        yield [corpus[start : start + length // 2], corpus[start + length // 2 : start + length]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--data-dir", default=None, help="benchmark data (default: the bundled samples)")
    parser.add_argument("--tasks", default="cmexam,medqa_mcmle,ceval_med,cmmlu_med")
    parser.add_argument("--smoke", action="store_true", help="seconds: 1,000 lines against the samples")
    args = parser.parse_args()
    if args.smoke:  # CI runs this so a moved import fails there, not at the next measurement
        args.lines, args.data_dir = 1000, None
    data_dir = args.data_dir or str(SAMPLES_DIR)
    config = ContaminationConfig(train=["-"], tasks=args.tasks.split(","), data_dir=data_dir)
    docs, _ = evaluation_items(config)
    texts = {f"{t}\t{i}": item_text(d) for (t, i), d in docs.items()}
    started = time.perf_counter()
    index = OverlapIndex({k: v[0] for k, v in texts.items()}, {k: v[1] for k, v in texts.items()})
    built = time.perf_counter() - started
    started = time.perf_counter()
    index.scan(synthetic_lines(args.lines, [v[0] for v in texts.values()]))
    scanned = time.perf_counter() - started
    flagged = sum(m.share >= 0.5 for m in index.matches.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"items indexed: {len(texts)} in {built:.1f} s")
    print(f"training lines: {args.lines:,} in {scanned:.1f} s = {args.lines / scanned:,.0f} lines/s")
    print(f"items flagged by overlap: {flagged}; peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
