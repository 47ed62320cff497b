"""Tasks whose labels come with the data file: ``edges:<name>`` (jiant edge-probing JSON) and
``senteval:<name>`` (SentEval probing files).

* ``edges:<name>``: one item per target of the file: a span task over ``span1`` (constituents,
  entities...), or over ``span1`` and ``span2`` (SRL, coreference, relations, SPR: two-span items,
  ``spans`` (n, 4)). Labels are the targets' labels; a file with list labels (SPR) is a
  multi-label task (``Y`` (n, C) of 0/1, scored by micro-F1 over every (item, label) decision, as
  Tenney et al.). Targets whose edge falls inside a multiword token are counted.
* ``senteval:<name>``: one item per sentence, its label from the file (SentLen, WC, TreeDepth,
  TopConst, BShift, Tense, SubjNum, ObjNum, SOMO, CoordInv); the sentence probe reads the mean of
  its word vectors, like the built-in sentence tasks.

``<name>`` is free: it names the task in the results. ``task_name_from_file`` derives it from the
training file (``past_present.txt`` -> ``senteval:past_present``; ``spr1/train.json`` and
``spr1.train.json`` -> ``edges:spr1``) when a config names the task just ``edges`` or ``senteval``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, punct_mask, skipped_note, split_token_note, splits_token

PREFIXES = ("edges", "senteval")
_SPLIT_WORDS = re.compile(r"(^|[._-])(train|training|dev|development|val|valid|validation|test|tr|va|te)"
                          r"([._-]\d+(\.\d+)*)?(?=$|[._-])", re.I)


def task_name_from_file(prefix: str, path: str) -> str:
    """``edges:<name>`` / ``senteval:<name>`` with the name taken from a data file's name."""
    p = Path(path)
    stem = p.name
    for suffix in (".jsonl", ".json", ".txt"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    name = _SPLIT_WORDS.sub("", stem).strip("._-")
    if not name:
        name = p.parent.name
    name = re.sub(r"[^\w.\-]+", "_", name)
    if not name:
        raise ProbesError(f"cannot derive a task name from {path}; name the task {prefix}:<name>")
    return f"{prefix}:{name}"


def _targets(sentences: Sequence[Sentence], task: str):
    have = [i for i, s in enumerate(sentences) if s.targets is not None]
    if not have:
        raise ProbesError(f"task {task!r} needs a jiant edge-probing JSON file (records with targets); this corpus "
                          f"has none (first sentence: {sentences[0].source or sentences[0].sent_id})")
    return have


def build_edges(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, name: str = "edges") -> TaskData:
    """The targets of a jiant file: one- or two-span items, single- or multi-label."""
    have = _targets(sentences, name)
    offsets = sentence_offsets(sentences)
    items, labels = [], []
    n_split = 0
    width = None
    for i in have:
        s, off = sentences[i], int(offsets[i])
        for t in s.targets:
            item = (off + t.span1[0], off + t.span1[1]) + (() if t.span2 is None else (off + t.span2[0], off + t.span2[1]))
            if width is None:
                width = len(item)
            elif len(item) != width:
                raise ProbesError(f"task {name!r}: {s.source} mixes one- and two-span targets")
            items.append(item)
            labels.append(t.label)
            n_split += splits_token(s, *t.span1) or (t.span2 is not None and splits_token(s, *t.span2))
    if not items:
        raise ProbesError(f"task {name!r}: the file has no targets")
    notes = skipped_note(sentences, have, "targets") + split_token_note(n_split, len(items), "targets")
    multi = [isinstance(lab, tuple) for lab in labels]
    if train is not None and train.Y is not None:
        multi = [True]
    if not any(multi):
        return labelled_task(name, "span", "accuracy", sentences, labels, train, notes, spans=items)
    return multilabel_task(name, sentences, [lab if isinstance(lab, tuple) else (lab,) for lab in labels], train,
                           notes, np.asarray(items, dtype=np.int64))


def multilabel_task(name: str, sentences: Sequence[Sentence], label_sets: list[tuple[str, ...]],
                    train: Optional[TaskData], notes: list[str], spans: np.ndarray) -> TaskData:
    """A multi-label span task: Y (n, C) 0/1 over the training label inventory."""
    if train is None:
        classes = sorted({lab for labs in label_sets for lab in labs})
    else:
        if train.name != name or train.Y is None:
            raise ProbesError(f"task {name!r}: the training TaskData is not this multi-label task")
        classes = list(train.classes)
    ids = {c: k for k, c in enumerate(classes)}
    Y = np.zeros((len(label_sets), len(classes)), dtype=np.uint8)
    unseen = 0
    for r, labs in enumerate(label_sets):
        for lab in labs:
            if lab in ids:
                Y[r, ids[lab]] = 1
            else:
                unseen += 1
    if unseen:
        notes = notes + [f"{unseen} label(s) unseen in training left out of the multi-label targets"]
    dist = Y.mean(0) if train is None else train.label_distribution
    return TaskData(name=name, kind="span", metric="micro_f1", classes=classes, Y=Y, spans=spans,
                    punct=punct_mask(sentences), sentence_offsets=sentence_offsets(sentences), unseen=unseen,
                    label_distribution=dist, notes=notes + [f"multi-label: {len(classes)} labels, "
                                                            f"{Y.sum() / max(1, len(Y)):.2f} per item on average"])


def build_senteval(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, name: str = "senteval") -> TaskData:
    """One label per sentence, from a SentEval probing file."""
    idx = [i for i, s in enumerate(sentences) if s.label is not None]
    if not idx:
        raise ProbesError(f"task {name!r} needs a SentEval probing file ('tr|va|te<TAB>label<TAB>sentence'); "
                          f"this corpus has no sentence labels (first: {sentences[0].source or sentences[0].sent_id})")
    labels = [sentences[i].label for i in idx]
    return labelled_task(name, "sentence", "accuracy", sentences, labels, train, skipped_note(sentences, idx, "a label"),
                         index=idx)
