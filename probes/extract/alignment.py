"""Word <-> subword alignment from the tokenizer's own character offsets (no string heuristics).

The model reads one string per sentence, built from the surface tokens joined by a space unless
the token has ``space_after=False`` (UD ``SpaceAfter=No``; Chinese treebanks mark every token so).
Each surface token owns a character span of that string; a subword belongs to every token whose
span its offsets overlap. Special tokens and subwords that cover only spaces (a lone SentencePiece
``▁``, a byte-level ``Ġ``) overlap no token and are ignored. A token that no subword overlaps
(zero-width or control characters the tokenizer deletes) is reported as missing, never moved onto
its neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probes.records import Sentence


@dataclass
class SentenceText:
    """The string a model reads for one sentence and each surface token's span [start, end)."""

    text: str
    starts: np.ndarray
    ends: np.ndarray


def sentence_text(sentence: Sentence) -> SentenceText:
    """Join the surface tokens into the model's input string, respecting space_after."""
    tokens = sentence.model_tokens()
    space_after = sentence.space_after
    if space_after is not None and len(space_after) != len(tokens):
        raise ValueError(f"space_after has {len(space_after)} entries for {len(tokens)} tokens")
    parts: list[str] = []
    starts = np.empty(len(tokens), dtype=np.int64)
    ends = np.empty(len(tokens), dtype=np.int64)
    pos = 0
    for i, tok in enumerate(tokens):
        starts[i] = pos
        parts.append(tok)
        pos += len(tok)
        ends[i] = pos
        if i + 1 < len(tokens) and (space_after is None or space_after[i]):
            parts.append(" ")
            pos += 1
    return SentenceText("".join(parts), starts, ends)


def align_subwords(offsets: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (subword index, token index) for every subword/token overlap, sorted by token then subword.

    `offsets` is the tokenizer's (n_subwords, 2) character offsets into the sentence string;
    `starts`/`ends` are the tokens' spans (sorted, non-overlapping). A subword spanning two tokens
    appears in a pair with each of them.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if len(offsets) == 0 or len(starts) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    s, e = offsets[:, 0], offsets[:, 1]
    # First token ending after the subword starts, last token starting before it ends.
    lo = np.searchsorted(ends, s, side="right")
    hi = np.searchsorted(starts, e, side="left")  # exclusive
    # Zero-width tokens (start == end) overlap nothing; they sit inside [lo, hi) only if a subword
    # straddles them, so drop them explicitly below.
    counts = np.maximum(hi - lo, 0) * (e > s)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    sub = np.repeat(np.arange(len(offsets)), counts)
    first = np.repeat(lo, counts)
    step = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    tok = first + step
    keep = ends[tok] > starts[tok]
    sub, tok = sub[keep], tok[keep]
    order = np.lexsort((sub, tok))
    return sub[order], tok[order]


def missing_tokens(tok: np.ndarray, n_tokens: int) -> np.ndarray:
    """Boolean mask of tokens that no subword overlaps."""
    seen = np.zeros(n_tokens, dtype=bool)
    seen[tok] = True
    return ~seen
