"""Benchmark files from a pinned revision of a public hub mirror, through ``huggingface_hub``'s cache.

A task whose data can come from the hub declares its mirror in its YAML metadata (``mirror:``):
the dataset ``repo``, the ``revision`` (a commit, never a branch: the files cannot change under a
published number), the ``file`` that holds one split of one subject (``{split}``/``{subject}``
filled in), and, where the mirror ships one zip, the ``archive`` whose members those files are.
When no local data folder is given, the files come from the hub cache (downloaded when the hub is
reachable; offline, the cache must already hold them: ``medbench data pull`` fills it). The hub's
cache keeps each file under its own hash (sha256 for large files, the git blob hash for small
ones), so :func:`verify` checks every cached file against the hash the pinned revision names, on
every read (the cache is received input: a blob altered in place is never read). A member of an
archive is extracted into medbench's cache and hashed against the verified archive's own bytes on
every read (:mod:`medbench.core.archives`). The files read and their sha256 go into the run folder's
data.json as for local files, with the mirror and revision beside them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medbench.core import archives
from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.core.paths import cache_dir
from medbench.data.sources import git_blob_id


@dataclass(frozen=True)
class Mirror:
    repo: str
    revision: str
    file: str  # one split of one subject: "{subject}/{split}/0000.parquet"
    archive: str | None = None  # the zip the files are members of, if any

    @classmethod
    def from_metadata(cls, task: str, spec: dict | None) -> Mirror | None:
        if not spec:
            return None
        missing = [k for k in ("repo", "revision", "file") if not spec.get(k)]
        if missing:
            raise MedbenchError(f"{task}: its mirror (YAML metadata) lacks {', '.join(missing)}")
        rev = str(spec["revision"])
        if len(rev) != 40 or any(c not in "0123456789abcdef" for c in rev):
            raise MedbenchError(f"{task}: mirror revision {rev!r} is not a commit hash (40 hex digits)")
        return cls(str(spec["repo"]), rev, str(spec["file"]), spec.get("archive"))

    def name(self, split: str, subject: str | None) -> str:
        return self.file.format(split=split, subject=subject)

    def hub_files(self, split: str, subject: str | None) -> list[str]:
        """The files of the repository one split of one subject needs."""
        return [self.archive] if self.archive else [self.name(split, subject)]

    def record(self) -> dict:
        return {"repo": self.repo, "revision": self.revision}


def hub_cache() -> Path:
    """The hub cache, as ``huggingface_hub`` resolves it (read when called, so a test's own applies)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home) / "hub"


def cached(mirror: Mirror) -> bool:
    """Whether the pinned revision has files in the hub cache (``huggingface_hub``'s layout:
    ``datasets--{owner}--{name}/snapshots/{revision}``)."""
    folder = hub_cache() / f"datasets--{mirror.repo.replace('/', '--')}" / "snapshots" / mirror.revision
    return folder.is_dir() and any(folder.iterdir())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def download(mirror: Mirror, filename: str, task: str, local: str = "") -> Path:
    """One file of the pinned revision, from the hub cache (fetched first when online); ``local``
    names the files a user could place under --data-dir instead."""
    from huggingface_hub import hf_hub_download

    try:
        path = Path(
            hf_hub_download(
                mirror.repo,
                filename,
                repo_type="dataset",
                revision=mirror.revision,
                cache_dir=hub_cache(),
                local_files_only=_offline(),
            )
        )
    except Exception as exc:  # not cached offline, unreachable, no such file at that revision
        pull = "run `medbench data pull` with the same --tasks where the hub is reachable"
        how = pull if _offline() else f"the hub did not give it ({type(exc).__name__}): {pull}"
        instead = f", or put {local} under --data-dir" if local else ""
        raise MedbenchError(
            f"{task}: no local data (--data-dir) and {mirror.repo}@{mirror.revision[:12]}:{filename} is "
            f"not in the hub cache {hub_cache()}; {how}{instead}"
        ) from None
    problem = verify(mirror, filename)  # the cache is received input: hashed on every read
    if problem:
        raise MedbenchError(f"{task}: {problem}")
    return path


def _extracted(mirror: Mirror, archive: Path, member: str, task: str, extract: bool = True) -> Path | None:
    """``member`` of the mirror's archive, extracted into medbench's cache and checked on every read."""
    root = cache_dir() / "hub" / f"{mirror.repo.replace('/', '--')}@{mirror.revision}"
    where = f"{task}: {mirror.repo}@{mirror.revision[:12]}:{mirror.archive}"
    return archives.member(archive, member, root, where, extract)


def verify_extracted(mirror: Mirror, split: str, subject: str | None, task: str) -> str | None:
    """Why the extracted copy of one archive member differs from the (verified) cached archive's
    member, or None (also when nothing is extracted yet)."""
    archive = hub_cache() / f"datasets--{mirror.repo.replace('/', '--')}" / "snapshots" / mirror.revision
    try:
        _extracted(mirror, archive / str(mirror.archive), mirror.name(split, subject), task, extract=False)
    except MedbenchError as exc:
        return str(exc)
    return None


def local_file(mirror: Mirror, split: str, subject: str | None, task: str, local: str = "") -> Path:
    """The file holding ``split`` of ``subject``, read from the pinned revision."""
    if not mirror.archive:
        return download(mirror, mirror.name(split, subject), task, local)
    archive = download(mirror, mirror.archive, task, local)
    return _extracted(mirror, archive, mirror.name(split, subject), task)  # type: ignore[return-value]


def verify(mirror: Mirror, filename: str) -> str | None:
    """Why the cached ``filename`` of the pinned revision is not what the hub named, or None if it is.
    The cache stores a file as a link to ``blobs/<hash>``: sha256 of the content for large (LFS)
    files, git's blob id for small ones."""
    repo_dir = hub_cache() / f"datasets--{mirror.repo.replace('/', '--')}"
    link = repo_dir / "snapshots" / mirror.revision / filename
    if not link.exists():
        return f"{mirror.repo}@{mirror.revision[:12]}:{filename} is not in the hub cache (medbench data pull)"
    if not link.is_symlink():  # a cache copied without its links: the file's name is no hash
        blobs = repo_dir / "blobs"
        names = {sha256_file(link), git_blob_id(link)}
        if blobs.is_dir() and any((blobs / n).is_file() for n in names):
            return None
        return (
            f"{mirror.repo}@{mirror.revision[:12]}:{filename} is a plain copy whose content matches no "
            f"blob of the cache ({blobs}): altered, or copied without its blobs; pull it again"
        )
    expected = link.resolve().name
    actual = sha256_file(link) if len(expected) == 64 else git_blob_id(link)
    if actual != expected:
        return (
            f"{mirror.repo}@{mirror.revision[:12]}:{filename}: content hash {actual[:16]}… is not the "
            f"pinned {expected[:16]}… (a corrupted or altered file: delete {link.resolve()} and pull again)"
        )
    return None
