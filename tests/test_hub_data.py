"""Data that fetches itself: with no --data-dir, C-Eval and CMMLU come from their pinned hub mirrors
through the hub cache. The test lays that cache itself (files it writes in each mirror's layout, the
way huggingface_hub stores them: blobs named by their hash, snapshot links per revision) and runs
offline: the run reads the pinned revision, data.json names mirror, revision and every file's
sha256, `medbench data verify` checks the pins, and a corrupted cached file fails it in one line."""

import hashlib
import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medbench.cli.datacmd import needs
from medbench.cli.main import main

TASKS = "ceval_med,cmmlu_med"
OPTIONS = ["胃", "肝", "肺", "肾"]


def _rows(subject: str, split: str, count: int) -> list[dict]:
    return [
        {
            "question": f"{subject} {split} 第{i}题：哪个器官？",
            **dict(zip("ABCD", OPTIONS, strict=True)),
            "answer": "ABCD"[i % 4],
        }
        for i in range(count)
    ]


def _parquet(subject: str, split: str) -> bytes:
    rows = [{"id": i, **r, "explanation": ""} for i, r in enumerate(_rows(subject, split, 5))]
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


def _csv(subject: str, split: str) -> str:
    lines = [",Question,A,B,C,D,Answer"]
    lines += [
        f"{i},{r['question']},{','.join(OPTIONS)},{r['answer']}"
        for i, r in enumerate(_rows(subject, split, 5))
    ]
    return "\n".join(lines) + "\n"


def lay(cache: Path, repo: str, revision: str, files: dict[str, bytes]) -> dict[str, Path]:
    """Files in huggingface_hub's cache layout: blobs/<sha256> (as for LFS files), a snapshot link each."""
    root = cache / f"datasets--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    blobs = {}
    for name, data in files.items():
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = root / "snapshots" / revision / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
        blobs[name] = blob
    return blobs


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A hub cache holding every mirror file the two benchmarks' medical subjects need."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path / "medbench-cache"))
    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    parquet: dict = {}
    archives: dict = {}
    for need in needs(TASKS.split(",")):
        mirror = need.mirror
        if mirror.archive:
            members = archives.setdefault((mirror.repo, mirror.revision, mirror.archive), {})
            members[mirror.name(need.split, need.subject)] = _csv(need.subject, need.split)
        else:
            files = parquet.setdefault((mirror.repo, mirror.revision), {})
            files[mirror.name(need.split, need.subject)] = _parquet(need.subject, need.split)
    blobs = {}
    for (repo, revision), files in parquet.items():
        blobs.update(lay(cache, repo, revision, files))
    for (repo, revision, archive), members in archives.items():
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for name, text in members.items():
                zf.writestr(name, text)
        blobs.update(lay(cache, repo, revision, {archive: out.getvalue()}))
    return cache, blobs


def test_public_tasks_resolve_offline_from_the_pinned_cache(hub, tiny_model, tmp_path):
    assert (
        main(
            ["run", "--model", tiny_model, "--tasks", TASKS, "--limit", "2", "--output", str(tmp_path / "r")]
        )
        == 0
    )
    (run,) = (tmp_path / "r").glob("2*")
    data = json.loads((run / "data.json").read_text())
    pins = {n.mirror.repo: n.mirror.revision for n in needs(TASKS.split(","))}
    assert data["hub_sources"] == pins and set(pins) == {"ceval/ceval-exam", "lmlmcat/cmmlu"}
    files = data["files_sha256"]
    parquet = [f for f in files if f.endswith("/val/0000.parquet")]
    assert len(parquet) == 3  # ceval_med's three subjects, from the snapshot of the pinned revision
    for name in parquet:
        assert files[name] == hashlib.sha256(Path(name).read_bytes()).hexdigest()
    csvs = [f for f in files if f.endswith("/test/anatomy.csv")]  # extracted from the pinned zip
    assert csvs and files[csvs[0]] == hashlib.sha256(_csv("anatomy", "test").encode()).hexdigest()
    metrics = json.loads((run / "metrics.json").read_text())
    assert any(k.startswith("cmmlu_med") for k in json.dumps(metrics).split('"'))


