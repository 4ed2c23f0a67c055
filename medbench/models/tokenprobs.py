"""Per-token log-probabilities of whole token sequences, from any loglik backend's lm-eval model.

lm-eval's ``LM`` interface returns a continuation's *summed* log-likelihood; the Min-K% probe
(:mod:`medbench.audit.mink`) needs every token's. Each backend's model gives them in one pass per text:

- ``hf`` / ``hf-fast`` (lm-eval's ``HFLM``): one forward pass per batch, the log-softmax of each
  position gathered at the next token;
- ``vllm`` / ``vllm-fast`` (lm-eval's ``VLLM``, one engine): ``prompt_logprobs``;
- ``vllm-server``: one echo request per text (:meth:`medbench.backends._server_lm.ServerLM.token_logprobs`).

Any other loglik model takes the generic path: each token scored as a one-token continuation of the
tokens before it through lm-eval's own ``_loglikelihood_tokens`` -- the same numbers, one request
per token (the tests hold the fast paths to it). A sequence longer than the model's window is cut to
the window's first tokens; the caller is told how many were cut.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger("medbench")


def token_logprobs(lm, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
    """log p(t_i | t_<i) for i = 1..len-1 of each sequence (the first token is the context only)."""
    sequences = [list(s) for s in sequences]
    own = getattr(lm, "token_logprobs", None)
    if callable(own):
        return own(sequences)
    from lm_eval.models.huggingface import HFLM

    if isinstance(lm, HFLM):
        return _hf(lm, sequences)
    engine = getattr(lm, "model", None)
    if hasattr(engine, "llm_engine"):  # a vLLM engine in this process
        return _vllm(engine, sequences)
    log.warning(
        "%s: no one-pass per-token scoring; each token is scored as its own request (slow: vLLM with "
        "--data-parallel-size 1 or a vllm-server is one pass per text)",
        type(lm).__name__,
    )
    return _generic(lm, sequences)


def window(lm) -> int | None:
    """The longest sequence the model scores (None: the backend does not say)."""
    try:
        return int(lm.max_length)
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return None


def _hf(lm, sequences: list[list[int]], batch: int = 8) -> list[list[float]]:
    """Right-padded batches (a causal model's earlier positions never see the padding), longest
    first so a batch's lengths are close."""
    import torch

    out: list[list[float] | None] = [None] * len(sequences)
    order = sorted(range(len(sequences)), key=lambda k: -len(sequences[k]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            members = order[start : start + batch]
            width = len(sequences[members[0]])
            ids = torch.zeros((len(members), width), dtype=torch.long)
            for row, k in enumerate(members):
                ids[row, : len(sequences[k])] = torch.tensor(sequences[k])
            ids = ids.to(lm.device)
            logprobs = torch.log_softmax(lm._model_call(ids).float(), dim=-1)
            for row, k in enumerate(members):
                n = len(sequences[k])
                picked = logprobs[row, : n - 1].gather(1, ids[row, 1:n, None])[:, 0]
                out[k] = picked.tolist()
    return out  # type: ignore[return-value]


def _vllm(engine, sequences: list[list[int]]) -> list[list[float]]:
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
    outputs = engine.generate(
        [TokensPrompt(prompt_token_ids=s) for s in sequences], sampling_params=params, use_tqdm=False
    )
    result = []
    for output, seq in zip(outputs, sequences, strict=True):
        steps = output.prompt_logprobs
        result.append([float(getattr(steps[i][t], "logprob", steps[i][t])) for i, t in enumerate(seq) if i])
    return result


def _generic(lm, sequences: list[list[int]]) -> list[list[float]]:
    """Every token as a one-token continuation: lm-eval's scoring, whatever the backend."""
    requests = [(None, seq[:i], [seq[i]]) for seq in sequences for i in range(1, len(seq))]
    scores = iter(lm._loglikelihood_tokens(requests, disable_tqdm=True))
    return [[float(next(scores)[0]) for _ in range(1, len(seq))] for seq in sequences]
