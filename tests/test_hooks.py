"""Issue 37: the run's context reaches lm-eval's task hooks explicitly. A run builds its tasks once and
binds its thinking tags and LLM extractor to every hook that declares a ``context`` parameter; nothing
process-wide changes, so a task built elsewhere (plain lm-eval) keeps the hooks' defaults."""

from __future__ import annotations

import json

from medbench.core._compat import filter_pipelines
from medbench.core.hooks import PLAIN, Bound, HookContext
from medbench.core.paths import SAMPLES_DIR
from medbench.run.planning import task_manager
from medbench.run.tasks import build

REPLY = "<r>想一想：答案：B\n解释：不对</r>答案：A\n解释：因为A。"


def _built(context: HookContext):
    return build(task_manager({"data_dir": str(SAMPLES_DIR)}), ["cmexam_explain", "medqa_mcmle_gen"], context)


def test_a_built_task_hands_the_run_context_to_every_hook_that_declares_it():
    context = HookContext(("<r>", "</r>"), None)
    built = _built(context)
    explain = built.leaves["cmexam_explain"].config.process_results
    assert isinstance(explain, Bound) and explain.context is context
    # the explanation after the run's closing tag is scored, not the one inside the thinking
    assert explain({"explanation": "因为A。"}, [REPLY])["rougeL"] == ("因为A。", "因为A。")
    steps = [s for e in filter_pipelines(built.leaves["medqa_mcmle_gen"]) for s in e.filters]
    bound = [s.keywords["filter_fn"] for s in steps if isinstance(s.keywords.get("filter_fn"), Bound)]
    assert len(bound) == 1 and bound[0].context is context
    doc = {"options": [["A", "甲"], ["B", "乙"]]}
    assert bound[0]([[REPLY]], [doc]) == [["A"]]


def test_a_task_built_without_a_run_keeps_the_hooks_defaults():
    built = _built(HookContext(("<r>", "</r>"), None))
    other = task_manager({"data_dir": str(SAMPLES_DIR)}).load("cmexam_explain")["tasks"]["cmexam_explain"]
    assert not isinstance(other.config.process_results, Bound)  # nothing process-wide was changed
    assert isinstance(built.leaves["cmexam_explain"].config.process_results, Bound)
    # default tags: <r> is not thinking, so the first explanation marker in the reply is read
    scored = other.config.process_results({"explanation": "因为A。"}, [REPLY])
    assert scored["rougeL"][1].startswith("不对")
    assert PLAIN.tags == ("<think>", "</think>") and PLAIN.extractor is None


def _user_task(folder, name: str, yaml_body: str, rows: dict[str, list[dict]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, items in rows.items():
        (folder / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
        )
    (folder / f"{name}.yaml").write_text(yaml_body.replace("DIR", str(folder)), encoding="utf-8")


QUESTIONS = [{"q": f"问题{i}", "options": ["甲", "乙"], "answer": i % 2} for i in range(4)]


def test_a_users_own_task_draws_its_shots_from_its_training_split(tmp_path, tiny_model):
    """Attacker finding (issue 37): a plain lm-eval task of the user's with shots from its training
    split (lm-eval's fallback, no fewshot_split) was refused, 'this task has no few-shot examples'."""
    from medbench.cli.main import main

    _user_task(
        tmp_path / "inc",
        "my_user_mc",
        """task: my_user_mc
dataset_path: json
dataset_kwargs:
  data_files: {train: DIR/train.jsonl, test: DIR/test.jsonl}
training_split: train
test_split: test
num_fewshot: 2
output_type: multiple_choice
doc_to_text: "{{q}}答案："
doc_to_choice: "{{options}}"
doc_to_target: answer
metric_list: [{metric: acc}]
""",
        {"train": QUESTIONS, "test": QUESTIONS[:3]},
    )
    args = ["run", "--model", tiny_model, "--tasks", "my_user_mc", "--include-path", str(tmp_path / "inc")]
    assert main([*args, "--output", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").glob("2*")
    results = json.loads((run / "results.json").read_text())
    assert results["n-shot"]["my_user_mc"] == 2
    # lm-eval's provenance as simple_evaluate records it (attacker finding: it was dropped)
    assert results["lm_eval_version"] and results["transformers_version"] and "pretty_env_info" in results
    assert results["config"]["model"] not in ("RequestCache", None) and "tokenizer_eos_token" in results


def test_run_settings_a_tasks_hooks_cannot_be_told_are_said(tmp_path):
    """Attacker finding (issue 37): a task whose hooks take no run context (a plug-in's own filter that
    calls medbench's, or NER's scoring) silently read thinking with the default tags and never asked
    the LLM extractor; the run now says so in one line each, on the console and in results.md."""
    from medbench.run.runner import RunConfig, run
    from tests.servers import ScriptedChat

    _user_task(
        tmp_path / "inc",
        "my_user_gen",
        """task: my_user_gen
dataset_path: json
dataset_kwargs:
  data_files: {test: DIR/test.jsonl}
test_split: test
output_type: generate_until
doc_to_text: "{{q}}答案："
doc_to_target: "{{answer}}"
generation_kwargs: {until: ["\\n\\n"], max_gen_toks: 8}
filter_list:
  - name: letters
    filter:
      - function: custom
        filter_fn: !function myutils.my_filter
      - function: take_first
metric_list: [{metric: exact_match}]
""",
        {"test": QUESTIONS[:2]},
    )
    (tmp_path / "inc" / "myutils.py").write_text(
        "def my_filter(resps, docs):\n    return resps\n", encoding="utf-8"
    )
    with ScriptedChat([], reply="<r>想</r>甲").serving() as url:
        options = {"model_name": "m", "base_url": url, "max_retries": 0, "timeout": 5.0}
        config = RunConfig(
            model="m",
            backend="openai",
            backend_options=options,
            tasks=["my_user_gen"],
            include_path=str(tmp_path / "inc"),
            think_tags="<r>,</r>",
            output=str(tmp_path / "runs"),
        )
        folder, _ = run(config)
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    assert "--think-tags <r>,</r>: no hook of my_user_gen takes the run's context" in " ".join(
        results.split()
    )
