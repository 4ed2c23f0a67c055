"""Reports: tables equal the run folders' metrics; the HTML page works in a real headless Chromium."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from medbench.bias.run import BiasConfig, run_bias
from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.judge import JudgeConfig, run_judge
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat
from tests.test_jury import _runs, first_seat, longer

ROOT = Path(__file__).resolve().parent.parent
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def site(tiny_model, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    run(
        RunConfig(
            model=tiny_model, tasks=["ceval_med", "medqa_mcmle"], data_dir=str(SAMPLES_DIR), output=str(runs)
        )
    )
    # the scripted model's two servers say which model they serve (a root), so its run and its bias
    # scale are one model's (a listing of the name alone would key each on its address: two rows)
    listing = [{"id": "scripted", "root": "/models/scripted"}]
    hostile = ScriptedChat([], reply=f"{XSS}答案：A")  # a model whose output is hostile HTML
    hostile.models = listing
    with hostile.serving() as url:
        run(
            RunConfig(
                model="scripted",
                backend="openai",
                tasks=["ceval_med", "medqa_mcmle"],
                data_dir=str(SAMPLES_DIR),
                output=str(runs),
                backend_options={"model_name": "scripted", "base_url": url},
            )
        )
    agreeing = ScriptedChat([], reply="完全同意")
    agreeing.models = listing
    with agreeing.serving() as url:
        run_bias(
            BiasConfig(
                scale="cami",
                model="scripted",
                backend="openai",
                output=str(runs),
                backend_options={"model_name": "scripted", "base_url": url},
            )
        )
    judged = _runs(tmp_path_factory.mktemp("judged"))  # two runs of answers, judged by a jury
    with ScriptedChat([], reply=longer).serving() as a, ScriptedChat([], reply=first_seat).serving() as b:
        jury = [f"longer=l@{a}", f"first=f@{b}"]
        run_judge(JudgeConfig(runs=judged, rubric="iimedgpt_pf", judges=jury, lang="en", output=str(runs)))
    out = tmp_path_factory.mktemp("site")
    assert main(["report", str(runs), "--out", str(out)]) == 0
    return runs, out


def test_the_index_page_shows_the_jury_its_agreement_biases_and_disagreements(site):
    _, out = site
    page = (out / "index.html").read_text(encoding="utf-8")
    for text in (
        "Each judge of the jury (2 judges, majority verdict",
        "Krippendorff's alpha (nominal)",
        "Judge biases",
        "longer answer won, by the length gap",
        "Where the judges disagree (6",
    ):
        assert text in page, text
    assert page.count("<details>") == 6 and "A1答" in page  # each disagreement, with both answers
    # issue 39: a judge section is named by the runs' models as the leaderboard names them, never by
    # the folders' timestamps
    headings = re.findall(r'<h3 id="judge-[^"]*">(.*?)</h3>', page)
    assert headings and not [h for h in headings if re.search(r"\d{8}-\d{6}", h)], headings


def test_markdown_leaderboard_numbers_equal_the_run_folders_metrics(site):
    runs, out = site
    board = pd.read_csv(out / "leaderboard.csv")
    reported = board[board["source"] != "measured"]
    assert "reported (ChiMed-GPT Table 5)" in set(reported["source"])  # published rows, marked
    chimed = reported[
        (reported["model"] == "ChiMed-GPT") & (reported["source"] == "reported (ChiMed-GPT Table 5)")
    ]
    assert chimed["medqa_mcmle (acc)"].iloc[0] == pytest.approx(44.50)
    board = board[board["source"] == "measured"]
    markdown = (out / "leaderboard.md").read_text()
    checked = 0
    for folder in (
        f
        for f in runs.iterdir()
        if not f.name.startswith(".") and "bias" not in f.name and "judge" not in f.name
    ):
        config = json.loads((folder / "config.json").read_text())
        row = board[
            board["model"] == Path(config["backend_options"].get("model_name") or config["model"]).name
        ]
        row = row.iloc[0]
        for m in json.loads((folder / "metrics.json").read_text()):
            if m["metric"] != "acc" or m["convention"].startswith("macro"):
                continue
            label = (
                f"{m['task']} (acc, micro)" if m["convention"].startswith("micro") else f"{m['task']} (acc)"
            )
            assert row[label] == pytest.approx(round(100 * m["value"], 2))
            assert row[f"{label} n"] == m["n"]
            assert f"{round(100 * m['value'], 2):g}" in markdown
            checked += 1
    assert checked >= 2 * 5  # both runs: the group, three subjects and MedQA


def test_paper_tables_have_the_papers_columns_and_name_their_source(site):
    _, out = site
    t5 = pd.read_csv(out / "tables" / "chimed_gpt_table5.csv")
    assert list(t5.columns) == [
        "Model",
        "C-Eval Acc",
        "CMMLU Acc",
        "MedQA Acc",
        "ChiMed B-1",
        "B-2",
        "R-1",
        "R-2",
        "R-L",
        "Source",
        "Mode",
        "Prompts",
        "Items",
        "Convention",
    ]
    reported = t5[t5["Source"] != "measured"]
    assert set(reported["Convention"]) == {"unknown (the paper states no tokenization)"}
    assert (reported["Source"] == "reported (ChiMed-GPT Table 5)").all() and len(reported) == 9
    assert reported[reported["Model"] == "ChiMed-GPT"]["C-Eval Acc"].iloc[0] == pytest.approx(68.29)
    q6 = pd.read_csv(out / "tables" / "qilin_med_table6.csv")
    assert list(q6.columns) == [
        "Model",
        "BLEU-1",
        "BLEU-4",
        "ROUGE-1",
        "ROUGE-2",
        "ROUGE-L",
        "Source",
        "Mode",
        "Prompts",
        "Items",
        "Convention",
    ]
    assert (out / "tables" / "qilin_med_table6.tex").read_text().startswith("\\begin{table}")
    assert (out / "plots" / "ceval_med.png").is_file() and (out / "plots" / "ceval_med.svg").is_file()


def test_bias_folders_reach_the_page_and_the_chart(site):
    _, out = site
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "CAMI [1, 5]" in page and "3.000" in page
    assert (out / "plots" / "bias.png").is_file()


def test_a_folder_that_is_not_a_run_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["report", str(tmp_path / "x"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no run, judge or bias folders" in capsys.readouterr().err


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Selenium (the real browser a user opens the page in)."""
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        pytest.skip("Debian chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    yield driver
    driver.quit()


def _viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _shot(driver, name: str) -> None:
    """A screenshot under test-artifacts/ (git-ignored), to look at."""
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(artifacts / name))


