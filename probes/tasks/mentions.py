"""Tasks on entity mentions (CorefUD / GUM ``Entity=``, OntoNotes coreference): ``entities``,
``infstat`` and ``coref``.

* ``entities``: each mention span -> its entity type (GUM: person, place, organization, object,
  event, time, substance, animal, plant, abstract, quantity). Scored by accuracy, which is the
  micro-F1 of Tenney et al. for one label per item.
* ``infstat``: each mention span -> its information status; GUM's subtypes after ``:``
  (``giv:act``, ``acc:inf``) are folded into their type (``giv``, ``acc``) unless option
  ``subtypes = true``.
* ``coref``: do two mentions corefer? One item per mention pair (two spans), label ``1``
  (same entity) or ``0``; scored by the F1 of the positive class, as the paper. Candidate pairs
  join a mention to an earlier one of the same document at most ``window`` sentences back. The
  default, ``window = 0`` with ``negatives = "all"``, is Tenney et al.'s setting (jiant's OntoNotes
  data): every pair of mentions of one sentence, whose words the model read in one pass. With
  ``window > 0`` the pairs reach across sentences, which the extractor encodes one at a time, so
  such a pair tests what the two mentions' vectors share, not the model resolving them in context.
  Every coreferent candidate pair is a positive; ``negatives = k`` draws k non-coreferent
  candidates per positive for its later mention, reproducibly (a hash of seed, document and the
  two mentions, so the same data and seed give the same pairs).

Discontinuous mentions are left out of these span tasks (their words are not one span) and
counted; mentions without the annotated field (no ``etype``) are left out and counted; spans
whose edge falls inside a multiword token are kept at their words and counted.
"""

from __future__ import annotations

from typing import Optional, Sequence

from probes.errors import ProbesError
from probes.records import Mention, Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.control import type_uniform
from probes.tasks.labels import labelled_task, require, skipped_note, split_token_note, splits_token

POSITIVE, NEGATIVE = "1", "0"


def _mentions(sentences: Sequence[Sentence], task: str) -> tuple[list[int], list[str]]:
    have = require(sentences, "mentions", task, "entity mentions (CorefUD Entity= in CoNLL-U MISC, or the "
                                                "coreference column of CoNLL-2012)")
    return have, skipped_note(sentences, have, "mention annotation")


def mention_items(sentences: Sequence[Sentence], task: str, field: str, fold_subtypes: bool = True
                  ) -> tuple[list[tuple[int, int]], list[str], list[str]]:
    """(global spans, labels, notes) of every contiguous mention that carries ``field`` (etype, infstat)."""
    have, notes = _mentions(sentences, task)
    offsets = sentence_offsets(sentences)
    spans, labels = [], []
    n_disc = n_blank = n_split = 0
    for i in have:
        s = sentences[i]
        for m in s.mentions:
            if m.discontinuous:
                n_disc += 1
                continue
            value = getattr(m, field)
            if not value or value == "_":
                n_blank += 1
                continue
            if fold_subtypes:
                value = value.split(":", 1)[0]
            spans.append((int(offsets[i] + m.start), int(offsets[i] + m.end)))
            labels.append(value)
            n_split += splits_token(s, m.start, m.end)
    if n_disc:
        notes.append(f"{n_disc} discontinuous mention(s) left out (their words are not one span)")
    if n_blank:
        notes.append(f"{n_blank} mention(s) without {field} left out")
    notes += split_token_note(n_split, len(spans), "mentions")
    if not spans:
        what = {"etype": "an entity type (etype)", "infstat": "an information status (infstat)"}[field]
        hint = ("; the CoNLL-2012 format has none: use ner for its named entities" if field == "etype"
                else "; the corpus's global.Entity fields do not include infstat")
        raise ProbesError(f"task {task!r}: no mention of this corpus has {what}{hint}")
    return spans, labels, notes


def build_entities(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, name: str = "entities") -> TaskData:
    """Entity type of each mention span."""
    spans, labels, notes = mention_items(sentences, name, "etype", fold_subtypes=False)
    return labelled_task(name, "span", "accuracy", sentences, labels, train, notes, spans=spans)


def build_infstat(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, subtypes: bool = False,
                  name: str = "infstat") -> TaskData:
    """Information status of each mention span (new / giv / acc ...)."""
    spans, labels, notes = mention_items(sentences, name, "infstat", fold_subtypes=not subtypes)
    return labelled_task(name, "span", "accuracy", sentences, labels, train, notes, spans=spans)


