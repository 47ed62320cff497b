"""Shared pieces of every task builder: word offsets, class encoding against a training split, punctuation."""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Optional, Sequence

import numpy as np

from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData

# Hewitt & Manning exclude punctuation by gold POS tag; with UD that is UPOS PUNCT. SYM ($, %, #)
# is kept, as their PTB tag list (`` '' , . : -LRB- -RRB-) keeps $ and #.
PTB_PUNCT_TAGS = frozenset({"``", "''", ",", ".", ":", "-LRB-", "-RRB-", "HYPH", "NFP"})


def is_punct_word(word: str) -> bool:
    """True when every character of ``word`` is Unicode punctuation (fallback without POS tags)."""
    return bool(word) and all(unicodedata.category(c).startswith("P") for c in word)


def punct_mask(sentences: Sequence[Sentence]) -> np.ndarray:
    """(n_words,) bool: UPOS PUNCT; without UPOS, PTB punctuation XPOS; without both, the characters."""
    out: list[bool] = []
    for s in sentences:
        if s.upos is not None:
            out.extend(u == "PUNCT" for u in s.upos)
        elif s.xpos is not None:
            out.extend(x in PTB_PUNCT_TAGS for x in s.xpos)
        else:
            out.extend(is_punct_word(w) for w in s.words)
    return np.array(out, dtype=bool)


def encode(name: str, labels: Sequence[str], train: Optional[TaskData]
           ) -> tuple[list[str], np.ndarray, int, list[str], np.ndarray]:
    """Labels -> (classes, y, unseen count, notes, label distribution).

    Without ``train`` the classes are this data's labels, sorted. With it, ``train.classes`` are
    reused and a label never seen in training becomes -1 (counted as wrong, reported in notes).
    """
    counts = Counter(labels)
    notes: list[str] = []
    if train is None:
        classes = sorted(counts)
        dist = np.array([counts[c] for c in classes], dtype=float)
        dist = dist / dist.sum() if dist.sum() else dist
    else:
        if train.name != name:
            raise ProbesError(f"task {name!r}: the training TaskData is for task {train.name!r}")
        classes = list(train.classes)
        dist = train.label_distribution
    ids = {c: i for i, c in enumerate(classes)}
    y = np.array([ids.get(lab, -1) for lab in labels], dtype=np.int64)
    unseen = int((y < 0).sum())
    if unseen:
        missing = Counter(lab for lab in labels if lab not in ids)
        shown = ", ".join(f"{k!r} x{v}" for k, v in missing.most_common(10))
        notes.append(f"{unseen} label(s) unseen in training, kept as -1 and scored as wrong: {shown}"
                     + (" ..." if len(missing) > 10 else ""))
    return classes, y, unseen, notes, dist


def require(sentences: Sequence[Sentence], attr: str, task: str, what: str | None = None) -> list[int]:
    """Indices of sentences that carry annotation ``attr``; an error when none does.

    ``what`` says in words what the task needs and where it comes from (default: the attribute).
    """
    have = [i for i, s in enumerate(sentences) if getattr(s, attr) is not None]
    if not have:
        need = f"needs {what}; this corpus has none" if what else \
            f"needs {attr} annotations, and no sentence of this corpus has them"
        raise ProbesError(f"task {task!r} {need}"
                          + (f" (first sentence: {sentences[0].source or sentences[0].sent_id})" if sentences else ""))
    return have


def skipped_note(sentences: Sequence[Sentence], have: list[int], what: str) -> list[str]:
    """A note naming how many sentences were left out of a task for lack of ``what``."""
    n_missing = len(sentences) - len(have)
    if not n_missing:
        return []
    have_set = set(have)
    first = next(s for i, s in enumerate(sentences) if i not in have_set)
    return [f"{n_missing} sentence(s) without {what} left out (first: {first.sent_id} {first.source})"]


def heads_required(sentences: Sequence[Sentence], task: str) -> None:
    """Structural tasks need a tree for every sentence (their targets are per sentence)."""
    for s in sentences:
        if s.heads is None:
            raise ProbesError(f"task {task!r} needs a dependency tree for every sentence; sentence "
                              f"{s.sent_id} ({s.source}) has none")


def _item_array(v) -> np.ndarray:
    """(n, 2) pairs / one-span items, or (n, 4) two-span items, as int64 (an empty list is (0, 2))."""
    a = np.asarray(v, dtype=np.int64)
    return a.reshape(-1, 2) if a.ndim != 2 else a


def labelled_task(name: str, kind: str, metric: str, sentences: Sequence[Sentence], labels: Sequence[str],
                  train: Optional[TaskData], notes: list[str], **items: np.ndarray) -> TaskData:
    """A classification TaskData: labels encoded against the training classes, items (index, pairs
    or spans) as int64 arrays, punctuation and sentence offsets of the corpus."""
    classes, y, unseen, enc_notes, dist = encode(name, labels, train)
    arrays = {k: _item_array(v) if k in ("pairs", "spans") else np.asarray(v, dtype=np.int64)
              for k, v in items.items()}
    return TaskData(name=name, kind=kind, metric=metric, classes=classes, y=y, punct=punct_mask(sentences),
                    sentence_offsets=sentence_offsets(sentences), unseen=unseen, notes=notes + enc_notes,
                    label_distribution=dist, **arrays)


def splits_token(sentence: Sentence, start: int, end: int) -> bool:
    """Whether [start, end) cuts through a multiword token (its words share the token's vector)."""
    wt = sentence.word_token
    if wt is None:
        return False
    return (start > 0 and wt[start - 1] == wt[start]) or (end < len(wt) and wt[end - 1] == wt[end])


def split_token_note(n_split: int, n_items: int, what: str) -> list[str]:
    """A note on spans whose edge falls inside a multiword token: kept, not shifted, but said."""
    if not n_split:
        return []
    return [f"{n_split} of {n_items} {what} begin or end inside a multiword token: kept at their words, which "
            "share the token's vector"]
