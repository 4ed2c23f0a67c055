"""Runs that share an output folder share a request cache only when nothing that changes a model's
answer differs (issue 24, case 1): the cache's name and the leaderboard's row key come from one
declared record, :func:`medbench.run.identity.answer_identity`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbench.backends import registry
from medbench.config.schemas import ANSWER_SETTINGS, ITEM_SETTINGS, RESULT_SETTINGS
from medbench.core.paths import SAMPLES_DIR
from medbench.models.resolve import cache_key
from medbench.report.folders import collect
from medbench.run.identity import answer_identity
from medbench.run.runner import RunConfig, run

BACKEND_ANSWER_OPTIONS = sorted({(b, o) for b, cls in registry().items() for o in cls.answer_options()})


def _config(**changes) -> dict:
    base = {
        "model": "m",
        "backend": "hf",
        "backend_options": {"dtype": "auto", "device": "cpu", "batch_size": 8},
        **{k: None for k in RESULT_SETTINGS},
    }
    for key, value in changes.items():
        if key in base["backend_options"] or key not in base:
            base["backend_options"] = {**base["backend_options"], key: value}
        else:
            base[key] = value
    return base


def test_every_result_setting_is_declared_as_changing_answers_or_items():
    assert set(RESULT_SETTINGS) == set(ANSWER_SETTINGS) | set(ITEM_SETTINGS)
    assert not set(ANSWER_SETTINGS) & set(ITEM_SETTINGS)
    # what the issue names: dtype, reply cap, a served model's tokenizer, backends
    assert {("hf", "dtype"), ("hf-fast", "dtype"), ("openai", "max_reply_chars")} <= set(
        BACKEND_ANSWER_OPTIONS
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(ANSWER_SETTINGS), st.one_of(st.integers(), st.text(max_size=5), st.booleans()))
def test_each_answer_setting_names_its_own_cache(setting, value):
    fp = {"path": "/m", "config_sha256": "c"}
    before, after = _config(), _config(**{setting: value})
    assert cache_key(fp, answer_identity(before)) != cache_key(fp, answer_identity(after))


@pytest.mark.parametrize(("backend", "option"), BACKEND_ANSWER_OPTIONS)
def test_each_declared_backend_option_names_its_own_cache(backend, option):
    fp = {"path": "/m"}
    one = {**_config(), "backend": backend, "backend_options": {option: "x"}}
    two = {**_config(), "backend": backend, "backend_options": {option: "y"}}
    assert cache_key(fp, answer_identity(one)) != cache_key(fp, answer_identity(two))


def test_the_backend_and_the_served_model_name_their_cache_but_not_its_address():
    fp = {"path": "/m"}
    assert cache_key(fp, answer_identity(_config())) != cache_key(
        fp, answer_identity({**_config(), "backend": "hf-fast"})
    )
    served = {"model_name": "default", "served": {"root": "/models/a"}}
    other = {"model_name": "default", "served": {"root": "/models/b"}}
    same = answer_identity(_config())
    assert cache_key(served, same) != cache_key(other, same)
    assert cache_key({**served, "api": "http://a"}, same) == cache_key({**served, "api": "http://b"}, same)


def test_settings_that_only_pick_items_keep_one_cache():
    fp = {"path": "/m"}
    for setting in ITEM_SETTINGS:
        assert cache_key(fp, answer_identity(_config())) == cache_key(
            fp, answer_identity(_config(**{setting: 3}))
        )


def _run(model, out, **changes):
    config = RunConfig(
        model=model,
        tasks=["ceval_med"],
        data_dir=str(SAMPLES_DIR),
        limit=2,
        output=str(out),
        **{k: v for k, v in changes.items() if k in ("backend", "thinking")},
    )
    config.backend_options = {"batch_size": 4, **{k: v for k, v in changes.items() if k == "dtype"}}
    folder, _ = run(config)
    return folder, json.loads((folder.path / "calls.json").read_text())


def test_dtype_and_backend_changes_make_fresh_requests_and_separate_rows(tiny_model, tmp_path):
    _, first = _run(tiny_model, tmp_path, dtype="bfloat16")
    _, fp32 = _run(tiny_model, tmp_path, dtype="float32")
    _, fast = _run(tiny_model, tmp_path, dtype="float32", backend="hf-fast")
    _, again = _run(tiny_model, tmp_path, dtype="float32", backend="hf-fast")
    assert first["model_requests"] == {"loglikelihood": 24}
    assert fp32["model_requests"] == {"loglikelihood": 24}, "bf16 answers reused for an fp32 run"
    assert fast["model_requests"], "hf answers reused for an hf-fast run"
    assert again["model_requests"] == {} and again["answered_from_cache"]  # the same run does reuse
    folders, _ = collect([str(tmp_path)])
    labels = sorted({f.model for f in folders})
    assert len(labels) == 3, labels  # three rows: bf16, fp32, hf-fast fp32 (its re-run shares a row)
    assert any("dtype=bfloat16" in label for label in labels)
    assert any("backend=hf-fast" in label for label in labels)


def _served(root: str | None, letter: str):
    """A server of one model named ``default`` that answers ``letter``; its listing names the
    checkpoint (vLLM's ``root``) unless ``root`` is None (only an id, as many non-vLLM servers list)."""
    from tests.servers import ScriptedChat

    server = ScriptedChat([], reply=f"答案：{letter}")
    entry = {"id": "default", "object": "model", "created": 1, "owned_by": "me", "permission": [{"id": "x"}]}
    server.models = [entry if root is None else {**entry, "root": root}]
    return server


def _served_config(url: str, out, model: str = "default") -> RunConfig:
    return RunConfig(
        model=model,
        tasks=["medqa_mcmle"],
        backend="openai",
        data_dir=str(SAMPLES_DIR),
        output=str(out),
        backend_options={"base_url": url, "model_name": model, "max_retries": 0, "timeout": 5.0},
    )


def _served_run(url: str, out):
    folder, scores = run(_served_config(url, out))
    return folder, json.loads((folder.path / "calls.json").read_text()), scores


def test_two_servers_of_different_models_under_one_name_share_no_answers(tmp_path):
    with _served("/models/a", "A").serving() as first_url:
        first, first_calls, first_scores = _served_run(first_url, tmp_path)
    with _served("/models/b", "B").serving() as second_url:
        second, second_calls, second_scores = _served_run(second_url, tmp_path)
    assert first_calls["model_requests"] and second_calls["model_requests"], "answers of model a reused for b"
    accuracy = [
        next(s.value for s in scores if s.metric == "acc") for scores in (first_scores, second_scores)
    ]
    assert accuracy[0] != accuracy[1]
    assert json.loads((second.path / "model.json").read_text())["served"]["root"] == "/models/b"
    folders, _ = collect([str(tmp_path)])
    assert len({f.model for f in folders}) == 2  # two rows, not one


@pytest.mark.parametrize("listing", ["only an id", "no /v1/models"])
def test_two_servers_whose_listing_does_not_identify_the_model_share_no_answers(tmp_path, caplog, listing):
    """Issue 36: a listing without ``root`` (or no listing) cannot tell two models apart, so the
    server's address joins the cache key, and the run says so."""
    servers = [_served(None, "A"), _served(None, "B")]
    if listing == "no /v1/models":
        for server in servers:
            server.models = None
    with servers[0].serving() as first_url:
        _, first_calls, first_scores = _served_run(first_url, tmp_path)
    with servers[1].serving() as second_url:
        second, second_calls, second_scores = _served_run(second_url, tmp_path)
    assert first_calls["model_requests"] and second_calls["model_requests"], "answers of one server reused"
    accuracy = [
        next(s.value for s in scores if s.metric == "acc") for scores in (first_scores, second_scores)
    ]
    assert accuracy[0] != accuracy[1]
    served = json.loads((second.path / "model.json").read_text())["served"]
    assert served["server"] == second_url and "does not say which model" in served["keyed_on_server"]
    assert f"the server at {second_url} does not say which model 'default' is" in caplog.text
    folders, _ = collect([str(tmp_path)])
    assert len({f.model for f in folders}) == 2  # two rows, not one


def test_replicas_whose_listing_does_not_identify_the_model_are_keyed_on_every_address():
    from medbench.backends.vllm_server import VLLMServerConfig

    with _served(None, "A").serving() as one, _served(None, "A").serving() as two:
        _, fp = VLLMServerConfig(base_url=f"{one},{two}", model_name="default").identity("default")
    assert fp["served"]["server"] == [one, two] and fp["served"]["id"] == "default"


def test_a_server_that_does_not_serve_the_name_or_does_not_answer_is_one_line(tmp_path):
    from medbench.core.errors import MedbenchError
    from medbench.models.serve import free_port

    with _served("/models/a", "A").serving() as url:
        config = _served_config(url, tmp_path, model="other")
        with pytest.raises(MedbenchError, match=r"serves no model named 'other' \(it serves: default\)"):
            run(config)
    config.backend_options = {"base_url": f"http://127.0.0.1:{free_port()}/v1"}
    with pytest.raises(MedbenchError, match=r"does not answer \(ConnectError\): is it running"):
        run(config)
    assert not list(tmp_path.glob("*/metrics.json"))  # nothing was sent, nothing scored


#: for every declared answer setting, two values a run can take (the first its default)
PAIRS = {
    "shots": (None, 1),
    "mode": (None, "gen"),
    "prompt_style": ("official", "lm-eval"),
    "chat": (True, True),  # a chat API always takes messages: checked on the tiny model below
    "system_prompt": (None, "你是一名医生。"),
    "fewshot_as_multiturn": (True, False),
    "thinking": ("auto", "off"),
    "think_tags": (None, "<t>,</t>"),
    "extractor": ("patterns", "llm"),
    "extractor_model": ("x", "y"),
    "preset": (None, "chimed"),
    "temperature": (None, 0.5),
    "top_p": (None, 0.9),
    "max_new_tokens": (None, 16),
    "seed": (1234, 1),
}


def test_every_declared_answer_setting_has_a_pair_to_toggle():
    assert set(PAIRS) == set(ANSWER_SETTINGS)


@pytest.mark.parametrize("setting", [s for s in ANSWER_SETTINGS if s != "chat"] + ["max_reply_chars"])
def test_two_runs_into_one_folder_that_differ_in_one_answer_setting_share_no_answer(tmp_path, setting):
    from tests.servers import ScriptedChat

    def served(url: str, value) -> dict:
        options = {"base_url": url, "model_name": "s", "max_reply_chars": 65536}
        config = RunConfig(model="s", tasks=["medqa_mcmle"], backend="openai", backend_options=options)
        config.data_dir, config.output, config.limit = str(SAMPLES_DIR), str(tmp_path), 2
        config.extractor_base_url, config.extractor_model = url, "x"
        if setting.startswith("extractor_"):
            config.extractor = "llm"
        if setting == "max_reply_chars":
            options["max_reply_chars"] = value
        else:
            setattr(config, setting, value)
        folder, _ = run(config)
        return json.loads((folder.path / "calls.json").read_text())

    values = PAIRS.get(setting, (65536, 1000))
    with ScriptedChat([], reply="答案：A").serving() as url:
        served(url, values[0])
        again = served(url, values[0])
        other = served(url, values[1])
    assert again["model_requests"] == {}, "the same settings share the cache"
    assert other["model_requests"].get("generate_until"), f"{setting}={values[1]!r} reused answers"


def test_chat_on_and_off_share_no_answer(tiny_model, tmp_path):
    def chat_run(chat: bool) -> dict:
        config = RunConfig(
            model=tiny_model, tasks=["huatuo26m"], data_dir=str(SAMPLES_DIR), output=str(tmp_path)
        )
        config.limit, config.max_new_tokens, config.chat = 1, 2, chat
        folder, _ = run(config)
        return json.loads((folder.path / "calls.json").read_text())

    chat_run(False)
    assert chat_run(True)["model_requests"], "--chat reused the plain prompt's answers"
