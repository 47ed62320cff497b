"""Plain records that flow between the four stages: extract -> probe -> analyze -> report.

Conventions every stage relies on (keep them in one place):

* A corpus is a ``list[Sentence]``. ``Sentence.words`` are the *syntactic* words (UD word lines):
  the units that get one vector each and carry the labels. ``Sentence.tokens`` are the surface
  tokens the model reads; for plain text they equal the words. A UD multiword token such as
  English ``don't`` or Spanish ``del`` is one surface token covering several words (``word_token``
  maps word -> token). Where the words spell the token (``do`` + ``n't``) each word gets the
  subwords over its own characters; where they do not (``de`` + ``el``) both receive the vector
  pooled over the token, and the extraction summary counts them (``probes.extract.alignment``).
* Word vectors in a cache are stored in corpus order: sentence 0's words, then sentence 1's, ...
  ``sentence_offsets`` (length n_sentences + 1) gives each sentence's slice.
* Layers are numbered from 0 = the embedding output (the non-contextual layer) to L = the top.
* ``heads`` are 1-based as in CoNLL-U, 0 = root.
* Every span (``Span``, ``Mention``, ``Argument``, ``Predicate``, ``Target``) is a half-open range
  [start, end) of 0-based *word* indices within its sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional, Sequence

import numpy as np


@dataclass
class Span:
    """A labelled span of words [start, end) within one sentence (named entities, ...)."""

    start: int
    end: int
    label: str


@dataclass
class Mention:
    """An entity mention: words [start, end) of one sentence, in coreference cluster ``entity``.

    CorefUD / GUM (``Entity=`` in MISC) and OntoNotes coreference columns. ``entity`` is the
    cluster id, unique within the document (``Sentence.doc_id``); ``etype`` and ``infstat`` are ''
    where the corpus does not annotate them. A discontinuous mention has ``parts`` (its [start, end)
    pieces, in order) and spans from its first piece's start to its last piece's end.
    """

    start: int
    end: int
    entity: str
    etype: str = ""
    infstat: str = ""
    parts: Optional[list[tuple[int, int]]] = None
    attrs: dict[str, str] = field(default_factory=dict)  # the other global.Entity fields, by name

    @property
    def discontinuous(self) -> bool:
        """True when the mention has gaps (CorefUD ``eid[1/2]`` pieces)."""
        return self.parts is not None and len(self.parts) > 1


@dataclass
class Argument:
    """A semantic-role argument: words [start, end) and its label as written in the corpus."""

    start: int
    end: int
    role: str


@dataclass
class Predicate:
    """A predicate (words [start, end), usually one), its sense and its arguments.

    ``heads``: the arguments are marked on their head words (dependency-based SRL: Universal
    PropBank, CoNLL-2009), so each argument is one word; False for span-based SRL (OntoNotes /
    CoNLL-2012, jiant), where an argument is a whole phrase.
    """

    start: int
    end: int
    sense: str
    arguments: list[Argument] = field(default_factory=list)
    heads: bool = True


@dataclass
class Target:
    """A labelled edge-probing target from a jiant JSON file: one or two spans [start, end).

    ``label`` is one string, or a tuple of strings for multi-label targets (e.g. SPR properties).
    """

    span1: tuple[int, int]
    span2: Optional[tuple[int, int]]
    label: str | tuple[str, ...]


@dataclass
class Sentence:
    """One sentence: its words (for labels and vectors) and surface tokens (for the model)."""

    words: list[str]
    tokens: Optional[list[str]] = None
    word_token: Optional[list[int]] = None
    space_after: Optional[list[bool]] = None  # per surface token; None = a space after each
    sent_id: str = ""
    text: Optional[str] = None
    lang: Optional[str] = None
    source: str = ""  # "file.conllu:LINE" of the sentence's first line, for error messages
    lemmas: Optional[list[str]] = None
    upos: Optional[list[str]] = None
    xpos: Optional[list[str]] = None
    feats: Optional[list[dict[str, str]]] = None
    heads: Optional[list[int]] = None
    deprels: Optional[list[str]] = None
    misc: Optional[list[dict[str, str]]] = None
    entities: Optional[list[Span]] = None
    comments: list[str] = field(default_factory=list)
    doc_id: str = ""  # the document (``# newdoc id``); "" when the corpus marks none
    mentions: Optional[list[Mention]] = None  # coreference / entity mentions (CorefUD Entity=)
    predicates: Optional[list[Predicate]] = None  # semantic roles (PropBank)
    constituents: Optional[list[Span]] = None  # non-terminal nodes of the constituent tree, pre-order
    targets: Optional[list[Target]] = None  # jiant edge-probing targets
    label: Optional[str] = None  # a sentence-level label (SentEval probing files)

    def model_tokens(self) -> list[str]:
        """The surface tokens the model should read."""
        return self.tokens if self.tokens is not None else self.words

    def token_of_word(self) -> list[int]:
        """Index of the surface token that carries each word."""
        if self.word_token is not None:
            return self.word_token
        return list(range(len(self.words)))

    def __len__(self) -> int:
        return len(self.words)


def sentence_offsets(sentences: Sequence[Sentence]) -> np.ndarray:
    """(n_sentences + 1,) start row of each sentence's words in the flattened corpus (cache row order)."""
    return np.concatenate([[0], np.cumsum([len(s.words) for s in sentences])]).astype(np.int64)


# Column order of every results table (results.csv and the probing API's rows).
RESULT_COLUMNS = [
    "model", "task", "probe", "layer", "train_set", "eval_set", "seed", "metric", "value",
    "ci_low", "ci_high", "covers",
]


@dataclass
class ResultRow:
    """One tidy result: a metric of one probe on one layer, model, task and evaluation set.

    Naming conventions shared by the probing API and the analysis code:

    * ``probe``: ``linear``, ``mlp``, ``mix`` (scalar mix over all layers), ``cumulative`` (mix of
      layers 0..layer), ``structural-distance``, ``structural-depth``, ``mdl``, ``majority``.
    * ``layer``: the layer index; ``-1`` when the row is not about one layer (the full ``mix``
      score, ``majority``, ``mix_gamma``).
    * ``task``: the task name (``upos``, ``deprel``, ``feats:Number``...); its control task is
      ``<task>:control``.
    * ``model``: the model's name; its re-initialised twin (random-init baseline) is
      ``<model>:random-init``.
    * ``metric``: ``accuracy``, ``macro_f1``, ``micro_f1``, ``uuas``, ``dspr``, ``nspr``,
      ``root_acc``, ``codelength_bits``, ``compression``, ``selectivity``, ``mix_weight``
      (softmax weight s_l of ``layer``), ``mix_gamma``.
    * ``seed``: the probe's seed; ``-1`` for rows aggregated over seeds.
    * ``ci_low``/``ci_high``: the 95% interval (NaN where none applies, e.g. mix weights).
    * ``covers``: the sources of variation the interval covers, e.g. ``test sentences`` or
      ``test sentences + 3 seeds (control labels, initialisation)``.
    """

    model: str
    task: str
    probe: str
    layer: int
    train_set: str
    eval_set: str
    seed: int
    metric: str
    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    covers: str = ""

    def as_dict(self) -> dict:
        """The row as a plain dict in RESULT_COLUMNS order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
