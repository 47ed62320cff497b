"""Semantic role labelling tasks: ``srl``, ``srl:core`` and ``srl-spans``.

* ``srl``: one item per (predicate, argument head) pair of a dependency-based SRL corpus (Universal
  PropBank, CoNLL-2009), ``pairs[k] = (predicate row, argument head row)``, labelled with the
  argument's role. An edge task, like ``dep-arc``.
* ``srl:core``: the same pairs restricted to the core roles ARG0-ARG5 and ARGA; modifiers
  (ARGM-*), reference (R-*) and continuation (C-*) arguments are left out and counted.
* ``srl-spans``: Tenney et al.'s formulation for span-based SRL (OntoNotes / CoNLL-2012, jiant):
  one item per (predicate span, argument span), a two-span item (``spans`` (n, 4)). On a
  head-marked corpus the argument span is its head word.

Neither task reads the predicate sense: roles are labels of their own. One role inventory serves
every release, so a probe trained on English Universal PropBank scores German zero-shot:
``A0`` -> ``ARG0``, ``AA`` -> ``ARGA``, ``AM-TMP`` -> ``ARGM-TMP``, ``R-A1`` -> ``R-ARG1``,
``C-A1`` -> ``C-ARG1`` (case folded); PropBank's function-tagged core roles such as ``ARG1-DSP`` (direct
speech) are kept as they are. ``V`` and ``C-V`` mark (parts of) the predicate itself and are
not arguments. A label outside this scheme is kept as written (upper case) and listed in the notes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional, Sequence

from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, require, skipped_note, split_token_note, splits_token

CORE = frozenset({"ARG0", "ARG1", "ARG2", "ARG3", "ARG4", "ARG5", "ARGA"})
PREDICATE_PARTS = frozenset({"V", "C-V"})
_BASE = re.compile(r"^(ARG[0-5A](-[A-Z]+)?|ARGM-[A-Z]+)$")  # ARG1-DSP: PropBank's direct-speech argument


def normalise_role(label: str) -> tuple[str, bool]:
    """(role in the ARG0 / ARGM-TMP / R-ARG0 inventory, whether the label followed a known scheme)."""
    u = label.strip().upper()
    prefix = ""
    if u[:2] in ("R-", "C-"):
        prefix, u = u[:2], u[2:]
    if re.fullmatch(r"A[0-5A]", u):
        u = "ARG" + u[1:]
    elif u.startswith("AM-"):
        u = "ARGM-" + u[3:]
    if u == "V" or _BASE.match(u):
        return prefix + u, True
    return prefix + u, False


def _predicates(sentences: Sequence[Sentence], task: str) -> tuple[list[int], list[str]]:
    have = require(sentences, "predicates", task, "semantic roles (Universal PropBank / CoNLL-2009 columns in a "
                                                  "CoNLL-U file, or the SRL columns of CoNLL-2012)")
    return have, skipped_note(sentences, have, "semantic-role annotation")


def role_items(sentences: Sequence[Sentence], task: str, *, core_only: bool = False, spans: bool = False
               ) -> tuple[list[tuple[int, ...]], list[str], list[str]]:
    """(items, roles, notes): (pred row, arg row) pairs, or (p0, p1, a0, a1) span pairs with ``spans``."""
    have, notes = _predicates(sentences, task)
    offsets = sentence_offsets(sentences)
    items, roles = [], []
    unknown: Counter = Counter()
    n_parts = n_left = n_split = n_preds = 0
    for i in have:
        s, off = sentences[i], int(offsets[i])
        for p in s.predicates:
            n_preds += 1
            if not spans and not p.heads:
                raise ProbesError(f"task {task!r} pairs a predicate with its argument's head word, but the arguments "
                                  f"of {s.sent_id} ({s.source}) are phrases (span-based SRL): use srl-spans")
            for arg in p.arguments:
                role, known = normalise_role(arg.role)
                if role in PREDICATE_PARTS:
                    n_parts += 1
                    continue
                if not known:
                    unknown[role] += 1
                if core_only and role not in CORE:
                    n_left += 1
                    continue
                if spans:
                    items.append((off + p.start, off + p.end, off + arg.start, off + arg.end))
                else:
                    items.append((off + p.start, off + arg.start))
                roles.append(role)
                n_split += splits_token(s, arg.start, arg.end)
    if n_parts:
        notes.append(f"{n_parts} V / C-V mark(s) are parts of their predicate, not arguments: left out")
    if n_left:
        notes.append(f"{n_left} non-core argument(s) (ARGM-*, R-*, C-*) left out: core roles only")
    if unknown:
        shown = ", ".join(f"{k} x{v}" for k, v in unknown.most_common(8))
        notes.append(f"{sum(unknown.values())} role label(s) outside the PropBank scheme kept as written: {shown}")
    notes += split_token_note(n_split, len(items), "arguments")
    notes.append(f"{n_preds} predicate(s), {len(items)} argument item(s)")
    if not items:
        raise ProbesError(f"task {task!r}: the predicates of this corpus have no {'core ' if core_only else ''}arguments")
    return items, roles, notes


def build_srl(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None, core_only: bool = False,
              name: str = "srl") -> TaskData:
    """Role of each (predicate, argument head) pair."""
    items, roles, notes = role_items(sentences, name, core_only=core_only)
    return labelled_task(name, "edge", "accuracy", sentences, roles, train, notes, pairs=items)


def build_srl_spans(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
                    name: str = "srl-spans") -> TaskData:
    """Role of each (predicate span, argument span) pair (two-span items)."""
    items, roles, notes = role_items(sentences, name, spans=True)
    return labelled_task(name, "span", "accuracy", sentences, roles, train, notes, spans=items)
