import numpy as np
import pytest

from probes.probing.bootstrap import (aggregate_seeds, grouped_mean_replicates, percentile_interval,
                                      ratio_replicates, resample_counts)
from probes.probing.metrics import score_replicates
from probes.records import ResultRow


def accuracy_ci(n_sentences, seed=0):
    rng = np.random.default_rng(seed)
    sent = np.repeat(np.arange(n_sentences), 10)
    y = rng.integers(0, 3, len(sent))
    pred = np.where(rng.random(len(sent)) < 0.8, y, (y + 1) % 3)[None]
    counts = resample_counts(n_sentences, 1000, 0)
    point, reps = score_replicates("accuracy", pred, y, sent, n_sentences, counts, 3)
    lo, hi = percentile_interval(reps)
    return point[0], lo[0], hi[0]


def test_ci_contains_point_and_shrinks_with_more_sentences():
    p1, lo1, hi1 = accuracy_ci(30)
    p2, lo2, hi2 = accuracy_ci(1000)
    assert lo1 <= p1 <= hi1 and lo2 <= p2 <= hi2
    assert (hi2 - lo2) < 0.35 * (hi1 - lo1)  # ~sqrt(30/1000) = 0.17 of the width
    # 95% binomial width for 10000 items at p = 0.8: 2 * 1.96 * sqrt(0.16 / 10000) = 0.0157
    assert hi2 - lo2 == pytest.approx(0.0157, rel=0.25)


def test_resampling_is_over_whole_sentences():
    counts = resample_counts(5, 50, 1)
    assert counts.shape == (50, 5) and np.all(counts.sum(1) == 5)
    num, den = np.array([[1.0], [2.0], [0.0], [3.0], [4.0]]), np.array([2.0, 2.0, 1.0, 3.0, 4.0])
    point, reps = ratio_replicates(num, den, counts)
    assert point[0] == pytest.approx(10 / 12)
    assert reps[0, 0] == pytest.approx(counts[0] @ num[:, 0] / (counts[0] @ den))


def test_macro_f1_and_unseen_labels():
    y = np.array([0, 0, 1, 1, -1])  # last gold label unseen in training: always wrong
    pred = np.array([[0, 1, 1, 1, 0]])
    sent = np.array([0, 0, 1, 1, 1])
    counts = resample_counts(2, 10, 0)
    acc, _ = score_replicates("accuracy", pred, y, sent, 2, counts, 2)
    assert acc[0] == pytest.approx(3 / 5)
    f1, _ = score_replicates("macro_f1", pred, y, sent, 2, counts, 2)
    # class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; unseen class: tp0 fn1 -> 0
    assert f1[0] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_grouped_mean_is_mean_of_length_means():
    values = np.array([[1.0], [0.0], [0.5], [np.nan]])
    lengths = np.array([5, 5, 7, 7])
    point, reps = grouped_mean_replicates(values, lengths, resample_counts(4, 20, 0))
    assert point[0] == pytest.approx(np.mean([0.5, 0.5]))
    assert reps.shape == (20, 1)


def test_aggregate_seeds_combines_bootstrap_and_seed_spread():
    rows = [ResultRow("m", "t", "linear", 3, "tr", "te", s, "accuracy", v, v - 0.0196, v + 0.0196)
            for s, v in enumerate([0.90, 0.92, 0.94])]
    (agg,) = aggregate_seeds(rows)
    assert agg.seed == -1 and agg.value == pytest.approx(0.92)
    se = np.sqrt((0.0196 / 1.959964) ** 2 + np.var([0.90, 0.92, 0.94], ddof=1) / 3)
    assert agg.ci_high - agg.value == pytest.approx(1.959964 * se)


def _planted_study(rng, n_seeds, n_sentences, mu=0.7, seed_sd=0.03, sentence_sd=0.1, noise_sd=0.05):
    """Per-seed, per-sentence scores: the true value mu, a seed effect, a sentence effect shared by
    all seeds (one test set), and seed-by-sentence noise."""
    seed_eff = rng.normal(0, seed_sd, n_seeds)[:, None]
    sentence_eff = rng.normal(0, sentence_sd, n_sentences)[None, :]
    return mu + seed_eff + sentence_eff + rng.normal(0, noise_sd, (n_seeds, n_sentences))


def test_multi_bootstrap_covers_the_true_value_about_95_percent_of_the_time():
    from probes.probing.bootstrap import multi_bootstrap

    rng = np.random.default_rng(0)
    hits_joint = hits_sentences_only = 0
    n_sim, S, n = 300, 10, 100
    for sim in range(n_sim):
        x = _planted_study(rng, S, n)
        counts = resample_counts(n, 500, sim)
        reps = (counts @ x.T / n).T[:, :, None]  # (S, B, 1): every seed on the same sentence resamples
        point, joint = multi_bootstrap(x.mean(1)[:, None], reps, seed=sim)
        lo, hi = percentile_interval(joint)
        hits_joint += lo[0] <= 0.7 <= hi[0]
        # One seed's sentence bootstrap ignores the seed effect and covers too rarely.
        lo1, hi1 = percentile_interval(reps[0])
        hits_sentences_only += lo1[0] <= 0.7 <= hi1[0]
    assert 0.90 <= hits_joint / n_sim <= 0.985
    assert hits_sentences_only / n_sim < 0.85


def test_multi_bootstrap_point_is_the_seed_mean_and_replicates_pair_sentence_resamples():
    from probes.probing.bootstrap import multi_bootstrap

    points = np.array([[0.5, 0.6], [0.7, 0.8]])
    reps = np.stack([np.full((4, 2), 0.5), np.full((4, 2), 0.7)])
    reps[:, 2] += 0.1  # sentence resample 2 is better for every seed
    point, joint = multi_bootstrap(points, reps, seed=1)
    assert point == pytest.approx([0.6, 0.7])
    assert joint.shape == (4, 2)
    # Replicate b averages the drawn seeds' values on sentence resample b (never another resample).
    drawn = np.random.default_rng(1).integers(0, 2, size=(4, 2))
    expected = np.stack([reps[drawn[b], b].mean(0) for b in range(4)])
    assert joint == pytest.approx(expected)
    assert joint[2] == pytest.approx(expected[2]) and expected[2, 0] in (0.6, 0.7, 0.8)
