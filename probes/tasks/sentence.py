"""Sentence tasks after Conneau et al. 2018 (SentEval probing), derived from UD trees.

* ``sentlen``: number of words in SentEval's bins 5-8, 9-12, 13-16, 17-20, 21-25, 26-28 (SentEval
  kept only 5..28-word sentences); UD sentences outside that range get two extra bins, ``1-4`` and
  ``29+``, instead of being dropped.
* ``treedepth``: the deepest word's depth in the dependency tree (root = 0; SentEval used
  constituency trees, so values are smaller than theirs); depths of 12 and more share ``12+``.
* ``tense``: the tense of the main clause. A finite ``aux``/``cop`` dependent of the root carries it
  when there is one ("has eaten" -> Pres, "was happy" -> Past); else the root's own ``Tense``.
  Sentences with neither (no Tense feature, e.g. "will go" in English UD, or a language without
  the feature) are left out and counted in the notes.
* ``subjnum`` / ``objnum``: ``Number`` of the root's first ``nsubj`` (any subtype, e.g.
  ``nsubj:pass``) / ``obj`` dependent; sentences without one (or without Number) are left out.
* ``bshift``: bigram shift. ``make_bigram_shift`` swaps two adjacent words in a seeded half of the
  sentences (label ``I``, the others ``O``) and writes the label into a ``# bshift = I|O`` comment,
  so the modified corpus carries its own labels; ``build_task("bshift", modified)`` reads them.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Callable, Optional, Sequence


from probes.errors import ProbesError
from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import labelled_task, punct_mask
from probes.tasks.trees import tree_depths

SENTEVAL_LENGTH_BINS = [(5, 8), (9, 12), (13, 16), (17, 20), (21, 25), (26, 28)]
MAX_TREE_DEPTH = 12
BSHIFT_COMMENT = "bshift"


def length_bin(n: int) -> str:
    """SentEval's SentLen bin of an ``n``-word sentence (plus ``1-4`` and ``29+``)."""
    if n < 5:
        return "1-4"
    for lo, hi in SENTEVAL_LENGTH_BINS:
        if lo <= n <= hi:
            return f"{lo}-{hi}"
    return "29+"


def _children(s: Sentence, head: int) -> list[int]:
    return [j for j, h in enumerate(s.heads) if h == head]


def _root(s: Sentence) -> int:
    return s.heads.index(0)


def label_sentlen(s: Sentence) -> Optional[str]:
    return length_bin(len(s.words))


def label_treedepth(s: Sentence) -> Optional[str]:
    if s.heads is None:
        return None
    d = int(tree_depths(s.heads).max())
    return f"{MAX_TREE_DEPTH}+" if d >= MAX_TREE_DEPTH else str(d)


def label_tense(s: Sentence) -> Optional[str]:
    if s.heads is None or s.feats is None or s.deprels is None:
        return None
    r = _root(s)
    for j in _children(s, r + 1):
        base = s.deprels[j].split(":")[0]
        f = s.feats[j]
        if base in ("aux", "cop") and "Tense" in f and f.get("VerbForm", "Fin") == "Fin":
            return f["Tense"]
    return s.feats[r].get("Tense")


def _dependent_number(s: Sentence, rel: str) -> Optional[str]:
    if s.heads is None or s.feats is None or s.deprels is None:
        return None
    for j in _children(s, _root(s) + 1):
        if s.deprels[j].split(":")[0] == rel:
            return s.feats[j].get("Number")
    return None


def label_subjnum(s: Sentence) -> Optional[str]:
    return _dependent_number(s, "nsubj")


def label_objnum(s: Sentence) -> Optional[str]:
    return _dependent_number(s, "obj")


def _bshift_value(comment: str) -> Optional[str]:
    key, eq, val = comment.partition("=")
    return val.strip() if eq and key.strip() == BSHIFT_COMMENT else None


def label_bshift(s: Sentence) -> Optional[str]:
    return next((v for v in map(_bshift_value, s.comments) if v is not None), None)


LABELLERS: dict[str, Callable[[Sentence], Optional[str]]] = {
    "sentlen": label_sentlen, "treedepth": label_treedepth, "tense": label_tense,
    "subjnum": label_subjnum, "objnum": label_objnum, "bshift": label_bshift,
}
_WHY = {"treedepth": "a dependency tree", "tense": "a main-clause Tense feature",
        "subjnum": "a root nsubj with Number", "objnum": "a root obj with Number",
        "bshift": "a '# bshift = I|O' comment (make them with make_bigram_shift)"}


