"""The backend registry is the only wiring: a backend is one module that names a typed ``BACKEND``.

A toy backend written to a temporary file (and put on the backends package's path) gets its flags on
``medbench run``, its options through ``--model-args``, and runs a task; flags of another backend and
bad option values are one line; ``--device`` defaults to the GPU when PyTorch sees one.
"""

from __future__ import annotations

import json
import textwrap

import pytest

import medbench.backends
from medbench.backends import backend_config, registry
from medbench.cli.main import main
from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR

TOY = textwrap.dedent(
    '''
    """toy: always answers option A (generation only)."""

    from dataclasses import dataclass

    from lm_eval.api.model import LM

    from medbench.backends.base import BackendConfig, Capabilities, option


    class AlwaysA(LM):
        def __init__(self, reply):
            super().__init__()
            self.reply = reply

        def loglikelihood(self, requests):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests, disable_tqdm=False):
            return [self.reply for _ in requests]


    @dataclass
    class ToyConfig(BackendConfig):
        name = "toy"
        summary = "a scripted answer"
        capabilities = Capabilities(loglik=False, generate=True, local=False)

        reply: str = option("答案：A", "what the toy answers")

        def identity(self, model):
            return model, {"api": "toy", "model_name": model}

        def make_lm(self, model, seed):
            return AlwaysA(self.reply)


    BACKEND = ToyConfig
    '''
)


@pytest.fixture
def toy_backend(tmp_path, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY, encoding="utf-8")
    monkeypatch.setattr(medbench.backends, "__path__", [*medbench.backends.__path__, str(folder)])
    yield
    import sys

    sys.modules.pop("medbench.backends.toy", None)


def _flags(command: str) -> set[str]:
    from medbench.cli.parser import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps subcommands here
    return {o for a in commands[command]._actions for o in a.option_strings}


SHIPPED = ["hf", "hf-fast", "openai", "vllm", "vllm-fast", "vllm-server"]


def test_the_shipped_backends_declare_their_capabilities():
    """The shipped ones (a contributor's new backend beside them changes nothing here)."""
    backends = {name: cls for name, cls in registry().items() if name in SHIPPED}
    assert list(backends) == SHIPPED
    assert [n for n, b in backends.items() if not b.capabilities.loglik] == ["openai"]
    assert [n for n, b in backends.items() if not b.capabilities.local] == ["openai", "vllm-server"]


def test_a_toy_backend_in_one_new_file_gets_flags_and_runs_a_task(toy_backend, tmp_path):
    out = tmp_path / "runs"
    args = ["run", "--model", "toy-1", "--backend", "toy", "--tasks", "medqa_mcmle", "--limit", "3"]
    assert main([*args, "--reply", "答案：B", "--data-dir", str(SAMPLES_DIR), "--output", str(out)]) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    config = json.loads((folder / "config.json").read_text())
    assert config["backend"] == "toy" and config["backend_options"] == {"reply": "答案：B"}
    samples = [json.loads(x) for x in (folder / "samples" / "medqa_mcmle_gen.jsonl").read_text().splitlines()]
    assert [s["extracted"] for s in samples] == [
        "B",
        "B",
        "B",
    ]  # switched to gen: the toy cannot score loglik
    assert "--reply" in _flags("run") and "--reply" in _flags("bias")


def test_model_args_reach_the_backend_config_typed():
    config = backend_config("hf", {"batch_size": "16", "device": "cpu"})
    assert config.batch_size == 16 and config.device == "cpu"
    with pytest.raises(MedbenchError, match="backend hf has no option tensor_parallel_size"):
        backend_config("hf", {"tensor_parallel_size": "2"})
    with pytest.raises(MedbenchError, match=r"option tensor_parallel_size='many' is not a valid int"):
        backend_config("vllm", {"tensor_parallel_size": "many"})
    with pytest.raises(MedbenchError, match="--batch-size must be at least 1"):
        backend_config("hf-fast", {"batch_size": 0})


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--tensor-parallel-size", "2"],
            "--tensor-parallel-size is an option of backend vllm, vllm-fast, not of hf",
        ),
        (
            ["--model-args", "batch_size=2", "--batch-size", "4"],
            "batch_size given both as a flag and in --model-args",
        ),
        (["--model-args", "batch_size"], "--model-args: 'batch_size' is not KEY=VAL"),
        (["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"], "needs --model or --model-name"),
    ],
)
def test_backend_flag_mistakes_are_one_line(flags, message, capsys):
    args = ["run", "--tasks", "cmexam", *flags]
    if "--backend" not in flags:
        args += ["--model", "tiny"]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_device_defaults_to_the_gpu_when_pytorch_sees_one(monkeypatch):
    import torch

    for seen, expected in ((True, "cuda"), (False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda seen=seen: seen)
        for name in ("hf", "hf-fast"):
            config = backend_config(name)
            config.resolve()
            assert config.device == expected
    config = backend_config("hf", {"device": "cpu"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    config.resolve()
    assert config.device == "cpu"  # an explicit device is kept


def test_every_model_command_takes_the_same_backend_flags():
    for command in ("run", "suite", "bias", "demo"):
        wanted = {"--backend", "--model-args", "--device", "--base-url", "--tensor-parallel-size"}
        assert wanted <= _flags(command), command


def test_the_judge_client_takes_the_openai_backend_options_checked_the_same_way(tmp_path, capsys):
    client = {"--base-url", "--concurrency", "--max-retries", "--timeout", "--max-reply-chars"}
    assert client <= _flags("judge")
    assert "--max-reply-chars" in _flags("arena")
    runs = [str(tmp_path / "a"), str(tmp_path / "b")]
    args = ["judge", "--runs", *runs, "--rubric", "iimedgpt_pf", "--judge-model", "j"]
    assert main([*args, "--base-url", "http://127.0.0.1:9/v1", "--concurrency", "0"]) == 2
    assert "--concurrency must be at least 1 (got 0)" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["hf", "hf-fast"])
def test_dtype_and_an_automatic_batch_size_reach_the_hf_model(name, monkeypatch):
    config = backend_config(name, {"batch_size": "auto", "dtype": "bfloat16", "device": "cpu"})
    seen = {}
    monkeypatch.setattr(type(config), "model_class", lambda self: lambda **kwargs: seen.update(kwargs))
    config.make_lm("/models/m", seed=1)
    assert seen == {"pretrained": "/models/m", "device": "cpu", "batch_size": "auto", "dtype": "bfloat16"}
    assert backend_config(name, {"batch_size": "16"}).batch_size == 16
    with pytest.raises(MedbenchError, match="--batch-size must be a number or auto"):
        backend_config(name, {"batch_size": "lots"})
    with pytest.raises(MedbenchError, match="--dtype must be one of auto, bfloat16, float16, float32"):
        backend_config(name, {"dtype": "fp8"})
    assert "--dtype" in _flags("run")


def test_an_unreachable_vllm_server_is_one_line_not_a_traceback(tiny_model, tmp_path, capsys):
    args = [
        "run",
        "--model",
        tiny_model,
        "--tasks",
        "medqa_mcmle",
        "--data-dir",
        str(SAMPLES_DIR),
        "--limit",
        "2",
    ]
    flags = ["--backend", "vllm-server", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0"]
    assert main([*args, *flags, "--timeout", "2", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the server at http://127.0.0.1:9/v1 does not answer (ConnectError)" in err  # before any item
    assert "Traceback" not in err
