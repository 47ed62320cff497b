"""Checks against the reference definitions: Hewitt & Manning's reporter (UUAS pooled over the
corpus with punctuation removed; DSpr and NSpr averaged within each sentence length, then over
lengths 5-50; root accuracy), and Voita & Titov's online-code block boundaries."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from probes.probing.bootstrap import grouped_mean_replicates, ratio_replicates, resample_counts
from probes.probing.mdl import BLOCK_FRACTIONS, block_ends
from probes.probing.structural_metrics import (depth_spearman, distance_spearman, in_spearman_range, root_correct,
                                               uuas_counts)


def _path_distances(n):
    idx = np.arange(n)
    return np.abs(idx[:, None] - idx[None, :]).astype(float)


def _corpus(seed=0):
    """Sentences of lengths 4 (outside 5-50), 5, 5 and 6: gold = a chain, prediction = gold plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (4, 5, 5, 6):
        gold = _path_distances(n)
        noise = rng.normal(0, 1.0, (n, n))
        pred = np.abs(gold + noise + noise.T)
        np.fill_diagonal(pred, 0)
        out.append((pred, gold))
    return out


def test_dspr_is_the_reporters_mean_over_lengths_of_per_length_row_means():
    corpus = _corpus()
    # The reporter: a Spearman per word row; collected by sentence length; mean per length; mean of those.
    by_length = {}
    for pred, gold in corpus:
        n = len(gold)
        if 5 <= n <= 50:
            by_length.setdefault(n, []).extend(spearmanr(pred[i], gold[i]).correlation for i in range(n))
    expected = np.mean([np.mean(v) for v in by_length.values()])
    # Ours: a per-sentence mean of row correlations, grouped by length, through the bootstrap code path.
    values = np.array([[distance_spearman(p, g) if in_spearman_range(len(g)) else np.nan] for p, g in corpus])
    lengths = np.array([len(g) for _, g in corpus])
    point, _ = grouped_mean_replicates(values, lengths, resample_counts(len(corpus), 10, 0))
    assert point[0] == pytest.approx(expected)


def test_nspr_and_root_accuracy_follow_the_reporter():
    rng = np.random.default_rng(1)
    golds = [np.array([1, 0, 1, 2, 2.0]), np.array([2, 1, 0, 1, 2, 3.0]), np.array([0, 1, 1, 2, 3.0])]
    preds = [g + rng.normal(0, 0.6, len(g)) for g in golds]
    expected = np.mean([np.mean([spearmanr(preds[0], golds[0]).correlation, spearmanr(preds[2], golds[2]).correlation]),
                        spearmanr(preds[1], golds[1]).correlation])  # lengths 5 (two sentences) and 6
    values = np.array([[depth_spearman(p, g)] for p, g in zip(preds, golds)])
    point, _ = grouped_mean_replicates(values, np.array([5, 6, 5]), resample_counts(3, 10, 0))
    assert point[0] == pytest.approx(expected)
    # Root accuracy: the shallowest non-punctuation prediction is the gold root (depth 0).
    no_punct = [np.zeros(len(g), bool) for g in golds]
    hits = [root_correct(p, g, m) for p, g, m in zip(preds, golds, no_punct)]
    expected_root = np.mean([int(np.argmin(p) == np.argmin(g)) for p, g in zip(preds, golds)])
    assert sum(h for h, _ in hits) / sum(t for _, t in hits) == pytest.approx(expected_root)


def test_uuas_is_pooled_over_the_corpus_with_punctuation_removed():
    corpus = _corpus(2)
    punct = [np.zeros(len(g), bool) for _, g in corpus]
    punct[2][-1] = True  # a punctuation token: its edges count neither way
    counts = np.array([uuas_counts(p, g, m) for (p, g), m in zip(corpus, punct)], dtype=float)
    point, _ = ratio_replicates(counts[:, :1], counts[:, 1], resample_counts(len(corpus), 10, 0))
    # Pooled: total correct edges / total gold edges (n_non_punct - 1 per sentence), not a mean of ratios.
    assert counts[:, 1].tolist() == [3, 4, 3, 5]
    assert point[0] == pytest.approx(counts[:, 0].sum() / counts[:, 1].sum())


def test_online_code_blocks_are_voita_and_titovs():
    # 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25, 50, 100 percent of the data.
    assert block_ends(10000).tolist() == [10, 20, 40, 80, 160, 320, 625, 1250, 2500, 5000, 10000]
    assert BLOCK_FRACTIONS[0] == 0.001 and BLOCK_FRACTIONS[-1] == 1.0