def build_sentence_task(name: str, sentences: Sequence[Sentence], *, train: Optional[TaskData] = None
                        ) -> TaskData:
    """A sentence task: one class per labelled sentence (``index`` = sentence numbers)."""
    labeller = LABELLERS[name]
    idx, labels = [], []
    for i, s in enumerate(sentences):
        lab = labeller(s)
        if lab is not None:
            idx.append(i)
            labels.append(lab)
    if not labels:
        hint = " Call probes.tasks.sentence.make_bigram_shift(sentences, seed) first." if name == "bshift" else ""
        raise ProbesError(f"task {name!r}: no sentence of this corpus has {_WHY.get(name, 'a label')}.{hint}")
    notes = []
    if len(labels) < len(sentences):
        notes.append(f"{len(sentences) - len(labels)} of {len(sentences)} sentence(s) without "
                     f"{_WHY.get(name, 'a label')} left out")
    return labelled_task(name, "sentence", "accuracy", sentences, labels, train, notes, index=idx)


def _swap(s: Sentence, j: int) -> Sentence:
    """A copy of ``s`` with words j and j+1 exchanged (annotations and heads follow the words)."""
    n = len(s.words)
    perm = list(range(n))
    perm[j], perm[j + 1] = j + 1, j
    new_pos = {old: new for new, old in enumerate(perm)}  # old index -> new index

    def per_word(xs):
        return None if xs is None else [xs[k] for k in perm]

    tokens = list(s.model_tokens())
    wt = s.token_of_word()
    tokens[wt[j]], tokens[wt[j + 1]] = tokens[wt[j + 1]], tokens[wt[j]]
    heads = None
    if s.heads is not None:
        heads = [0 if s.heads[k] == 0 else new_pos[s.heads[k] - 1] + 1 for k in perm]
    ents = None if s.entities is None else list(s.entities)
    # Span annotations (mentions, predicates, trees, targets) would need re-indexing: not carried.
    return Sentence(words=per_word(s.words), tokens=tokens, word_token=list(wt),
                    space_after=None if s.space_after is None else list(s.space_after),
                    sent_id=s.sent_id, text=None, lang=s.lang, source=s.source,
                    lemmas=per_word(s.lemmas), upos=per_word(s.upos), xpos=per_word(s.xpos),
                    feats=per_word(s.feats), heads=heads, deprels=per_word(s.deprels),
                    misc=per_word(s.misc), entities=ents, comments=list(s.comments), doc_id=s.doc_id)


def make_bigram_shift(sentences: Sequence[Sentence], seed: int = 0) -> tuple[list[Sentence], list[str]]:
    """Seeded bigram shift: half the sentences get two adjacent words swapped (label I), the rest O.

    Only pairs of adjacent non-punctuation words that are each their own surface token and differ
    in form can be swapped; a sentence without such a pair stays unchanged and is labelled O but
    is never picked for swapping (the I half is drawn among the swappable sentences, so I is at
    most half of the data; the share is written in the returned labels). Each output sentence
    carries its label in a ``# bshift = I|O`` comment.
    """
    rng = random.Random(f"bshift:{seed}")
    punct = punct_mask(sentences)
    offsets = sentence_offsets(sentences)
    candidates: list[list[int]] = []
    for i, s in enumerate(sentences):
        wt = s.token_of_word()
        ok = []
        for j in range(len(s.words) - 1):
            single = (wt.count(wt[j]) == 1 and wt.count(wt[j + 1]) == 1)
            if (single and not punct[offsets[i] + j] and not punct[offsets[i] + j + 1]
                    and s.words[j] != s.words[j + 1]):
                ok.append(j)
        candidates.append(ok)
    swappable = [i for i, ok in enumerate(candidates) if ok]
    n_shift = min(len(sentences) // 2, len(swappable))
    chosen = set(rng.sample(swappable, n_shift))
    out, labels = [], []
    for i, s in enumerate(sentences):
        if i in chosen:
            new = _swap(s, rng.choice(candidates[i]))
            lab = "I"
        else:
            new = dataclasses.replace(s, comments=list(s.comments))
            lab = "O"
        new.comments = [c for c in new.comments if _bshift_value(c) is None]
        new.comments.append(f"{BSHIFT_COMMENT} = {lab}")
        out.append(new)
        labels.append(lab)
    return out, labels