def test_verify_checks_the_pins_and_names_a_corrupted_file_in_one_line(hub, capsys):
    _, blobs = hub
    assert main(["data", "verify", "--tasks", TASKS]) == 0
    assert "match their pins" in capsys.readouterr().out
    name = "basic_medicine/val/0000.parquet"
    blobs[name].write_bytes(blobs[name].read_bytes()[:-7] + b"garbage")
    assert main(["data", "verify", "--tasks", TASKS]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and "not the pinned" in err[0] and "Traceback" not in err[0]


def test_pull_lists_what_it_fetched_and_what_must_be_placed_by_hand(hub, capsys):
    assert main(["data", "pull", "--hub", "--tasks", "ceval_med,chimed_qa"]) == 0  # not its git pin
    out = capsys.readouterr().out
    assert "ceval/ceval-exam@8267189d6ba0:physician/val/0000.parquet" in out
    assert "chimed_qa: no pinned source: place the file yourself" in out
    assert "put chimed_qa/test.jsonl under --data-dir" in out


def test_offline_with_nothing_cached_is_one_line_naming_the_pull(tmp_path, tiny_model, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    assert main(["run", "--model", tiny_model, "--tasks", "cmmlu_med", "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lmlmcat/cmmlu@efcc940752ea:cmmlu_v1_0_1.zip is not in the hub cache" in err[0]
    assert "medbench data pull" in err[0] and "cmmlu/test/anatomy.csv" in err[0]


def test_a_data_folder_without_the_benchmark_reads_its_mirror_and_a_partial_copy_fails(
    hub, tiny_model, tmp_path
):
    data = tmp_path / "data"
    (data / "other").mkdir(parents=True)
    args = ["run", "--model", tiny_model, "--tasks", "ceval_med", "--limit", "1", "--data-dir", str(data)]
    assert main([*args, "--output", str(tmp_path / "a")]) == 0
    (run,) = (tmp_path / "a").glob("2*")
    assert "ceval/ceval-exam" in json.loads((run / "data.json").read_text())["hub_sources"]
    (data / "ceval").mkdir()  # a copy of the benchmark that lacks its files: an error, not the hub
    assert main([*args, "--output", str(tmp_path / "b")]) == 2


def test_a_cache_copied_without_its_links_verifies_and_an_altered_copy_does_not(
    hub, tmp_path, capsys, monkeypatch
):
    """issue 24, case 6: a cache copied without symlinks (cp -rL) read as corrupt."""
    import shutil

    cache, _ = hub
    copy = tmp_path / "copied"
    shutil.copytree(cache, copy, symlinks=False)  # every snapshot link now a plain file
    monkeypatch.setenv("HF_HUB_CACHE", str(copy))
    assert main(["data", "verify", "--tasks", TASKS]) == 0
    capsys.readouterr()
    (plain,) = [p for p in copy.rglob("snapshots/*/basic_medicine/val/0000.parquet")]
    plain.write_bytes(plain.read_bytes()[:-7] + b"garbage")
    assert main(["data", "verify", "--tasks", TASKS]) == 1
    assert "matches no blob of the cache" in capsys.readouterr().err


def _run(model: str, tasks: str, out: Path) -> int:
    return main(["run", "--model", model, "--tasks", tasks, "--limit", "2", "--output", str(out)])


def test_a_cached_blob_altered_in_place_stops_the_run_in_one_line(hub, tiny_model, tmp_path, capsys):
    """issue 36: the run read an altered blob (answers changed: 15.00 -> 100.00); only `data verify`
    noticed."""
    _, blobs = hub
    name = "physician/val/0000.parquet"
    rows = [
        {"id": i, **r, "answer": "A", "explanation": ""} for i, r in enumerate(_rows("physician", "val", 5))
    ]
    altered = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), altered)
    blobs[name].write_bytes(altered.getvalue())  # a valid file with other answers, under the old hash
    assert _run(tiny_model, "ceval_med_physician", tmp_path / "r") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and "not the pinned" in err[0], err
    assert not list((tmp_path / "r").glob("*/metrics.json"))


def _with_crc(data: bytes, crc: int, start: int) -> bytes:
    """``data`` with each of the 64 bytes from ``start`` set to ``a`` or ``b`` so that its CRC32 is ``crc``
    (CRC32 is affine over GF(2): each a->b flip adds a fixed vector; solved by Gaussian elimination)."""
    base = bytearray(data)
    base[start : start + 64] = b"a" * 64
    flips = []
    for i in range(64):
        one = bytearray(base)
        one[start + i] = ord("b")
        flips.append(zlib.crc32(bytes(one)) ^ zlib.crc32(bytes(base)))
    want = zlib.crc32(bytes(base)) ^ crc
    pivots: dict[int, tuple[int, int]] = {}  # bit -> (vector, set of flips as a mask)
    for i, vec in enumerate(flips):
        mask = 1 << i
        for bit in sorted(pivots, reverse=True):
            if vec >> bit & 1:
                vec, mask = vec ^ pivots[bit][0], mask ^ pivots[bit][1]
        if vec:
            pivots[vec.bit_length() - 1] = (vec, mask)
    chosen = 0
    for bit in sorted(pivots, reverse=True):
        if want >> bit & 1:
            want, chosen = want ^ pivots[bit][0], chosen ^ pivots[bit][1]
    assert want == 0
    for i in range(64):
        if chosen >> i & 1:
            base[start + i] = ord("b")
    return bytes(base)


def test_an_extracted_member_altered_with_its_crc_restored_stops_the_run_in_one_line(
    hub, tiny_model, tmp_path, capsys
):
    """issue 36: the extracted member was trusted on its CRC32 (answers changed, CRC restored:
    15.00 -> 100.00 while `data verify` said all files match)."""
    assert _run(tiny_model, "cmmlu_med_anatomy", tmp_path / "a") == 0
    (member,) = Path(os.environ["MEDBENCH_CACHE"]).rglob("test/anatomy.csv")
    original = member.read_bytes()
    text = _csv("anatomy", "test").replace(",A\n", ",B\n").replace(",C\n", ",B\n")
    text = text.replace("第4题：", "第4题：" + "a" * 64)  # 64 letters of free text to restore the CRC
    start = text.encode().index(b"a" * 64)
    forged = _with_crc(text.encode(), zlib.crc32(original), start)
    assert forged != original and zlib.crc32(forged) == zlib.crc32(original)
    member.write_bytes(forged)
    assert _run(tiny_model, "cmmlu_med_anatomy", tmp_path / "b") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(member) in err[0] and "altered" in err[0], err
    assert not list((tmp_path / "b").glob("*/metrics.json"))
    assert main(["data", "verify", "--tasks", "cmmlu_med_anatomy"]) == 1
    assert str(member) in capsys.readouterr().err


def test_data_list_tells_a_cached_mirror_from_one_not_cached(hub, tmp_path, monkeypatch, capsys):
    """Issue 39: `data list` said C-Eval and CMMLU were in the hub cache when nothing was cached."""
    assert main(["data", "list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "hub mirror" in line]
    assert len(rows) == 2 and all(row.rstrip(" |").endswith("| in the hub cache") for row in rows)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    assert main(["data", "list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "hub mirror" in line]
    assert len(rows) == 2 and all(row.rstrip(" |").endswith("| not in the hub cache") for row in rows)
