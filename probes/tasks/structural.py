"""Structural-probe targets (Hewitt & Manning 2019): pairwise tree distances and tree depths.

Both keep every word (punctuation included) so the matrices line up with the cached vectors;
``punct`` marks the punctuation words (UPOS PUNCT) that UUAS / Spearman metrics leave out.
"""

from __future__ import annotations

from typing import Optional, Sequence

from probes.records import Sentence, sentence_offsets
from probes.tasks.base import TaskData
from probes.tasks.labels import heads_required, punct_mask
from probes.tasks.trees import tree_depths, tree_distances


def build_distance(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None) -> TaskData:
    """Gold (len_i, len_i) tree-distance matrix per sentence."""
    heads_required(sentences, "distance")
    return TaskData(name="distance", kind="distance", metric="uuas",
                    matrices=[tree_distances(s.heads) for s in sentences],
                    punct=punct_mask(sentences), sentence_offsets=sentence_offsets(sentences))


def build_depth(sentences: Sequence[Sentence], *, train: Optional[TaskData] = None) -> TaskData:
    """Gold tree depth of every word (root = 0), one array per sentence."""
    heads_required(sentences, "depth")
    return TaskData(name="depth", kind="depth", metric="nspr",
                    depths=[tree_depths(s.heads) for s in sentences],
                    punct=punct_mask(sentences), sentence_offsets=sentence_offsets(sentences))