def _visible(driver, css: str) -> list:
    return [e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]


def test_html_in_headless_chromium_sorts_and_escapes(site, browser):
    from selenium.common.exceptions import NoAlertPresentException

    _, out = site
    driver = browser
    driver.get((out / "index.html").as_uri())

    def models():
        return [
            r.find_elements(By.TAG_NAME, "td")[0].get_attribute("textContent")
            for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        ]

    header = driver.find_elements(By.CSS_SELECTOR, "#leaderboard th")[0]
    header.click()
    descending = models()
    header.click()
    ascending = models()
    assert sorted(descending) == sorted(ascending) and descending != ascending  # same rows, reordered
    assert descending[0] == ascending[-1] or descending[0].casefold() == ascending[-1].casefold()
    driver.get((out / "tasks" / "medqa_mcmle_gen.html").as_uri())  # the samples, with the hostile output
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - the hostile output must not have run
    assert driver.execute_script("return document.body.textContent.includes(arguments[0])", XSS)


def test_the_leaderboard_is_one_row_per_model_fits_a_laptop_and_toggles_published_rows(site, browser):
    _, out = site
    driver = browser
    for width, height in ((1366, 900), (1920, 1080)):
        _viewport(driver, width, height)
        driver.get((out / "index.html").as_uri())
        measured_only = [r.text.split("\n")[0] for r in _visible(driver, "#leaderboard tbody tr")]
        assert not _visible(driver, "#leaderboard tr.reported")  # measured rows only, at first
        assert len(measured_only) == len(set(measured_only)) == 2  # the tiny model and the scripted one
        driver.find_element(By.ID, "show-published").click()
        reported = _visible(driver, "#leaderboard tr.reported")
        assert len(reported) > 5 and _visible(driver, "dl.legend sup, dl.legend dt")
        names = [r.find_element(By.TAG_NAME, "td").text for r in reported]
        assert len(names) == len(set(names))  # one row per published model, its tables merged
        assert all(r.find_elements(By.TAG_NAME, "sup") for r in reported)  # each number names its source
        table_width = driver.execute_script("return document.getElementById('leaderboard').scrollWidth")
        assert table_width <= width, f"the table is {table_width} px wide at {width} px"
        _shot(driver, f"leaderboard-{width}x{height}.png")


