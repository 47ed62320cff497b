"""PropBank columns after a CoNLL-U word line (Universal PropBank, CoNLL-2009) -> ``Predicate``.

Two layouts, both with one argument column per predicate of the sentence (the k-th argument
column belongs to the k-th predicate in word order) and arguments marked on their head words:

* ``up`` (Universal PropBank 1.0, English EWT): the 10 CoNLL-U columns, then the predicate sense
  (``come.03``; ``_`` on other words), then the argument columns (``ARG0``, ``ARGM-TMP``...; ``V``
  marks the predicate itself, ``_`` nothing).
* ``conll09`` (Universal PropBank 1.0, German and the other older releases): 8 columns (ID .. DEPREL,
  no DEPS or MISC), a predicate flag (``Y`` or ``_``), the sense, then the argument columns
  (``A0``, ``AM-TMP``...).

A CoNLL-U file whose word lines have more than 10 columns is read as one of these; the layout is
fixed by the first word line that shows which (a ``Y`` flag in column 9: ``conll09``; a sense in
column 11: ``up``) and a later line that contradicts it is an error. Sentences without predicates
read the same in both layouts. Labels are kept as written; ``probes.tasks.srl`` normalises them.
"""

from __future__ import annotations

import re
from typing import Optional

from probes.readers.report import LineError
from probes.records import Argument, Predicate

LAYOUTS = ("up", "conll09")
_SENSE = re.compile(r"^\S+\.\S+$")
BLANK = ("_", "")


def detect_layout(cols: list[str]) -> Optional[str]:
    """The layout a word line with more than 10 columns shows, or None when it shows neither.

    ``conll09``: the predicate flag ``Y`` in column 9; ``up``: a sense (``lemma.NN``) in column 11.
    """
    if cols[8] == "Y":
        return "conll09"
    if _SENSE.match(cols[10]):
        return "up"
    return None


def split_columns(cols: list[str], layout: str, line: int) -> tuple[list[str], Optional[str], list[str]]:
    """(the 10 CoNLL-U columns, sense or None for a non-predicate, argument columns) of a word line."""
    if layout == "up":
        sense = cols[10]
        return cols[:10], (None if sense in BLANK else sense), cols[11:]
    flag, sense = cols[8], cols[9]
    if flag not in ("Y", "_"):
        raise LineError(f"column 9 (FILLPRED) is {flag!r}; the CoNLL-2009 layout expects Y or _", line)
    return cols[:8] + ["_", "_"], (sense if flag == "Y" else None), cols[10:]


def check_sense(sense: str, layout: str, line: int) -> None:
    """A predicate sense must look like ``lemma.NN`` (``_`` is allowed where a flag marks the predicate)."""
    if layout == "conll09" and sense in BLANK:
        return
    if not _SENSE.match(sense):
        col = 11 if layout == "up" else 10
        raise LineError(f"column {col} holds {sense!r}, which is not a predicate sense like come.03", line)


def frames(senses: list[Optional[str]], args: list[list[str]], lines: list[int]) -> list[Predicate]:
    """Predicates of one sentence from each word's sense (None = not a predicate) and argument columns."""
    preds = [j for j, s in enumerate(senses) if s is not None]
    for j, cols in enumerate(args):
        if len(cols) > len(preds) and all(c == "" for c in cols[len(preds):]):
            cols = args[j] = cols[:len(preds)]  # empty trailing cells (a sentence without predicates)
        if len(cols) != len(preds):
            raise LineError(f"{len(cols)} argument column(s) but the sentence has {len(preds)} predicate(s) "
                            "(one argument column per predicate)", lines[j])
    out = []
    for k, p in enumerate(preds):
        arguments = []
        for j, cols in enumerate(args):
            role = cols[k].strip()
            if role in BLANK or (role == "V" and j == p):
                continue
            if " " in role:
                raise LineError(f"argument label {role!r} contains a space", lines[j])
            arguments.append(Argument(j, j + 1, role))
        sense = senses[p]
        out.append(Predicate(p, p + 1, "_" if sense in BLANK else sense, arguments, heads=True))
    return out
