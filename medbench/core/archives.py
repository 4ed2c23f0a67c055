"""Members of a pinned zip archive, extracted into medbench's cache and checked on every read.

The archive itself is verified against its pin (a hub revision's hash, or a git-host pin) before it
is opened here. An extracted copy is only a convenience for readers that take a path: on every read
its bytes are hashed against the member's own, decompressed from the verified archive. A CRC32 is
no such check (anyone can alter a file and restore its CRC), so a copy that differs is one line
naming it, never read.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.core.safe_names import inside


def member(archive: Path, name: str, root: Path, where: str, extract: bool = True) -> Path | None:
    """The member ``name`` of ``archive`` (a member path equal to it or ending in ``/name``), as the file
    ``root/name`` whose bytes were just checked against the archive's; ``where`` names the archive's
    pin in messages. ``extract=False`` (``data verify``) only checks: None when nothing is extracted."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MedbenchError(
            f"{where} is not a readable zip ({exc}; cut short?): delete {archive.resolve()} and run "
            "`medbench data pull`"
        ) from None
    with zf:
        names = [n for n in zf.namelist() if n == name or n.endswith("/" + name)]
        if len(names) != 1:
            raise MedbenchError(f"{where} has {'no' if not names else 'several'} member {name}")
        inside(root, names[0], "archive member", where)  # a member named ../ or /: a hostile zip, refused
        out = inside(root, name, "archive member", where)
        try:
            data = zf.read(names[0])  # ZipFile checks the member's CRC as it reads
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MedbenchError(f"{where}: member {names[0]} is unreadable ({exc})") from None
    expected = hashlib.sha256(data).hexdigest()
    if out.is_file():
        actual = sha256_file(out)
        if actual != expected:
            raise MedbenchError(
                f"{out}: sha256 {actual[:12]}... is not that of member {names[0]} of {where} "
                f"({expected[:12]}...): the extracted copy was altered; delete it and run again"
            )
        return out
    if not extract:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(out)
    return out
