#!/usr/bin/env bash
# The GPU check (issue 38): lm-eval's hf vs medbench's hf-fast in bfloat16 and float32 -- and lm-eval's
# vllm vs medbench's vllm-fast where vLLM is installed and a GPU is seen -- on one model built here
# from a config with random weights at LLaMA-3.2-1B's shape and the tiny model's tokenizer. Nothing is
# downloaded: it runs with no network. Writes one Markdown table (with the card and the versions) to
# OUT_DIR/gpu_check.md; the logs of each run lie beside it. See benchmarks/README.md.
#
#   benchmarks/gpu_check.sh [OUT_DIR]                  # on a GPU machine: under 8 minutes on an H100
#   SHAPE=tiny LIMIT=2 benchmarks/gpu_check.sh OUT     # the same on a CPU in a minute (a test runs it)
#
# Environment: SHAPE (llama-1b | tiny), DATA_DIR (C-Eval/CMMLU folders; default the bundled samples),
# TASKS (default cmmlu_med,ceval_med), LIMIT (questions per subject, 0 = all; default 0), BATCH_SIZE (8).
set -euo pipefail
# paths the caller gives are the caller's: made absolute before moving to the repository root (a
# relative OUT would otherwise write the model, ~2.5 GB at LLaMA-1B's shape, into the checkout)
OUT="$(realpath -m -- "${1:-gpu_check_out}")"
if [ -n "${DATA_DIR:-}" ]; then DATA_DIR="$(realpath -m -- "$DATA_DIR")"; fi
cd "$(dirname "$0")/.."

SHAPE="${SHAPE:-llama-1b}"
case "$SHAPE" in
  llama-1b|tiny) ;;
  *) echo "gpu_check.sh: SHAPE=$SHAPE: expected llama-1b or tiny" >&2; exit 2 ;;
esac
DATA_DIR="${DATA_DIR:-medbench/resources/samples}"
TASKS="${TASKS:-cmmlu_med,ceval_med}"
LIMIT="${LIMIT:-0}"
BATCH_SIZE="${BATCH_SIZE:-8}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
MODEL="$OUT/random-$SHAPE"

# the model: random weights (seeded) at the chosen shape, the tiny model's tokenizer (ids < 600 of the
# 128,256 rows the embedding has at LLaMA-1B's shape, so the vocabulary projection costs what it would)
python - "$SHAPE" "$MODEL" <<'PY'
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from medbench.models.resolve import tiny_model_dir

SHAPES = {
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, vocab_size=128256, rope_theta=500000.0),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=600),
}
shape, out = sys.argv[1], Path(sys.argv[2])
if not (out / "config.json").is_file():
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir())
    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=8192, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config)
    model.to(torch.bfloat16).save_pretrained(out)  # random weights: bfloat16 loses nothing they hold
    tokenizer.save_pretrained(out)
print(f"model {out}: {shape}")
PY

TABLE="$OUT/gpu_check.md"
python - "$SHAPE" "$DATA_DIR $TASKS" "$LIMIT" "$BATCH_SIZE" >"$TABLE" <<'PY'
import os
import sys

import lm_eval
import torch
import transformers

shape, data, limit, batch = sys.argv[1:]
card = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)"
try:
    import vllm

    vllm_version = vllm.__version__
except ImportError:
    vllm_version = "not installed"
print(f"# GPU check: random-weight {shape} model, tiny tokenizer, {data} (limit {limit}), batch {batch}\n")
print(f"device {card}; torch {torch.__version__} (CUDA {torch.version.cuda}); transformers "
      f"{transformers.__version__}; lm-eval {lm_eval.__version__}; vllm {vllm_version}\n")
PY

run() {  # one benchmark run; its log kept, its table row collected
  local name="$1"
  shift
  python benchmarks/mc_speed.py --model "$MODEL" --data-dir "$DATA_DIR" --tasks "$TASKS" --limit "$LIMIT" "$@" \
    >"$OUT/$name.log" 2>"$OUT/$name.err" || { tail -5 "$OUT/$name.err" >&2; exit 1; }
  grep '^| ' "$OUT/$name.log" | grep -v '^| model' >>"$OUT/rows.md"
  grep -m1 '^| model' "$OUT/$name.log" >"$OUT/header.md"
  echo "$name: $(tail -1 "$OUT/$name.log")"
}

: >"$OUT/rows.md"
for dtype in bfloat16 float32; do
  run "hf-$dtype" --backend hf --dtype "$dtype" --batch-size "$BATCH_SIZE"
done
{ cat "$OUT/header.md"; echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"; cat "$OUT/rows.md"; } >>"$TABLE"

if python -c "import torch, vllm; assert torch.cuda.is_available()" 2>/dev/null; then
  : >"$OUT/rows.md"
  for dtype in bfloat16 float32; do
    run "vllm-$dtype" --backend vllm --dtype "$dtype"
  done
  { echo; cat "$OUT/header.md"; echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"; cat "$OUT/rows.md"; } >>"$TABLE"
fi
echo "load after the runs: $(uptime)" >>"$TABLE"
cat "$TABLE"
