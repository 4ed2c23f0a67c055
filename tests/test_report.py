"""Reports: tables equal the run folders' metrics; the HTML page works in a real headless Chromium."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from medbench.bias_run import BiasConfig, run_bias
from medbench.cli import main
from medbench.paths import SAMPLES_DIR
from medbench.runner import RunConfig, run
from tests.servers import ScriptedChat

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
    with ScriptedChat([], reply=f"{XSS}答案：A").serving() as url:  # a model whose output is hostile HTML
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
    with ScriptedChat([], reply="完全同意").serving() as url:
        run_bias(
            BiasConfig(
                scale="cami",
                model="scripted",
                backend="openai",
                output=str(runs),
                backend_options={"model_name": "scripted", "base_url": url},
            )
        )
    out = tmp_path_factory.mktemp("site")
    assert main(["report", str(runs), "--out", str(out)]) == 0
    return runs, out


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
    for folder in (f for f in runs.iterdir() if not f.name.startswith(".") and "bias" not in f.name):
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


def test_html_in_headless_chromium_sorts_escapes_and_screenshots(site):
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        pytest.skip("Debian chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    _, out = site
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
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    try:
        driver.get((out / "index.html").as_uri())

        def models():
            return [
                r.find_elements(By.TAG_NAME, "td")[0].text
                for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
            ]

        header = driver.find_elements(By.CSS_SELECTOR, "#leaderboard th")[0]
        header.click()
        descending = models()
        header.click()
        ascending = models()
        assert sorted(descending) == sorted(ascending) and descending != ascending  # same rows, reordered
        assert descending[0] == ascending[-1] or descending[0].casefold() == ascending[-1].casefold()
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 - the hostile output must not have run
        assert driver.execute_script("return document.body.textContent.includes(arguments[0])", XSS)
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(artifacts / "leaderboard.png"))
    finally:
        driver.quit()
