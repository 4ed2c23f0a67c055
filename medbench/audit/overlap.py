"""Overlap between training texts and evaluation items, item by item: character n-grams, exact
matches and near-duplicates.

Chinese is written without spaces, so the unit is the character: texts are normalised (NFKC, lower
case, whitespace and punctuation dropped) and cut into character n-grams with n = :data:`N` = 13.
Thirteen is GPT-3's and lm-eval's decontamination n, applied to characters rather than words: a
13-character run is longer than the stock phrases of an exam stem (``下列哪项是正确的`` is 8) and
shorter than almost any copied sentence, so a shared 13-gram is a copy, not an idiom. An item's
overlap is the share of its n-grams found in any training text.

Two rules read that share, and the audit reports both, by name. **Flagged** (medbench's, what
``--exclude-contaminated`` leaves out): at least :data:`FLAG_SHARE` of the item's n-grams, its whole
text, or a near-duplicate. **Dirty** (:data:`DIRTY_RULE`): any one n-gram, as lm-eval's
decontamination and GPT-3's paper call an item dirty; it counts items that share one passage with the
training data too, so it is the larger count and the one to compare with those papers.

The index holds the evaluation items (thousands), never the training data (millions of lines):
training lines stream past it once, each n-gram looked up in a set, so memory stays flat and a
million lines take minutes on two cores (``benchmarks/overlap_throughput.py`` measures it).

Near-duplicates (a paraphrased or reformatted copy shares few 13-grams) are found by MinHash-LSH over
character 3-gram shingles (``datasketch``): each field of a training record (a JSONL record's
strings, or a text line) is compared with each item's stem (its question, with the options of a
multiple-choice item); its MinHash queries the items' LSH index, and a candidate counts when the exact
Jaccard similarity of the two shingle sets reaches :data:`NEAR`. A paraphrase buried inside a much
longer field is below that similarity and not found this way (its verbatim runs still count as
n-gram overlap).
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

N = 13  # characters per n-gram (see above)
SHINGLE = 3  # characters per near-duplicate shingle
NEAR = 0.5  # Jaccard similarity of shingle sets from which a training line is a near-duplicate
PERMUTATIONS = 128
FLAG_SHARE = 0.5  # an item with at least this share of its n-grams in training data is flagged
#: the other rule the audit counts (see above)
DIRTY_RULE = (
    f"dirty: any one character {N}-gram of the item in the training data (lm-eval's decontamination and "
    "GPT-3's rule, on characters instead of words)"
)


#: what normalising drops: punctuation, symbols, spacing, the underscore (regex \W: not a letter, digit
#: or mark)
_DROP = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """NFKC, lower case, and only letters and digits kept (punctuation and spacing vary between
    copies of one text)."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


def ngrams(text: str, n: int = N) -> set[str]:
    """The normalised text's character n-grams (a text shorter than n is one gram: itself)."""
    if len(text) < n:
        return {text} if text else set()
    return {text[i : i + n] for i in range(len(text) - n + 1)}


@functools.cache
def _permutations() -> tuple:
    """One MinHash's permutations and their scheme, drawn once (datasketch draws them anew for every
    MinHash)."""
    from datasketch import MinHash

    first = MinHash(num_perm=PERMUTATIONS, seed=1)
    return first.permutations, first.scheme


def _hash32(shingle: str) -> int:
    """A 32-bit hash of a shingle, the same in every process (CRC-32 in C; sha1, datasketch's
    default, is several times slower, and Python's own string hash is salted per process)."""
    return zlib.crc32(shingle.encode("utf-8"))


def _minhash(shingles: set[str]):
    from datasketch import MinHash

    permutations, scheme = _permutations()
    m = MinHash(num_perm=PERMUTATIONS, hashfunc=_hash32, permutations=permutations, scheme=scheme)
    m.update_batch(list(shingles))
    return m


@dataclass
class ItemMatch:
    """What the training data holds of one item."""

    grams: int
    found: set[str] = field(default_factory=set)
    exact: int = 0  # training lines holding the item's whole normalised text
    near: float = 0.0  # the best Jaccard similarity of a near-duplicate line
    near_line: int | None = None
    first_line: int | None = None  # the first training line sharing an n-gram

    @property
    def share(self) -> float:
        return len(self.found) / self.grams if self.grams else 0.0

    @property
    def dirty(self) -> bool:
        """lm-eval's and GPT-3's rule: any one n-gram found (:data:`DIRTY_RULE`)."""
        return bool(self.found)


class OverlapIndex:
    """The evaluation items' n-grams and MinHashes; :meth:`scan` streams training lines past them."""

    def __init__(self, items: dict[str, str], stems: dict[str, str]) -> None:
        """``items``: each item's whole text (question, options, reference, history); ``stems``: the
        part a paraphrase would copy (question and options)."""
        from datasketch import MinHashLSH

        self.texts = {k: normalise(v) for k, v in items.items()}
        self.grams = {k: ngrams(t) for k, t in self.texts.items()}
        self.owners: dict[str, list[str]] = {}
        for key, grams in self.grams.items():
            for g in grams:
                self.owners.setdefault(g, []).append(key)
        self.shingles = {k: ngrams(normalise(stems[k]), SHINGLE) for k in items}
        # candidates from below the threshold, each then checked exactly: fewer near-duplicates lost
        # to the LSH's banding
        self.lsh = MinHashLSH(threshold=NEAR - 0.1, num_perm=PERMUTATIONS)
        for key, shingles in self.shingles.items():
            if shingles:
                self.lsh.insert(key, _minhash(shingles))
        self.matches = {k: ItemMatch(len(g)) for k, g in self.grams.items()}
        self.lines = 0

    def scan(self, records: Iterable[list[str]]) -> None:
        """Look every training record (its text fields) up: its n-grams in the items' set, its whole
        text for items it holds exactly, each field's MinHash in the items' LSH index."""
        for fields in records:
            self.lines += 1
            for text in fields:
                self._near(normalise(text))
            norm = normalise("".join(fields))
            if not norm:
                continue
            hit: set[str] = set()
            for i in range(max(len(norm) - N + 1, 1)):
                gram = norm[i : i + N]
                for key in self.owners.get(gram, ()):
                    match = self.matches[key]
                    match.found.add(gram)
                    hit.add(key)
                    if match.first_line is None:
                        match.first_line = self.lines
            for key in hit:
                if self.texts[key] in norm:
                    self.matches[key].exact += 1

    def _near(self, norm: str) -> None:
        shingles = ngrams(norm, SHINGLE)
        if not shingles:
            return
        for key in self.lsh.query(_minhash(shingles)):
            mine = self.shingles[key]
            jaccard = len(mine & shingles) / len(mine | shingles)
            match = self.matches[key]
            if jaccard >= NEAR and jaccard > match.near:
                match.near, match.near_line = jaccard, self.lines
