"""Issue 27: benchmark files pinned on a git host, pulled and verified byte for byte.

A loopback HTTP server laid out like raw.githubusercontent.com (``/<repo>/<commit>/<path>``) serves
files this test writes itself, pinned by the blob ids and sha256 it computes (the real pins stay in
the tasks' _sources_yaml). Pull, verify, a corrupted byte, a truncated body, an HTML page with status
200 and a 404 each give the right result or one line with nothing kept; a run then reads CMtMedQA,
Huatuo-26M, CCKS-2019 and CMExam from the pulled copy with HF_HUB_OFFLINE=1 and no --data-dir, and a
pulled copy altered afterwards is refused on read. The real pins are checked against the copies in
../shared/data.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest

from medbench.cli.main import main
from medbench.data import sources
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat, loopback
from tests.test_hub_data import hub  # noqa: F401 - the hub cache fixture

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "someone/medical-data"
OPTIONS = "A 甲\nB 乙\nC 丙\nD 丁\nE 戊"

FILES = {  # official path -> the bytes the test publishes
    "huatuo26m/huatuo26M_test.json": json.dumps(
        [
            {"instruction": ["头痛怎么办？"], "output": ["注意休息。"]},
            {"instruction": ["发烧？"], "output": ["多喝水。"]},
        ],
        ensure_ascii=False,
    ).encode(),
    "cmtmedqa/CMtMedQA_test.json": json.dumps(
        [{"id": 1, "instruction": "咳嗽三天", "output": "建议就诊", "history": [["你好", "你好，请讲"]]}],
        ensure_ascii=False,
    ).encode(),
    "ccks2019/subtask1_training_part1.txt": (
        json.dumps(
            {
                "originalText": "患者头痛。",
                "entities": [{"label_type": "疾病和诊断", "start_pos": 2, "end_pos": 4}],
            },
            ensure_ascii=False,
        )
        + "\n"
    ).encode(),
    "ccks2019/subtask1_test_set_with_answer.json": (
        json.dumps(
            {
                "originalText": "右肺结节。",
                "entities": [{"label_type": "解剖部位", "start_pos": 0, "end_pos": 2}],
            },
            ensure_ascii=False,
        )
        + "\n"
    ).encode(),
    "cmexam/val.csv": (
        "Question,Options,Answer,Explanation\n"
        + "\n".join(f'第{i}题,"{OPTIONS}",A,' for i in range(3))
        + "\n"
    ).encode(),
}
APOLLO = [  # MedQA-MCMLE in Apollo's own layout, read by its declared reader
    {"question": "首选检查是", "option": "(A) 血常规.\n(B) 胃镜.\n(C) 心电图.\n(D) 尿常规.", "anwer": "(B)"},
    {"question": "最可能的诊断是", "option": "(A) 肺炎.\n(B) 胃炎.\n(C) 肠炎.\n(D) 肝炎.", "anwer": "(A)"},
]
for split in ("test", "dev"):
    FILES[f"medqa_mcmle/apollo/{split}.jsonl"] = "".join(
        json.dumps(row, ensure_ascii=False) + "\n" for row in APOLLO
    ).encode()
BENCHMARK = {
    "huatuo26m": "huatuo26m",
    "cmtmedqa": "cmtmedqa",
    "ccks2019": "ccks2019",
    "cmexam": "cmexam",
    "medqa_mcmle": "medqa_mcmle",
    "ceval": "ceval",
    "cmmlu": "cmmlu",
}


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pinned(local: str, data: bytes, *, with_sha: bool = True) -> sources.Source:
    apollo = "/apollo/" in local
    return sources.Source(
        BENCHMARK[local.split("/")[0]],
        local,
        REPO,
        COMMIT,
        f"data/{local}",
        blob_id(data),
        hashlib.sha256(data).hexdigest() if with_sha else None,
        "test terms",
        not apollo,
        serves=local.replace("/apollo/", "/") if apollo else "",
        layout="apollo" if apollo else None,
        size=len(data),
    )


class Host:
    """Serves ``routes``: URL path -> (status, body, declared length or None, seconds between bytes,
    copies of the body); ``sent`` counts the body bytes the client took."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, int | None, float, int]] = {}
        self.hits = 0
        self.sent = 0

    def publish(
        self,
        local: str,
        body: bytes,
        status: int = 200,
        length: int | None = None,
        drip: float = 0.0,
        copies: int = 1,
    ) -> None:
        """``length=-1``: no Content-Length (the body ends when the connection closes)."""
        self.routes[f"/{REPO}/{COMMIT}/data/{local}"] = (status, body, length, drip, copies)

    @contextmanager
    def serving(self):
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                host.hits += 1
                status, body, length, drip, copies = host.routes.get(
                    self.path, (404, b"Not Found", None, 0.0, 1)
                )
                self.send_response(status)
                if length != -1:
                    self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                pieces = [body[i : i + 1] for i in range(len(body))] if drip else [body] * copies
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        host.sent += len(piece)
                        time.sleep(drip)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: as it should
                    pass

        with loopback(Handler) as url:
            yield url