def _hand_made_runs(root: Path) -> None:
    """Two models' runs of one C-Eval subject, written by hand: items 0-3 right for A, 2-5 for B,
    item 6 unparsed by A."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.run.rundir import RunFolder

    for name, right in (("model-a", {0, 1, 2, 3}), ("model-b", {2, 3, 4, 5})):
        folder = RunFolder.create(root, f"/models/{name}")
        folder.write_json("config.json", {"model": f"/models/{name}", "tasks": ["ceval_med_physician"]})
        folder.write_json("model.json", {"weights_sha256": name})
        folder.write_json(
            "metrics.json", [asdict(Score("ceval_med_physician", "acc", len(right) / 8, 8, 0.1))]
        )
        (folder.path / "samples").mkdir()
        lines = []
        for i in range(8):
            extracted = None if (name, i) == ("model-a", 6) else ("A" if i in right else "B")
            record = {"doc_id": i, "prompt": f"问题{i}：哪个器官？", "raw": f"答案：{extracted}"}
            lines.append({**record, "extracted": extracted, "gold": "A", "correct": i in right})
        (folder.path / "samples" / "ceval_med_physician.jsonl").write_text(
            "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8"
        )


def test_a_task_page_filters_samples_and_shows_chinese_and_its_plot(tmp_path, browser):
    from selenium.webdriver.support.ui import Select

    _hand_made_runs(tmp_path / "runs")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site"), "--no-published"]) == 0
    driver = browser
    _viewport(driver, 1366, 900)
    driver.get((tmp_path / "site" / "tasks" / "ceval_med_physician.html").as_uri())
    assert (
        driver.find_element(By.CSS_SELECTOR, "figure img").get_attribute("src").startswith("data:image/png")
    )

    def shown() -> list[tuple[str, int, str]]:
        return sorted(
            (
                s.get_attribute("data-model"),
                int(s.get_attribute("data-key").split("#")[1]),
                s.get_attribute("data-status"),
            )
            for s in _visible(driver, "#samples .sample")
        )

    assert len(shown()) == 16
    for box in driver.find_elements(By.CSS_SELECTOR, ".f-status"):
        if box.get_attribute("value") != "wrong":
            box.click()  # wrong only
    assert [(m, i) for m, i, _ in shown()] == [("model-a", 4), ("model-a", 5), ("model-a", 7)] + [
        ("model-b", i) for i in (0, 1, 6, 7)
    ]
    driver.find_element(By.CSS_SELECTOR, ".f-status[value=correct]").click()
    Select(driver.find_element(By.ID, "f-flip")).select_by_visible_text("model-b")
    assert shown() == [
        ("model-a", 0, "correct"),
        ("model-a", 1, "correct"),
        ("model-a", 4, "wrong"),
        ("model-a", 5, "wrong"),
    ]  # item 6: unparsed by A, not a flip
    Select(driver.find_element(By.ID, "f-flip")).select_by_index(0)
    driver.find_element(By.CSS_SELECTOR, ".f-status[value=unparsed]").click()
    Select(driver.find_element(By.ID, "f-model")).select_by_visible_text("model-a")
    assert ("model-a", 6, "unparsed") in shown() and {m for m, _, _ in shown()} == {"model-a"}
    if subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        assert driver.execute_script("return document.fonts.check('14px \"Noto Sans CJK SC\"', '问题')")
    _shot(driver, "task-page-1366x900.png")


AXE = ROOT / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


def test_the_pages_pass_axe_core_with_no_serious_violations(site, browser):
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: npm ci --prefix tests/a11y (.ci/run does)")
    _, out = site
    driver = browser
    script = AXE.read_text(encoding="utf-8")
    pages = [
        out / "index.html",
        out / "tasks" / "medqa_mcmle_gen.html",
        out / "papers" / "qilin_med_table4.html",
    ]
    for page in pages:
        driver.get(page.as_uri())
        driver.execute_script(script)
        result = driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations); });"
        )
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} -- {v['nodes'][0]['html'][:120]}"
            for v in result
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, f"{page.name}: " + "; ".join(serious)


def test_a_wide_board_scrolls_in_its_own_box_with_every_model_and_column_reachable(tmp_path, browser):
    """Issue 39: the demo's board was about 1,640 px wide with no scroll container: at 1366 px the
    QA column was cut, the Judge and Bias columns off-screen, the first row looked empty."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.run.rundir import RunFolder

    tasks = [f"cmmlu_med_{s}" for s in ("anatomy", "clinical_knowledge", "college_medicine", "genetics")]
    tasks += ["ceval_med_physician", "medqa_mcmle", "cmexam", "huatuo26m", "cmtmedqa", "chimed_qa"]
    for model in ("a-model-with-a-rather-long-name/final", "b"):
        folder = RunFolder.create(tmp_path / "runs", model)
        folder.write_json("config.json", {"model": model, "tasks": tasks})
        folder.write_json("status.json", {"complete": True, "n_failed": 0})
        scores = [{**asdict(Score(t, "acc", 0.5, 40)), "ci_low": 0.35, "ci_high": 0.65} for t in tasks]
        folder.write_json("metrics.json", scores)
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site"), "--no-published"]) == 0
    driver = browser
    _viewport(driver, 1366, 768)
    driver.get((tmp_path / "site" / "index.html").as_uri())
    page = driver.execute_script("return document.scrollingElement.scrollWidth")
    assert page <= 1366, f"the page is {page} px wide: it overflows outside the board's own scroller"
    box = driver.find_element(By.CSS_SELECTOR, ".board-scroll")
    assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
    driver.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth", box)  # scrolled right
    _shot(driver, "leaderboard-wide-1366x768.png")
    for cell in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody td.model"):
        left = driver.execute_script("return arguments[0].getBoundingClientRect().left", cell)
        assert cell.is_displayed() and 0 <= left < 1366 and cell.text  # every model still named
    for header in driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead tr:last-child th"):
        driver.execute_script("arguments[0].scrollIntoView({inline: 'center'})", header)
        rect = driver.execute_script("return arguments[0].getBoundingClientRect()", header)
        assert rect["left"] >= 0 and rect["right"] <= 1366, header.text  # every column reachable

    # a benchmark group folds to one column (its average) on a click, and unfolds on the next
    def shown(css: str) -> list:
        return [e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]

    button = shown("#leaderboard th.group button.fold")[0]
    group = button.find_element(By.XPATH, "..")
    heads = f"#leaderboard thead tr:last-child th.g{group.get_attribute('data-group')}"
    columns = len(shown(heads))
    assert columns > 1 and group.get_attribute("colspan") == str(columns)
    driver.execute_script("arguments[0].scrollIntoView({inline: 'center', block: 'nearest'})", button)
    button.click()
    assert len(shown(heads)) == 1 and group.get_attribute("colspan") == "1"
    cells = f"#leaderboard tbody tr.measured td.g{group.get_attribute('data-group')}"
    assert len(shown(cells)) == 2  # one cell a row: the rows stay aligned under their headers
    assert button.get_attribute("aria-expanded") == "false"
    _shot(driver, "leaderboard-folded-1366x768.png")
    button.click()
    assert len(shown(heads)) == columns


