"""Benchmark files from a pinned revision of a public hub mirror, through ``huggingface_hub``'s cache.

A task whose data can come from the hub declares its mirror in its YAML metadata (``mirror:``):
the dataset ``repo``, the ``revision`` (a commit, never a branch: the files cannot change under a
published number), the ``file`` that holds one split of one subject (``{split}``/``{subject}``
filled in), and, where the mirror ships one zip, the ``archive`` whose members those files are.
When no local data folder is given, the files come from the hub cache (downloaded when the hub is
reachable; offline, the cache must already hold them: ``medbench data pull`` fills it). The hub's
cache keeps each file under its own hash (sha256 for large files, the git blob hash for small
ones), so :func:`verify` can check every cached file against the hash the pinned revision names.
A member of an archive is extracted once into medbench's cache and checked against the archive's
CRC. The files read and their sha256 go into the run folder's data.json as for local files, with the
mirror and revision beside them.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from medbench.errors import MedbenchError
from medbench.hashing import sha256_file
from medbench.paths import cache_dir
from medbench.safe_names import inside


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


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def download(mirror: Mirror, filename: str, task: str, local: str = "") -> Path:
    """One file of the pinned revision, from the hub cache (fetched first when online); ``local``
    names the files a user could place under --data-dir instead."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(
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


def _extracted(mirror: Mirror, archive: Path, member: str, task: str) -> Path:
    """``member`` of the mirror's archive, extracted once into medbench's cache."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MedbenchError(
            f"{task}: {mirror.repo}@{mirror.revision[:12]}:{mirror.archive} in the hub cache is not a "
            f"readable zip ({exc}; cut short?): delete {archive.resolve()} and run `medbench data pull`"
        ) from None
    with zf:
        names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
        if len(names) != 1:
            raise MedbenchError(
                f"{task}: {mirror.repo}@{mirror.revision[:12]}:{mirror.archive} has "
                f"{'no' if not names else 'several'} member {member}"
            )
        root = cache_dir() / "hub" / f"{mirror.repo.replace('/', '--')}@{mirror.revision}"
        where = f"{task}: {mirror.repo}@{mirror.revision[:12]}:{mirror.archive}"
        out = inside(root, names[0], "archive member", where)  # zip-slip: ../ or an absolute name
        if not out.is_file() or _crc(out) != zf.getinfo(names[0]).CRC:
            out.parent.mkdir(parents=True, exist_ok=True)
            partial = out.with_suffix(out.suffix + ".partial")
            partial.write_bytes(zf.read(names[0]))  # ZipFile checks the member's CRC as it reads
            partial.replace(out)
    return out


def _crc(path: Path) -> int:
    return zlib.crc32(path.read_bytes()) & 0xFFFFFFFF


def local_file(mirror: Mirror, split: str, subject: str | None, task: str, local: str = "") -> Path:
    """The file holding ``split`` of ``subject``, read from the pinned revision."""
    if not mirror.archive:
        return download(mirror, mirror.name(split, subject), task, local)
    archive = download(mirror, mirror.archive, task, local)
    return _extracted(mirror, archive, mirror.name(split, subject), task)


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's own id


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
        names = {sha256_file(link), _git_blob_sha1(link)}
        if blobs.is_dir() and any((blobs / n).is_file() for n in names):
            return None
        return (
            f"{mirror.repo}@{mirror.revision[:12]}:{filename} is a plain copy whose content matches no "
            f"blob of the cache ({blobs}): altered, or copied without its blobs; pull it again"
        )
    expected = link.resolve().name
    actual = sha256_file(link) if len(expected) == 64 else _git_blob_sha1(link)
    if actual != expected:
        return (
            f"{mirror.repo}@{mirror.revision[:12]}:{filename}: content hash {actual[:16]}… is not the "
            f"pinned {expected[:16]}… (a corrupted or altered file: delete {link.resolve()} and pull again)"
        )
    return None
