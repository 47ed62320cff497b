"""Token-label tasks: ``upos``, ``xpos``, ``deprel`` and ``feats:<Feature>`` on every word."""

from __future__ import annotations

from typing import Callable, Optional, Sequence


from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, require, skipped_note

NO_FEATURE = "none"


def word_labels(name: str, sentences: Sequence[Sentence]
                ) -> tuple[list[int], list[str], list[str]]:
    """(global rows, labels, notes) of a token task: which words carry which label."""
    offsets = sentence_offsets(sentences)
    getter, attr, what = _getter(name)
    have = require(sentences, attr, name)
    rows: list[int] = []
    labels: list[str] = []
    blank = 0
    for i in have:
        for j, lab in enumerate(getter(sentences[i])):
            if lab == "_" or lab == "":
                blank += 1  # '_' is CoNLL-U's "not annotated", not a class
                continue
            rows.append(int(offsets[i] + j))
            labels.append(lab)
    notes = skipped_note(sentences, have, what)
    if blank:
        notes.append(f"{blank} word(s) with an unannotated ('_') {what} left out")
    if not labels:
        raise ProbesError(f"task {name!r}: no word of this corpus has a {what} label")
    return rows, labels, notes


def _getter(name: str) -> tuple[Callable[[Sentence], list[str]], str, str]:
    if name == "upos":
        return (lambda s: s.upos), "upos", "UPOS"
    if name == "xpos":
        return (lambda s: s.xpos), "xpos", "XPOS"
    if name == "deprel":
        return (lambda s: s.deprels), "deprels", "DEPREL"
    if name == "udeprel":
        # Subtypes are language-specific (en obl:unmarked vs de obl:tmod): cross-lingual probes
        # compare the universal relation before the colon.
        return (lambda s: [r.split(":")[0] if r not in (None, "_") else r for r in s.deprels]
                if s.deprels is not None else None), "deprels", "DEPREL"
    if name.startswith("feats:") and len(name) > 6:
        feat = name[6:]
        return (lambda s: [f.get(feat, NO_FEATURE) for f in s.feats]), "feats", "FEATS"
    raise ProbesError(f"unknown token task {name!r}")


def _features_hint(feature: str, sentences: Sequence[Sentence]) -> str:
    """' (did you mean Number?); its features: ...' from the FEATS keys the corpus does have."""
    from difflib import get_close_matches

    have = sorted({k for s in sentences if s.feats for f in s.feats if f for k in f})
    if not have:
        return " (no word of it has any FEATS)"
    close = get_close_matches(feature, have, n=1, cutoff=0.6) or [k for k in have if k.lower() == feature.lower()]
    shown = ", ".join(have[:30]) + (f" and {len(have) - 30} more" if len(have) > 30 else "")
    return (f" (did you mean feats:{close[0]}?)" if close else "") + f"; its features: {shown}"


def build_token_task(name: str, sentences: Sequence[Sentence], *, train: Optional[TaskData] = None
                     ) -> TaskData:
    """A token task: one class per labelled word (global rows in ``index``)."""
    rows, labels, notes = word_labels(name, sentences)
    if name.startswith("feats:") and train is None and all(lab == NO_FEATURE for lab in labels):
        raise ProbesError(f"task {name!r}: feature {name[6:]!r} does not occur in this corpus"
                          + _features_hint(name[6:], sentences))
    return labelled_task(name, "token", "accuracy", sentences, labels, train, notes, index=rows)
