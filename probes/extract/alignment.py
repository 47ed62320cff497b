"""Word <-> subword alignment from the tokenizer's own character offsets (no string heuristics).

The model reads one string per sentence, built from the surface tokens joined by a space unless
the token has ``space_after=False`` (UD ``SpaceAfter=No``; Chinese treebanks mark every token so).
Each surface token owns a character span of that string; a subword belongs to every token whose
span its offsets overlap. Special tokens and subwords that cover only spaces (a lone SentencePiece
``▁``, a byte-level ``Ġ``) overlap no token and are ignored. A token that no subword overlaps
(zero-width or control characters the tokenizer deletes) is reported as missing, never moved onto
its neighbour.

Multiword tokens (UD: "don't" = do + n't, "del" = de + el): with ``multiword="split"`` (default),
a token whose words spell it exactly, in order and ignoring case, is cut into its words' character
spans, so each syntactic word pools the subwords over its own characters (a subword straddling two
words belongs to both); a token whose words do not spell it ("del", "du", "zum") stays one span that
all its words share, and those words are counted. ``multiword="token"`` keeps every word of a
multiword token on the token's vector.
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


MULTIWORD_MODES = ("split", "token")


@dataclass
class WordUnits:
    """The character spans subwords are pooled into, and which span carries each word."""

    starts: np.ndarray
    ends: np.ndarray
    word_unit: np.ndarray
    split: int = 0   # words of multiword tokens located in the token's characters (own vectors)
    shared: int = 0  # words of multiword tokens that share the token's vector (forms not found in it)


def _tile(token: str, words: list[str]) -> list[tuple[int, int]] | None:
    """The words' spans inside ``token`` when they spell it exactly (case-insensitively), else None."""
    if any(not w or len(w.lower()) != len(w) for w in words) or len(token.lower()) != len(token):
        return None
    if "".join(words).lower() != token.lower():
        return None
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w)
    return spans


def word_units(sentence: Sentence, text: SentenceText, multiword: str = "split") -> WordUnits:
    """Pooling units of one sentence: a surface token's span, or each word's span inside a
    multiword token whose words spell it (``multiword="split"``)."""
    if multiword not in MULTIWORD_MODES:
        raise ValueError(f"multiword must be one of {', '.join(MULTIWORD_MODES)}, got {multiword!r}")
    tokens = sentence.model_tokens()
    word_tok = np.asarray(sentence.token_of_word(), dtype=np.int64)
    if len(word_tok) == len(tokens) and np.array_equal(word_tok, np.arange(len(tokens))):
        return WordUnits(text.starts, text.ends, word_tok)
    starts, ends = [], []
    word_unit = np.empty(len(word_tok), dtype=np.int64)
    split = shared = 0
    w = 0
    for t in range(len(tokens)):
        first = w
        while w < len(word_tok) and word_tok[w] == t:
            w += 1
        words = list(range(first, w))
        if not words:
            continue  # a token without words: its subwords pool into nothing
        spans = _tile(tokens[t], [sentence.words[i] for i in words]) if multiword == "split" and len(words) > 1 else None
        if spans is None:
            word_unit[words] = len(starts)
            starts.append(text.starts[t])
            ends.append(text.ends[t])
            shared += len(words) if len(words) > 1 else 0
        else:
            for i, (a, b) in zip(words, spans):
                word_unit[i] = len(starts)
                starts.append(text.starts[t] + a)
                ends.append(text.starts[t] + b)
            split += len(words)
    if w != len(word_tok):
        raise ValueError("word_token must map words onto tokens in order")
    return WordUnits(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), word_unit, split, shared)
