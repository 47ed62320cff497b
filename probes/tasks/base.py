"""What a built probing task hands to the probes: labels aligned with the cached word vectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np

TaskKind = Literal["token", "edge", "span", "distance", "depth", "sentence"]


@dataclass
class TaskData:
    """Targets of one task on one corpus, indexed against the corpus' flattened words.

    Indices are *global word indices*: word j of sentence i is ``sentence_offsets[i] + j``, the
    same row order as the vector cache of that corpus.

    * ``token``: ``index`` (n,) word rows that carry a label, ``y`` (n,) class ids.
    * ``edge``: ``pairs`` (n, 2) global word indices (e.g. head, dependent), ``y`` (n,) class ids.
    * ``span``: ``spans`` (n, 2) global [start, end) word rows (end exclusive, within one sentence),
      or (n, 4) for two-span items (span1 then span2, e.g. coreferent mentions, which may lie in
      different sentences), ``y`` (n,) class ids, or ``Y`` (n, C) 0/1 for multi-label items.
    * ``distance``: ``matrices[i]`` (len_i, len_i) gold tree distances of sentence ``i``.
    * ``depth``: ``depths[i]`` (len_i,) gold tree depths of sentence ``i``.
    * ``sentence``: ``index`` (n,) sentence numbers, ``y`` (n,) class ids (one vector per sentence
      is built by the probe from the sentence's words).

    ``classes`` maps class id -> label string; ids in ``y`` of an evaluation set that are
    ``-1`` mark labels never seen in training (they count as wrong, and are reported).
    ``punct`` (n_words,) bool marks punctuation, so structural metrics can exclude it.
    """

    name: str
    kind: TaskKind
    metric: str
    classes: list[str] = field(default_factory=list)
    y: Optional[np.ndarray] = None
    Y: Optional[np.ndarray] = None  # multi-label tasks: (n, C) 0/1 instead of y
    index: Optional[np.ndarray] = None
    pairs: Optional[np.ndarray] = None
    spans: Optional[np.ndarray] = None
    matrices: Optional[list[np.ndarray]] = None
    depths: Optional[list[np.ndarray]] = None
    punct: Optional[np.ndarray] = None
    sentence_offsets: Optional[np.ndarray] = None
    positive_label: Optional[str] = None  # the class whose F1 is the metric (positive_f1: coref's "1")
    unseen: int = 0  # evaluation labels not seen in training (kept as -1 in y)
    # Relative frequency of each class in the training data the class list came from (the task's
    # own gold labels, also for its control task): majority baselines and control draws use it.
    label_distribution: Optional[np.ndarray] = None
    notes: list[str] = field(default_factory=list)
