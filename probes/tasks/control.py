"""Control tasks (Hewitt & Liang 2019): ``<task>:control`` for every token, edge and span task.

* Token tasks: every word *type* (its exact form) gets one label drawn from the task's empirical
  label distribution on the training split; every token of that type, in every split, carries it.
  The draw is a deterministic function of (seed, task, type): a pseudo-random number from a hash,
  mapped through the distribution's cumulative sum. So the training split defines the distribution,
  a type seen in any split gets the same label everywhere, and a type unseen in training is drawn
  the same way from the same distribution. The control keeps the task's words and class list.
* ``dep-arc:control``: as in the paper's dependency control, each word type of the dependent gets
  an attachment behaviour (itself, the sentence's first word or its last word, 1/3 each); the pair is
  (that word, dependent) and its label is drawn per dependent type from the DEPREL distribution.
  The items are the same dependents as ``dep-arc`` (every non-root word).
* Every other edge and span task (``ner``, ``consts``, ``entities``, ``srl``, ``coref``, jiant
  files...): the task's own items, each labelled by a draw keyed on its words (the span's text, or
  both spans' texts), from the training label distribution.
Control labels never fall outside the training class list, so ``unseen`` is always 0.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import numpy as np

from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.edge import arcs
from probes.tasks.labels import encode, punct_mask
from probes.tasks.token import word_labels

ATTACH = ("self", "first", "last")


def type_uniform(seed: int, salt: str, word_type: str) -> float:
    """A number in [0, 1) fixed by (seed, salt, word type): the type's one 'draw'."""
    digest = hashlib.blake2b(f"{seed}\x1f{salt}\x1f{word_type}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def draw_label(distribution: np.ndarray, u: float) -> int:
    """Class id at quantile ``u`` of ``distribution`` (inverse-CDF sampling)."""
    cdf = np.cumsum(distribution)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1))


def _reference(task: str, labels: list[str], train: Optional[TaskData]) -> tuple[list[str], np.ndarray]:
    """Class list and label distribution the control draws from (the training split's)."""
    if train is not None:
        if train.name != f"{task}:control" or train.label_distribution is None:
            raise ProbesError(f"task '{task}:control': train must be the '{task}:control' TaskData of the "
                              f"training split (got {train.name!r})")
        return list(train.classes), np.asarray(train.label_distribution, dtype=float)
    classes, _, _, _, dist = encode(task, labels, None)
    return classes, dist


def _notes(seed: int) -> list[str]:
    return [f"control task (Hewitt & Liang 2019), seed {seed}: labels are a function of the word type"]


def build_token_control(task: str, sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
                        seed: int = 0) -> TaskData:
    """Control of a token task: one label per word type, drawn from the task's label distribution."""
    rows, labels, notes = word_labels(task, sentences)
    classes, dist = _reference(task, labels, train)
    flat = [w for s in sentences for w in s.words]
    per_type: dict[str, int] = {}
    for w in set(flat[r] for r in rows):
        per_type[w] = draw_label(dist, type_uniform(seed, task, w))
    y = np.array([per_type[flat[r]] for r in rows], dtype=np.int64)
    return TaskData(name=f"{task}:control", kind="token", metric="accuracy", classes=classes, y=y,
                    index=np.array(rows, dtype=np.int64), punct=punct_mask(sentences),
                    sentence_offsets=sentence_offsets(sentences), notes=notes + _notes(seed),
                    label_distribution=dist)


def attachment(seed: int, word_type: str) -> str:
    """The control attachment of a word type: 'self', 'first' or 'last' (1/3 each)."""
    return ATTACH[int(type_uniform(seed, "attach", word_type) * 3)]