@pytest.fixture
def host(monkeypatch, tmp_path):
    """The test's files published and pinned; medbench's cache and the mirror URL pointed at them."""
    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    pins = [pinned(local, data, with_sha=local != "cmexam/val.csv") for local, data in FILES.items()]
    monkeypatch.setattr(sources, "declared", lambda tasks_dir=None: pins)
    served = Host()
    for local, data in FILES.items():
        served.publish(local, data)
    with served.serving() as url:
        monkeypatch.setenv(sources.MIRROR_ENV, url)
        yield served


def test_pull_verifies_and_lays_out_every_pinned_file(host, capsys):
    assert main(["data", "pull", "--tasks", "huatuo26m,cmtmedqa,ccks2019_ner,cmexam,medqa_mcmle"]) == 0
    out = capsys.readouterr().out
    for local, data in FILES.items():
        assert (sources.pulled_root() / local).read_bytes() == data
        assert f"{REPO}@{COMMIT[:12]}:data/{local}" in out
    assert main(["data", "verify", "--tasks", "huatuo26m,cmtmedqa,ccks2019_ner,cmexam,medqa_mcmle"]) == 0
    assert "7 of 7 file(s) match their pins" in capsys.readouterr().out
    hits = host.hits
    assert main(["data", "pull", "--tasks", "huatuo26m"]) == 0  # already there and matching: no request
    assert host.hits == hits