def _parse_negatives(negatives) -> Optional[int]:
    if negatives == "all":
        return None
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 0:
        raise ProbesError(f"task 'coref': option negatives must be a non-negative integer or \"all\", not {negatives!r}")
    return negatives


def coref_pairs(sentences: Sequence[Sentence], *, window: int = 0, negatives="all", seed: int = 0
                ) -> tuple[list[tuple[int, int, int, int]], list[str], list[str]]:
    """(global span pairs (a0, a1, b0, b1) with the earlier mention first, labels '1'/'0', notes)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ProbesError(f"task 'coref': option window must be a non-negative number of sentences, not {window!r}")
    k_neg = _parse_negatives(negatives)
    have, notes = _mentions(sentences, "coref")
    offsets = sentence_offsets(sentences)
    n_disc = n_split = n_kept = 0
    docs: dict[str, list[tuple[int, Mention]]] = {}  # doc -> mentions in document order
    doc_order: list[str] = []
    last_doc, run = None, 0
    for i in have:
        s = sentences[i]
        # A document is a run of consecutive sentences with the same doc_id (a corpus may repeat ids).
        if s.doc_id != last_doc:
            run += 1
            last_doc = s.doc_id
        key = f"{run}\x1f{s.doc_id}"
        if key not in docs:
            docs[key] = []
            doc_order.append(key)
        for m in s.mentions:
            if m.discontinuous:
                n_disc += 1
                continue
            docs[key].append((i, m))
            n_kept += 1
            n_split += splits_token(s, m.start, m.end)
    items: list[tuple[int, int, int, int]] = []
    labels: list[str] = []
    n_pos = n_neg = n_short = 0
    for key in doc_order:
        ms = docs[key]
        for b, (ib, mb) in enumerate(ms):
            pos, neg = [], []
            for a in range(b - 1, -1, -1):
                ia, ma = ms[a]
                if ib - ia > window:
                    break
                (pos if ma.entity == mb.entity else neg).append(a)
            glob = lambda i, m: (int(offsets[i] + m.start), int(offsets[i] + m.end))  # noqa: E731
            for a in reversed(pos):
                items.append(glob(*ms[a]) + glob(ib, mb))
                labels.append(POSITIVE)
            n_pos += len(pos)
            if k_neg is None:
                drawn = list(reversed(neg))
            else:
                want = k_neg * len(pos)
                if want > len(neg):
                    n_short += want - len(neg)
                # Reproducible draw without replacement: order candidates by a hash keyed on the pair.
                drawn = sorted(neg, key=lambda a: type_uniform(seed, "coref", f"{key}\x1f{b}\x1f{a}"))[:want]
                drawn.sort()
            for a in drawn:
                items.append(glob(*ms[a]) + glob(ib, mb))
                labels.append(NEGATIVE)
            n_neg += len(drawn)
    notes += [f"coref pairs within {window} sentence(s) of the same document: {n_pos} coreferent, {n_neg} not "
              + ("(every candidate)" if k_neg is None else f"(drawn, {k_neg} per coreferent pair, seed {seed})")]
    if n_short:
        notes.append(f"{n_short} negative draw(s) short: fewer non-coreferent candidates than asked in the window")
    if n_disc:
        notes.append(f"{n_disc} discontinuous mention(s) left out (their words are not one span)")
    notes += split_token_note(n_split, n_kept, "mentions")
    return items, labels, notes


def build_coref(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, window: int = 0,
                negatives="all", seed: int = 0, name: str = "coref") -> TaskData:
    """Coreference of mention pairs: 1 = same entity, 0 = different entities."""
    items, labels, notes = coref_pairs(sentences, window=window, negatives=negatives, seed=seed)
    if not items:
        raise ProbesError(f"task {name!r}: no mention pair within {window} sentence(s); raise option window")
    if train is None and len(set(labels)) < 2:
        raise ProbesError(f"task {name!r}: the training pairs are all {'coreferent' if labels[0] == POSITIVE else 'non-coreferent'}"
                          "; both classes are needed")
    data = labelled_task(name, "span", "positive_f1", sentences, labels, train, notes, spans=items)
    data.positive_label = POSITIVE
    return data
