"""``consts``: the label of each constituent span (Tenney et al. 2019's non-terminal labelling).

Items are the non-terminal nodes of each sentence's tree (``Sentence.constituents``: PTB trees
beside a CoNLL-U file, a tree file on its own, or CoNLL-2012 parse bits), one span [start, end) per
distinct span, labelled with its non-terminal; pre-terminals (POS tags) are not items. Labels lose
function tags and indices as jiant does (``NP-SBJ-1`` -> ``NP``, ``PP-LOC=2`` -> ``PP``). The root
wrapper (``ROOT``, ``TOP`` or an empty label) always covers the whole sentence and is left out.

A unary chain (``(S (VP ...))`` over the same words) gives one span several labels. A single-label
probe cannot be right on both, so the span is one item: option ``unary = "top"`` (default) keeps
the outermost label, ``"bottom"`` the innermost; the dropped inner nodes are counted in the notes.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, require, skipped_note, split_token_note, splits_token

ROOT_LABELS = frozenset({"ROOT", "TOP", ""})
UNARY = ("top", "bottom")


def constituent_label(raw: str) -> str:
    """A non-terminal without function tags or indices: ``NP-SBJ-1`` -> ``NP``, ``WHNP=2`` -> ``WHNP``."""
    if raw.startswith("-") and raw.endswith("-"):  # -NONE-, -LRB- as node labels
        return raw
    return re.split(r"[-=|]", raw, maxsplit=1)[0] or raw


def constituent_items(sentences: Sequence[Sentence], unary: str = "top"
                      ) -> tuple[list[tuple[int, int]], list[str], list[str]]:
    """(global [start, end) spans, labels, notes) of every non-root constituent, one item per span."""
    if unary not in UNARY:
        raise ProbesError(f"task 'consts': option unary must be one of {', '.join(UNARY)}, not {unary!r}")
    have = require(sentences, "constituents", "consts")
    offsets = sentence_offsets(sentences)
    spans, labels = [], []
    n_root = n_unary = n_split = 0
    for i in have:
        s = sentences[i]
        nodes = s.constituents
        if nodes and nodes[0].start == 0 and nodes[0].end == len(s.words) and nodes[0].label in ROOT_LABELS:
            nodes = nodes[1:]
            n_root += 1
        chosen: dict[tuple[int, int], str] = {}
        for node in nodes:  # pre-order: within a unary chain the outermost node comes first
            key = (node.start, node.end)
            if key in chosen:
                n_unary += 1
                if unary == "top":
                    continue
            chosen[key] = constituent_label(node.label)
        for (a, b), lab in chosen.items():
            spans.append((int(offsets[i] + a), int(offsets[i] + b)))
            labels.append(lab)
            n_split += splits_token(s, a, b)
    notes = skipped_note(sentences, have, "a constituent tree")
    if n_root:
        notes.append(f"{n_root} root wrapper node(s) (ROOT/TOP) left out: they always span the whole sentence")
    if n_unary:
        keep = "outermost" if unary == "top" else "innermost"
        notes.append(f"{n_unary} node(s) of unary chains share their span with another node: one item per span, "
                     f"labelled with the {keep} node (option unary)")
    notes += split_token_note(n_split, len(spans), "constituents")
    return spans, labels, notes


def build_consts(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, unary: str = "top",
                 name: str = "consts") -> TaskData:
    """Constituent labelling: each non-terminal span -> its label."""
    spans, labels, notes = constituent_items(sentences, unary)
    if not spans:
        raise ProbesError(f"task {name!r}: the trees of this corpus have no constituent below the root")
    return labelled_task(name, "span", "accuracy", sentences, labels, train, notes, spans=spans)