@pytest.mark.parametrize(
    "fault, message",
    [
        ("corrupted", "is not the pinned"),
        ("truncated", "download failed"),
        ("html", "served an HTML page, not the file"),
        ("missing", "404"),
    ],
)
def test_a_bad_download_is_one_line_and_nothing_is_kept(host, capsys, fault, message):
    local = "huatuo26m/huatuo26M_test.json"
    data = FILES[local]
    if fault == "corrupted":
        host.publish(local, data[:-2] + b"X]")
    elif fault == "truncated":
        host.publish(local, data[: len(data) // 2], length=len(data))
    elif fault == "html":
        host.publish(local, b"<!DOCTYPE html><html><body>Rate limited</body></html>")
    else:
        host.routes.clear()
    assert main(["data", "pull", "--tasks", "huatuo26m"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "nothing kept" in err, err
    folder = sources.pulled_root() / "huatuo26m"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_a_mirror_dripping_bytes_is_given_up_within_the_pins_time_bound(host, capsys, monkeypatch):
    """issue 36: a byte every 2 s kept `data pull` alive past 120 s (a per-read timeout never fires).
    Here: the slowest average rate 1 KB/s after a 1 s grace, a byte every 0.1 s (the whole file: 20 s)."""
    monkeypatch.setattr(sources, "GRACE_S", 1.0)
    monkeypatch.setattr(sources, "MIN_RATE", 1024)
    local = "cmtmedqa/CMtMedQA_test.json"
    host.publish(local, FILES[local], drip=0.1)
    start = time.monotonic()
    assert main(["data", "pull", "--tasks", "cmtmedqa"]) == 2
    assert time.monotonic() - start < 8
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "too slow" in err and "nothing kept" in err, err
    assert not (sources.pulled_root() / local).exists()


@pytest.mark.parametrize("declared", ["no length", "its true length"])
def test_a_body_longer_than_the_pinned_size_is_cut_off_not_written_whole(host, capsys, declared):
    """issue 36: a 1.5 GB body was written whole before a 3.6 MB file's hash was checked."""
    local = "huatuo26m/huatuo26M_test.json"
    filler = b"x" * (1 << 20)
    length = -1 if declared == "no length" else len(filler) * 64
    host.publish(local, filler, length=length, copies=64)
    assert main(["data", "pull", "--tasks", "huatuo26m"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pinned size" in err and "nothing kept" in err, err
    assert host.sent < 32 << 20  # stopped early: at most what the sockets buffer beyond the pin
    folder = sources.pulled_root() / "huatuo26m"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


@pytest.mark.usefixtures("hub")
def test_a_run_reads_all_seven_benchmarks_offline_without_a_data_dir(host, monkeypatch, tmp_path):
    """The five pinned on a git host from the pulled copy, C-Eval and CMMLU from the hub cache (laid
    by test_hub_data's fixture): one run, HF_HUB_OFFLINE=1, no --data-dir."""
    assert main(["data", "pull", "--tasks", "huatuo26m,cmtmedqa,ccks2019_ner,cmexam,medqa_mcmle"]) == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:9")  # nothing may be downloaded now
    options = {"model_name": "scripted", "max_retries": 0, "timeout": 5.0}
    with ScriptedChat([], reply="答案：A").serving() as url:
        config = RunConfig(
            model="scripted",
            tasks=[
                "huatuo26m",
                "cmtmedqa",
                "ccks2019_ner",
                "cmexam",
                "medqa_mcmle",
                "ceval_med",
                "cmmlu_med",
            ],
            backend="openai",
            output=str(tmp_path / "runs"),
            backend_options={**options, "base_url": url},
            shots=0,  # CCKS's few-shot pool here is its one training document
        )
        folder, scores = run(config)
    n = {
        s.task: s.n
        for s in scores
        if s.metric in ("acc", "f1", "rougeL") and not s.convention.startswith("macro")
    }
    assert {t: k for t, k in n.items() if not t.startswith(("ceval", "cmmlu"))} == {
        "huatuo26m": 2,
        "cmtmedqa": 1,
        "ccks2019_ner": 1,
        "cmexam": 3,
        "medqa_mcmle_gen": 2,
    }
    assert n["ceval_med_gen"] > 0 and n["cmmlu_med_gen"] > 0  # the hub pair, from the hub cache
    medqa = [
        json.loads(x) for x in (folder.path / "samples" / "medqa_mcmle_gen.jsonl").read_text().splitlines()
    ]
    assert [r["gold"] for r in medqa] == ["B", "A"] and "B. 胃镜." in json.dumps(medqa, ensure_ascii=False)
    data = json.loads((folder.path / "data.json").read_text(encoding="utf-8"))
    recorded = json.dumps(data)  # data.json says where the files came from: git commit and hub revisions
    assert REPO in recorded and "ceval/ceval-exam" in recorded and "lmlmcat/cmmlu" in recorded


def test_a_pulled_copy_altered_later_is_refused_on_read(host, monkeypatch, tmp_path, capsys):
    assert main(["data", "pull", "--tasks", "huatuo26m"]) == 0
    path = sources.pulled_root() / "huatuo26m" / "huatuo26M_test.json"
    path.write_bytes(path.read_bytes().replace("注意休息".encode(), "注意饮食".encode()))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["run", "--model", "tiny", "--tasks", "huatuo26m", "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "was altered" in err
    assert main(["data", "verify", "--tasks", "huatuo26m"]) == 1


def test_apollo_rows_of_another_shape_are_problems_never_guesses():
    from tests.helpers import task_module

    parse = task_module("medqa_mcmle").parse_apollo
    row = type("Row", (), {"number": 1})
    good = {"question": "q", "option": "(A) a.\n(B) b.", "anwer": "(B)"}
    row.data = good
    assert parse(row)["options"] == [["A", "a."], ["B", "b."]] and parse(row)["answer"] == "B"
    for bad, message in (
        ({"anwer": "B"}, "anwer"),
        ({"option": "A. a"}, "option line"),
        ({"question": 3}, "question"),
    ):
        row.data = {**good, **bad}
        with pytest.raises(ValueError, match=message):
            parse(row)


def test_offline_and_not_pulled_is_one_line_naming_the_command(host, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["run", "--model", "tiny", "--tasks", "cmtmedqa", "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "medbench data pull --tasks cmtmedqa" in err and len(err.splitlines()) == 1


def test_a_declared_local_path_out_of_the_data_folder_is_refused(tmp_path):
    bad = tmp_path / "tasks" / "evil"
    bad.mkdir(parents=True)
    (bad / "_sources_yaml").write_text(
        f"benchmark: evil\nlicence: x\nofficial: false\nfiles:\n  - local: ../../x\n    repo: {REPO}\n"
        f"    commit: {COMMIT}\n    path: a\n    blob: {COMMIT}\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="points outside"):
        sources.declared(tmp_path / "tasks")
    (bad / "_sources_yaml").write_text(
        f"benchmark: evil\nlicence: x\nofficial: false\nfiles:\n  - local: a\n    repo: {REPO}\n"
        f"    commit: main\n    path: a\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="commit"):
        sources.declared(tmp_path / "tasks")


def test_the_real_pins_match_the_copies_in_shared_data(shared_data):
    checked = 0
    for source in sources.declared():
        copy = shared_data / source.local
        if copy.is_file() and source.benchmark != "cmexam":  # shared cmexam/val.csv is a converted copy
            assert sources.mismatch(source, copy) is None, source.pin
            checked += 1
    assert checked == 4 + 22  # CMtMedQA, Huatuo-26M, both CCKS-2019 training parts, CMMLU's 11 x 2


def test_every_declared_source_is_pinned_to_a_commit_with_a_licence():
    found = sources.declared()
    assert {s.benchmark for s in found} >= {"cmtmedqa", "huatuo26m", "ccks2019", "cmexam"}
    for source in found:
        assert len(source.commit) == 40 and source.licence and (source.blob or source.sha256)
        # the size bounds a download; CMExam's files and CMB's questions are not in any copy at hand
        assert source.size or source.benchmark == "cmexam" or source.local.endswith("question-merge.json")
        assert replace(source, repo="x/y").url.endswith(f"x/y/{source.commit}/{source.path}")


@pytest.mark.parametrize("where", ["--to FILE", "the cache's data folder"])
def test_pull_into_an_existing_file_is_one_line(host, tmp_path, capsys, monkeypatch, where):
    """issue 36: `data pull --to FILE` was a traceback."""
    file = tmp_path / "a-file"
    to = ["--to", str(file)] if where == "--to FILE" else []
    if not to:
        monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path))
        file = sources.pulled_root()
    file.write_text("not a folder")
    assert main(["data", "pull", "--tasks", "huatuo26m", *to]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(file) in err and "not a folder" in err, err
    assert file.read_text() == "not a folder"


def _mc_csv(header: str, answers: str) -> bytes:
    rows = [f"{i},第{i}题：哪个器官？,胃,肝,肺,肾,{a}" for i, a in enumerate(answers)]
    return (header + "\n" + "\n".join(rows) + "\n").encode()


CEVAL = {  # members of the C-Eval zip, laid out as ceval-exam.zip is
    f"ceval-exam/{split}/physician_{split}.csv": _mc_csv("id,question,A,B,C,D,answer", "ABCDA")
    for split in ("dev", "val", "test")
}
CMMLU = {f"cmmlu/{s}/anatomy.csv": _mc_csv(",Question,A,B,C,D,Answer", "BCDAB") for s in ("dev", "test")}


@pytest.fixture
def mc_host(host, monkeypatch):
    """C-Eval's zip and CMMLU's files published and pinned as the real _sources_yaml pins them."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        for name, data in CEVAL.items():
            zf.writestr(name, data)
    archive = replace(
        pinned("ceval/ceval-exam.zip", zipped.getvalue()), benchmark="ceval", serves="ceval", archive=True
    )
    pins = [*sources.declared(), archive]
    host.publish("ceval/ceval-exam.zip", zipped.getvalue())
    for local, data in CMMLU.items():
        pins.append(replace(pinned(local, data), benchmark="cmmlu"))
        host.publish(local, data)
    monkeypatch.setattr(sources, "declared", lambda tasks_dir=None: pins)
    return host


def test_ceval_and_cmmlu_are_read_from_their_git_pins_and_an_altered_member_stops_the_run(
    mc_host, tiny_model, monkeypatch, tmp_path, capsys
):
    """issue 36 (issue 24's blocked part): C-Eval and CMMLU pinned on a git host, C-Eval as members of a
    pinned zip laid out at their official paths; the hub is not asked."""
    tasks = "ceval_med_physician,cmmlu_med_anatomy"
    assert main(["data", "pull", "--tasks", tasks]) == 0
    member = sources.pulled_root() / "ceval" / "val" / "physician_val.csv"
    assert member.read_bytes() == CEVAL["ceval-exam/val/physician_val.csv"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hub"))  # nothing from the hub
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:9")  # nothing downloaded now
    args = ["run", "--model", tiny_model, "--tasks", tasks, "--limit", "2", "--output"]
    assert main([*args, str(tmp_path / "a")]) == 0
    (run,) = (tmp_path / "a").glob("2*")
    data = json.loads((run / "data.json").read_text(encoding="utf-8"))
    assert data["hub_sources"] == {REPO: COMMIT}
    assert str(member) in data["files_sha256"]
    assert main(["data", "verify", "--tasks", tasks]) == 0
    capsys.readouterr()
    member.write_bytes(member.read_bytes().replace(b",A\n", b",B\n"))  # other answers
    assert main([*args, str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(member) in err[0] and "altered" in err[0], err
    assert main(["data", "verify", "--tasks", tasks]) == 1


def test_a_host_that_cannot_be_reached_is_one_whole_line_with_its_remedy(host, capsys, monkeypatch):
    """Issue 39: without network the line ended cut off ('Caused by NameResolutionErro)'), no remedy."""
    import socket

    with socket.socket() as closed:  # a loopback port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv(sources.MIRROR_ENV, f"http://127.0.0.1:{port}")
    assert main(["data", "pull", "--tasks", "huatuo26m"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "download failed (could not connect to the host)" in err
    assert (
        "medbench data pull --tasks huatuo26m" in err and "--data-dir DIR" in err and "Caused by" not in err
    )


def test_no_name_resolution_is_said_as_no_network():
    import requests

    cause = sources._cause(requests.ConnectionError("Max retries (Caused by NameResolutionErro"), "cmexam")
    assert cause.startswith("download failed (no network: the host name could not be resolved); pull it")