def control_heads(sentence: Sentence, seed: int, cache: Optional[dict[str, str]] = None) -> list[int]:
    """0-based control head of every word: itself, the first or the last word, by word type."""
    n = len(sentence.words)
    cache = {} if cache is None else cache
    out = []
    for j, w in enumerate(sentence.words):
        how = cache.get(w)
        if how is None:
            how = cache[w] = attachment(seed, w)
        out.append(j if how == "self" else 0 if how == "first" else n - 1)
    return out


def build_dep_arc_control(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
                          seed: int = 0) -> TaskData:
    """Control of ``dep-arc``: type-determined attachments and type-determined labels."""
    pairs, labels, notes = arcs(sentences)
    classes, dist = _reference("dep-arc", labels, train)
    offsets = sentence_offsets(sentences)
    sent_of = np.searchsorted(offsets, np.arange(offsets[-1]), side="right") - 1
    flat = [w for s in sentences for w in s.words]
    heads_cache: dict[int, list[int]] = {}
    label_of: dict[str, int] = {}
    attach_of: dict[str, str] = {}
    new_pairs, y = [], []
    for _, dep in pairs:
        i = int(sent_of[dep])
        if i not in heads_cache:
            heads_cache[i] = control_heads(sentences[i], seed, attach_of)
        new_pairs.append((int(offsets[i]) + heads_cache[i][dep - int(offsets[i])], dep))
        w = flat[dep]
        if w not in label_of:
            label_of[w] = draw_label(dist, type_uniform(seed, "dep-arc", w))
        y.append(label_of[w])
    return TaskData(name="dep-arc:control", kind="edge", metric="accuracy", classes=classes,
                    y=np.array(y, dtype=np.int64), pairs=np.array(new_pairs, dtype=np.int64).reshape(-1, 2),
                    punct=punct_mask(sentences), sentence_offsets=offsets,
                    notes=notes + _notes(seed), label_distribution=dist)


def item_texts(base: TaskData, sentences: Sequence[Sentence]) -> list[str]:
    """The words of each item of an edge or span task (its spans' forms, joined), its control key."""
    flat = [w for s in sentences for w in s.words]
    if base.kind == "edge":
        return [f"{flat[a]}\x1f{flat[b]}" for a, b in np.asarray(base.pairs)]
    sp = np.asarray(base.spans)
    return ["\x1f".join(" ".join(flat[sp[r, k]:sp[r, k + 1]]) for k in range(0, sp.shape[1], 2))
            for r in range(len(sp))]


def build_item_control(task: str, base: TaskData, sentences: Sequence[Sentence], *,
                       train: Optional[TaskData] = None, seed: int = 0) -> TaskData:
    """Control of an edge or span task: the task's own items, each labelled by a draw keyed on its words.

    ``base`` is the task built on the same sentences. A multi-label task draws each label of each
    item independently with that label's training frequency.
    """
    if train is not None and (train.name != f"{task}:control" or train.label_distribution is None):
        raise ProbesError(f"task '{task}:control': train must be the '{task}:control' TaskData of the training "
                          f"split (got {train.name!r})")
    classes = list(train.classes) if train is not None else list(base.classes)
    dist = np.asarray(train.label_distribution if train is not None else base.label_distribution, dtype=float)
    texts = item_texts(base, sentences)
    common = dict(name=f"{task}:control", kind=base.kind, metric=base.metric, classes=classes, pairs=base.pairs,
                  spans=base.spans, punct=base.punct, sentence_offsets=base.sentence_offsets,
                  notes=[n for n in base.notes if "unseen in training" not in n] + _notes(seed),
                  label_distribution=dist, positive_label=base.positive_label)
    if base.Y is not None:
        Y = np.array([[type_uniform(seed, f"{task}/{c}", t) < dist[k] for k, c in enumerate(classes)]
                      for t in texts], dtype=np.uint8).reshape(len(texts), len(classes))
        return TaskData(Y=Y, **common)
    y = np.array([draw_label(dist, type_uniform(seed, task, t)) for t in texts], dtype=np.int64)
    return TaskData(y=y, **common)