def test_no_heading_stands_over_an_empty_table_or_list(tmp_path):
    """Issue 39: an empty "Paper tables" heading, and a "Judge biases" table with a header and no row
    (no dimension had a decisive verdict)."""
    from dataclasses import asdict
    from types import SimpleNamespace

    from medbench.analysis.summary import Score
    from medbench.report.html import _environment
    from medbench.run.rundir import RunFolder

    env = _environment()
    no_verdicts = {"judge": {"dimensions": {"safety": {"verdicts": 0}}, "self_preference": None}}
    judge = SimpleNamespace(path=Path("j"), data={"diagnostics": no_verdicts})
    jury = env.get_template("_jury.html.j2").render(j=judge, named=("a", "b"), judge_length_plots={})
    assert "Judge biases" not in jury and "<table" not in jury
    runs = tmp_path / "runs"
    folder = RunFolder.create(runs, "tiny")
    folder.write_json("config.json", {"model": "tiny", "tasks": ["chimst_ner"]})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    folder.write_json(
        "metrics.json", [asdict(Score("chimst_ner", "f1", 0.5, 3, None, "", [], 0, 0, 0, 0.1, 0.9, "x"))]
    )
    assert main(["report", str(runs), "--out", str(tmp_path / "site"), "--no-published"]) == 0
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", index)
    for heading in headings:  # each heading has something after it before the next one
        after = index.split(f">{heading}</h2>", 1)[1].split("<h2", 1)[0]
        assert re.search(r"<(li|tr|figure|p|table)\b", after), heading
