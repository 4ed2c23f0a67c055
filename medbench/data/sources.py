"""Benchmark files from a git host at a pinned commit, verified byte for byte, laid out officially.

A benchmark folder may declare where its public files come from (``tasks/<benchmark>/_sources_yaml``:
no ``.yaml`` suffix, so lm-eval's task index skips it, as it does the ``_*_yaml`` include files;
schema :class:`medbench.config.plugin_files.SourceFile`): per file the repository, the commit (never
a branch), the path in it, the git blob id and/or sha256 of its bytes, its size, the licence line,
and whether it is the official release or a third-party copy. ``medbench data pull`` downloads each through
``pooch`` (a file is only kept once its hashes match) from the host's raw-file URL --
``https://raw.githubusercontent.com/<repo>/<commit>/<path>``, or ``$MEDBENCH_MIRROR_URL`` in its
place for an offline mirror or a test server -- and lays it out under the pulled-data folder
(``<medbench cache>/data``, or ``--to DIR``) at the official path a ``--data-dir`` would hold.
A run with no ``--data-dir`` reads a benchmark from there, checking every file's pin again on read
(a cache is received input); with ``HF_HUB_OFFLINE=1`` nothing is downloaded. A hash mismatch, a
truncated body, an HTML page served instead of the file or an HTTP error is one line, and nothing
is kept; so is a body longer than the pinned size (cut off there, never written whole) or slower
than ``MIN_RATE`` on average (time is bounded by the size too).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from medbench.core import archives
from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.core.paths import cache_dir, plugin_dir
from medbench.core.safe_names import inside

if TYPE_CHECKING:
    from medbench.data.datareport import DataReport

MIRROR_ENV = "MEDBENCH_MIRROR_URL"
HOST = "https://raw.githubusercontent.com"
FILE_NAME = "_sources_yaml"
#: a download is given up when, after GRACE_S seconds, its average rate is below MIN_RATE bytes/s:
#: with the body bounded by the pin's size, so is the time (a server dripping a byte every few
#: seconds never trips a per-read timeout, which also bounds silence: GRACE_S)
GRACE_S = 30.0
MIN_RATE = 16 << 10
#: the body bound of a pin that does not declare its size
UNSIZED_LIMIT = 256 << 20


@dataclass(frozen=True)
class Source:
    """One pinned file of one benchmark."""

    benchmark: str
    local: str  # its official path under a data folder: "cmtmedqa/CMtMedQA_test.json"
    repo: str
    commit: str
    path: str
    blob: str | None
    sha256: str | None
    licence: str
    official: bool
    note: str = ""
    serves: str = ""  # the official path it stands in for (default: ``local``)
    layout: str | None = None  # a reader the benchmark declares for this copy's own layout
    size: int | None = None  # bytes: a download is cut off past it (else at UNSIZED_LIMIT)
    archive: bool = False  # a zip whose members are the files of the official folder ``serves``

    @property
    def official_path(self) -> str:
        return self.serves or self.local

    @property
    def url(self) -> str:
        base = os.environ.get(MIRROR_ENV) or HOST
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"

    @property
    def pin(self) -> str:
        return f"{self.repo}@{self.commit[:12]}:{self.path}"

    def record(self) -> dict:
        """What data.json says about where the file came from."""
        return {"repo": self.repo, "commit": self.commit, "path": self.path, "official": self.official}


def git_blob_id(path: Path) -> str:
    """Git's id of a file's bytes: sha1 of ``blob <size>\\0<content>`` (checkable without git)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's own id


def mismatch(source: Source, path: Path) -> str | None:
    """Why ``path`` is not the pinned file (None when its size and every declared hash match)."""
    if source.size and path.stat().st_size != source.size:
        return f"size {path.stat().st_size:,} bytes is not the pinned {source.size:,}"
    if source.blob and git_blob_id(path) != source.blob:
        return f"git blob id {git_blob_id(path)[:12]}... is not the pinned {source.blob[:12]}..."
    if source.sha256 and sha256_file(path) != source.sha256:
        return f"sha256 {sha256_file(path)[:12]}... is not the pinned {source.sha256[:12]}..."
    return None


