"""Edge-probing tasks (Tenney et al. 2019): dependency arc labels on (head, dependent) pairs, entity spans.

``dep-arc``: one item per dependency arc, ``pairs[k] = (head row, dependent row)``, labelled with
the dependent's DEPREL. The root has no head word, so it is left out (a self-pair would let the
probe read "root" off the identical spans, which says nothing about arcs).
``ner``: one item per entity span, ``spans[k] = [start, end)`` global rows, labelled with its type;
sentences without entity annotation are left out (and counted in the notes).
"""

from __future__ import annotations

from typing import Optional, Sequence


from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, require, skipped_note


def arcs(sentences: Sequence[Sentence]) -> tuple[list[tuple[int, int]], list[str], list[str]]:
    """(pairs of global (head, dependent) rows, DEPRELs, notes) over every non-root word."""
    offsets = sentence_offsets(sentences)
    have = [i for i in require(sentences, "heads", "dep-arc") if sentences[i].deprels is not None]
    pairs: list[tuple[int, int]] = []
    labels: list[str] = []
    for i in have:
        s = sentences[i]
        for j, (h, rel) in enumerate(zip(s.heads, s.deprels)):
            if h > 0:
                pairs.append((int(offsets[i] + h - 1), int(offsets[i] + j)))
                labels.append(rel)
    return pairs, labels, skipped_note(sentences, have, "a dependency tree")


def build_dep_arc(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
                  name: str = "dep-arc") -> TaskData:
    """Dependency arc labelling: (head, dependent) pairs -> DEPREL."""
    pairs, labels, notes = arcs(sentences)
    if not pairs:
        raise ProbesError(f"task {name!r}: the corpus has no dependency arcs (one-word sentences only?)")
    return labelled_task(name, "edge", "accuracy", sentences, labels, train, notes, pairs=pairs)


def entity_spans(sentences: Sequence[Sentence]) -> tuple[list[tuple[int, int]], list[str], list[str], list[int]]:
    """(global [start, end) spans, labels, notes, sentence of each span) of the annotated entities."""
    offsets = sentence_offsets(sentences)
    have = [i for i, s in enumerate(sentences) if s.entities is not None]
    if not have:
        raise ProbesError("task 'ner' needs named-entity annotation (spaCy docs with entities, or BIO tags "
                          "in a CoNLL-U MISC key NE= / NER=); this corpus has none")
    spans, labels, owner = [], [], []
    for i in have:
        for e in sentences[i].entities:
            spans.append((int(offsets[i] + e.start), int(offsets[i] + e.end)))
            labels.append(e.label)
            owner.append(i)
    return spans, labels, skipped_note(sentences, have, "entity annotation"), owner


def build_ner(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, name: str = "ner") -> TaskData:
    """Named-entity typing of gold entity spans."""
    spans, labels, notes, _ = entity_spans(sentences)
    if not spans:
        raise ProbesError(f"task {name!r}: the entity annotation of this corpus holds no entity")
    return labelled_task(name, "span", "macro_f1", sentences, labels, train, notes, spans=spans)