def declared(tasks_dir: Path | None = None) -> list[Source]:
    """Every benchmark's declared sources (``tasks/*/_sources_yaml``), checked against the schema."""
    from medbench.config.plugin_files import SourceFile, checked

    out = []
    for file in sorted((tasks_dir or plugin_dir("tasks")).glob(f"*/{FILE_NAME}")):
        spec = checked(file, SourceFile)
        for f in spec["files"]:
            inside(Path("/data"), f["local"], "local path", file)  # never a path out of the data folder
            out.append(
                Source(
                    spec["benchmark"],
                    f["local"],
                    f["repo"],
                    f["commit"],
                    f["path"],
                    f.get("blob"),
                    f.get("sha256"),
                    spec["licence"],
                    spec["official"],
                    spec.get("note", ""),
                    f.get("serves", ""),
                    f.get("layout"),
                    f.get("size"),
                    f.get("archive", False),
                )
            )
    return out


def pulled_root() -> Path:
    """Where ``medbench data pull`` lays files out (a data folder in the official layout)."""
    return cache_dir() / "data"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _looks_like_html(path: Path) -> bool:
    head = path.read_bytes()[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


REMEDY = (
    "pull it where there is network (`medbench data pull --tasks {task}`) and copy the cache, or put the "
    "files under --data-dir DIR (`medbench data list` names them)"
)


def _cause(exc: Exception, benchmark: str) -> str:
    """A failed download's cause, whole and short, and what to do: never a cut-off library message."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"download failed (HTTP {exc.response.status_code})"
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        why = "no network: the host name could not be resolved"
    elif isinstance(exc, requests.Timeout):
        why = "the host did not answer in time"
    elif isinstance(exc, requests.ConnectionError):
        why = "could not connect to the host"
    else:
        why = type(exc).__name__
    return f"download failed ({why}); {REMEDY.format(task=benchmark)}"


@dataclass(frozen=True)
class _Bounded:
    """pooch's downloader for one pinned file, bounded by its pin: the body is cut off once it is
    longer than the pinned size, and given up once it arrives slower than ``MIN_RATE`` on average
    after ``GRACE_S``; each is one line, and pooch keeps nothing of a failed download."""

    source: Source

    def fail(self, why: str) -> MedbenchError:
        return MedbenchError(f"{self.source.benchmark}: {self.source.url}: {why}; nothing kept")

    def __call__(self, url: str, output_file: str, _pooch: object) -> None:
        import requests
        import urllib3

        limit = self.source.size or UNSIZED_LIMIT
        what = (
            f"its pinned size, {limit:,} bytes" if self.source.size else f"{limit:,} bytes (no size pinned)"
        )
        start, got = time.monotonic(), 0
        try:
            with requests.get(url, stream=True, timeout=GRACE_S) as response:
                response.raise_for_status()
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > limit:
                    raise self.fail(f"the server declares {declared:,} bytes, more than {what}")
                with open(output_file, "wb") as out:
                    while chunk := response.raw.read1(1 << 16, decode_content=True):
                        got += len(chunk)
                        if got > limit:
                            raise self.fail(f"the body is longer than {what}")
                        elapsed = time.monotonic() - start
                        if elapsed > GRACE_S and got < MIN_RATE * elapsed:
                            raise self.fail(
                                f"too slow ({got:,} bytes in {elapsed:.0f} s, under {MIN_RATE:,} bytes/s)"
                            )
                        out.write(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise self.fail(_cause(exc, self.source.benchmark)) from None


def download(source: Source, root: Path) -> Path:
    """Fetch one file into ``root`` at its official path, verified; a file already there that matches
    its pin is kept. Any failure is one line and leaves nothing behind."""
    import pooch

    target = inside(root, source.local, "local path", source.benchmark)
    if target.is_file() and mismatch(source, target) is None:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder of the path belongs
        why = f"cannot make the folder {target.parent} ({exc.strerror}): a file is there, not a folder"
        raise MedbenchError(f"{source.benchmark}: {why}") from None
    quiet = pooch.get_logger()  # its own handler on the stderr of import time: medbench's logging instead
    quiet.handlers.clear()
    quiet.setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        try:  # the pins (blob id and sha256) are checked below, both, with one message
            got = Path(
                pooch.retrieve(
                    source.url,
                    known_hash=None,
                    fname=target.name,
                    path=scratch,
                    progressbar=False,
                    downloader=_Bounded(source),
                )
            )
        except OSError as exc:
            raise _Bounded(source).fail(f"download failed ({exc.strerror or exc})") from None
        if _looks_like_html(got) and not source.local.endswith((".html", ".htm")):
            raise MedbenchError(
                f"{source.benchmark}: {source.url} served an HTML page, not the file; nothing kept"
            )
        why = mismatch(source, got)
        if why:
            raise MedbenchError(
                f"{source.benchmark}: {source.url}: {why} (altered or truncated); nothing kept"
            )
        os.replace(got, target)
    return target


def verified(source: Source, root: Path) -> Path | None:
    """The pulled file if it is there and matches its pin; None if absent; one line if altered."""
    path = inside(root, source.local, "local path", source.benchmark)
    if not path.is_file():
        return None
    why = mismatch(source, path)
    if why:
        raise MedbenchError(
            f"{path}: {why}: the pulled copy of {source.pin} was altered; run `medbench data pull` again"
        )
    return path


def serving(name: str, found: list[Source] | None = None) -> tuple[Source, str | None] | None:
    """The pinned source standing in for the official path ``name`` and, when that source is an
    archive, the member that is the file (its path under the archive's official folder); None when
    no source is pinned for it."""
    for source in declared() if found is None else found:
        folder = source.official_path.rstrip("/") + "/"
        if source.archive and name.startswith(folder):
            return source, name[len(folder) :]
        if not source.archive and source.official_path == name:
            return source, None
    return None


def member_file(source: Source, member: str, root: Path, extract: bool = True) -> Path | None:
    """A (verified) pulled archive's member laid out at its official path under ``root``, hashed
    against the archive's own member on every read (:mod:`medbench.core.archives`); ``extract=False``
    only checks a copy already there."""
    folder = inside(root, source.official_path, "official folder", source.benchmark)
    return archives.member(root / source.local, member, folder, f"{source.benchmark}: {source.pin}", extract)


def resolve(
    task: str,
    needed: list[str],
    report: DataReport | None = None,
    root: Path | None = None,
    hub_instead: bool = False,
) -> Path | None:
    """The pulled-data folder (``root``, by default :func:`pulled_root`) holding every one of
    ``needed`` (official paths under a data folder) -- each verified, downloaded first when missing
    and the host is reachable, an archive's members extracted and checked -- or None when some of them
    has no declared source, or (``hub_instead``: the benchmark has a hub mirror to read instead) some
    are not pulled and HF_HUB_OFFLINE is set. ``report``: the reading hook's, told each pin's
    repository and commit."""
    found = declared()
    pins = [serving(name, found) for name in needed]
    if not needed or any(pin is None for pin in pins):
        return None
    benchmark = task
    root = root or pulled_root()
    if hub_instead and _offline() and any(verified(pin[0], root) is None for pin in pins):  # type: ignore[index]
        return None
    for name, (source, member) in zip(needed, pins, strict=True):  # type: ignore[misc]
        if verified(source, root) is None:
            if _offline():
                raise MedbenchError(
                    f"{benchmark}: {name} is not pulled and HF_HUB_OFFLINE is set; run `medbench data pull "
                    f"--tasks {benchmark}` where {source.url.split('/')[2]} is reachable (or pass --data-dir)"
                )
            download(source, root)
        if member is not None:
            member_file(source, member, root)
        if report is not None:
            report.source({"repo": source.repo, "revision": source.commit})
    return root


def pulled_file(official: str) -> tuple[Path, str | None]:
    """The pulled file standing in for an official path (after :func:`resolve`), and the layout its
    source declares (None: the official one)."""
    source, member = serving(official)  # type: ignore[misc]
    return pulled_root() / (official if member is not None else source.local), source.layout
