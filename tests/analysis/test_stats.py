import numpy as np
import pandas as pd
import pytest

from analysis import results as res
from analysis.selectivity import selectivity_table
from analysis.significance import best_layer, compare_layers_from_rows, paired_bootstrap
from analysis.summary import expected_layers_table, summarize
from analysis.transfer import cka_with_null, linear_cka, transfer_gap, transfer_matrices
from probes.errors import ProbesError

from tests.analysis.synthetic import CONTROL, EXPECTED, LINEAR, MODEL, TRANSFER  # noqa: E402


def test_aggregate_seeds_means_and_spread(results):
    agg = res.aggregate_seeds(results)
    row = agg[(agg.model == MODEL) & (agg.task == "upos") & (agg.probe == "linear") & (agg.layer == 2) & (agg.eval_set == "en_ewt-ud-test")]
    assert len(row) == 1
    assert row["value"].iloc[0] == pytest.approx(0.93)
    assert row["n_seeds"].iloc[0] == 2
    assert row["seed_sd"].iloc[0] == pytest.approx(np.std([0.92, 0.94], ddof=1))
    # per-seed intervals [0.90, 0.94], [0.92, 0.96]: bootstrap se 0.04 / (2 z), seed variance of the mean
    z = 1.959964
    half = z * np.sqrt((0.04 / (2 * z)) ** 2 + np.var([0.92, 0.94], ddof=1) / 2)
    assert row["ci_low"].iloc[0] == pytest.approx(0.93 - half) and row["ci_high"].iloc[0] == pytest.approx(0.93 + half)
    cum = agg[(agg.task == "upos") & (agg.probe == "cumulative") & (agg.layer == 4)]
    assert cum["value"].iloc[0] == pytest.approx(0.95) and cum["n_seeds"].iloc[0] == 0


def test_aggregate_seeds_keeps_the_probing_stages_own_aggregate():
    rows = pd.DataFrame([["m", "upos", "linear", 1, "tr", "te", seed, "accuracy", v, lo, hi, cov]
                         for seed, v, lo, hi, cov in ((0, 0.80, 0.78, 0.83, "test sentences"),
                                                      (1, 0.84, 0.81, 0.86, "test sentences"),
                                                      (-1, 0.82, 0.75, 0.88, "test sentences + 2 seeds (initialisation)"))],
                        columns=res.RESULT_COLUMNS)
    agg = res.aggregate_seeds(res.validate_results(rows))
    assert len(agg) == 1
    assert tuple(agg.iloc[0][["value", "ci_low", "ci_high", "n_seeds"]]) == (0.82, 0.75, 0.88, 2)
    assert agg.iloc[0]["covers"] == "test sentences + 2 seeds (initialisation)"
    # Without the probing stage's aggregate, the normal approximation is used and said.
    again = res.aggregate_seeds(res.validate_results(rows[rows.seed != -1]))
    assert again.iloc[0]["covers"] == "test sentences + 2 seeds (normal approximation)"
    # A table written before the covers column still reads.
    assert len(res.validate_results(rows.drop(columns="covers"))) == 3


def test_expected_layers_table_from_rows(results):
    t = expected_layers_table(res.aggregate_seeds(results)).set_index("task")
    assert set(t.index) == {"upos", "deprel"}
    for task, e in EXPECTED.items():
        assert t.loc[task, "expected_layer"] == pytest.approx(e["expected_layer"])
        assert t.loc[task, "center_of_gravity"] == pytest.approx(e["center_of_gravity"])
    assert t.loc["upos", "first_score"] == pytest.approx(0.80)
    assert t.loc["upos", "last_score"] == pytest.approx(0.95)
    assert t.loc["upos", "n_layers"] == 4 and t.loc["upos", "mix_gamma"] == pytest.approx(1.3)


def test_selectivity_is_task_minus_control_per_layer(results):
    sel = selectivity_table(res.aggregate_seeds(results))
    s = sel[(sel.task == "upos") & (sel.probe == "linear")].sort_values("layer")
    assert s["selectivity"].to_numpy() == pytest.approx(np.subtract(LINEAR["upos"], CONTROL["upos"]))
    assert set(sel["score_metric"]) == {"accuracy"}
    # The MDL control rows have codelengths, not scores: no selectivity from them.
    assert "mdl" not in set(sel["probe"])


def test_reported_selectivity_rows_are_kept():
    rows = pd.DataFrame([["m", "pos", "linear", 3, "a", "b", -1, "selectivity", 0.25, np.nan, np.nan, ""]],
                        columns=res.RESULT_COLUMNS)
    sel = selectivity_table(res.aggregate_seeds(rows))
    assert sel["selectivity"].tolist() == [0.25] and sel["score_metric"].tolist() == ["reported"]


def test_best_layer_with_interval_and_overlaps():
    curve = pd.DataFrame({"layer": [0, 1, 2, 3], "value": [0.5, 0.8, 0.9, 0.85],
                          "ci_low": [0.45, 0.75, 0.87, 0.80], "ci_high": [0.55, 0.85, 0.93, 0.90]})
    b = best_layer(curve)
    assert b["best_layer"] == 2 and b["best_value"] == 0.9
    assert (b["best_ci_low"], b["best_ci_high"]) == (0.87, 0.93)
    assert b["overlapping_layers"] == [2, 3]


def test_paired_bootstrap_hand_cases():
    # Pooled accuracy: (1 + 2) / (2 + 4) = .5 for A; (0 + 2) / 6 for B.
    r = paired_bootstrap([1, 2], [0, 2], weights=[2, 4], n_boot=200)
    assert r.difference == pytest.approx(0.5 - 2 / 6)
    # A constant per-sentence difference gives a zero-width interval at that difference.
    a = np.arange(10.0)
    r = paired_bootstrap(a + 0.1, a, n_boot=500)
    assert r.difference == pytest.approx(0.1)
    assert r.ci_low == pytest.approx(0.1) and r.ci_high == pytest.approx(0.1)
    assert r.p_value < 0.01
    same = paired_bootstrap(a, a, n_boot=500)
    assert same.difference == 0 and same.p_value == 1.0
    # Noise with no real difference is not significant; a large paired shift is.
    rng = np.random.default_rng(1)
    x = rng.random(200)
    assert paired_bootstrap(x, x[::-1].copy(), n_boot=1000).p_value > 0.05
    assert paired_bootstrap(x + 0.05 + 0.01 * rng.standard_normal(200), x, n_boot=1000).p_value < 0.01


def test_paired_bootstrap_rejects_unpaired_arrays():
    with pytest.raises(ProbesError, match="paired"):
        paired_bootstrap([1, 2, 3], [1, 2])


def test_compare_layers_from_rows_seeds_then_intervals(results):
    cur = results[(results.model == MODEL) & (results.task == "upos") & (results.probe == "linear") & (results.eval_set == "en_ewt-ud-test")]
    agg = res.aggregate_seeds(cur)
    r = compare_layers_from_rows(agg, cur, 2, 0)
    # Both seeds shift by the same offset, so the paired differences are equal: zero variance.
    assert r.difference == pytest.approx(0.13) and r.p_value == 0.0 and "seeds" in r.method
    r = compare_layers_from_rows(agg, None, 2, 0)
    z = 1.959964
    width = 2 * z * np.sqrt((0.04 / (2 * z)) ** 2 + np.var([-0.01, 0.01], ddof=1) / 2)  # each layer's seed aggregate
    se = np.hypot(width, width) / (2 * z)
    assert r.ci_low == pytest.approx(0.13 - z * se) and "intervals" in r.method


def test_transfer_matrix_and_gap(results):
    agg = res.aggregate_seeds(results)
    agg = agg[agg["eval_set"].str.contains("pud")]
    mats = transfer_matrices(agg, model=MODEL, task="upos", probe="linear", metric="accuracy")
    assert sorted(mats) == [0, 1, 2, 3, 4]
    m = mats[2]
    assert list(m.index) == ["en"] and list(m.columns) == ["en", "de", "es", "zh"]
    assert m.loc["en", "de"] == pytest.approx(TRANSFER["de"][2])
    gap = transfer_gap(m)
    assert gap.loc["en", "zh"] == pytest.approx(TRANSFER["en"][2] - TRANSFER["zh"][2])
    assert np.isnan(gap.loc["en", "en"])
    assert np.isnan(transfer_gap(m, reference="target").loc["en", "de"])  # no German training data


def test_transfer_gap_target_reference():
    m = pd.DataFrame([[0.9, 0.6], [0.5, 0.8]], index=["en", "de"], columns=["en", "de"])
    g = transfer_gap(m, reference="target")
    assert g.loc["en", "de"] == pytest.approx(0.8 - 0.6) and g.loc["de", "en"] == pytest.approx(0.9 - 0.5)


def test_transfer_matrix_refuses_two_sets_per_language(results):
    agg = res.aggregate_seeds(results)  # en_ewt-ud-test and en_pud-ud-test both evaluate English
    with pytest.raises(ProbesError, match="several sets per language"):
        transfer_matrices(agg, model=MODEL, task="upos", probe="linear", metric="accuracy")


def test_linear_cka_invariances_and_hand_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8))
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    for est in ("debiased", "biased"):
        assert linear_cka(x, x, estimator=est) == pytest.approx(1.0)
        assert linear_cka(x, 3.0 * x @ q + 5.0, estimator=est) == pytest.approx(1.0)  # rotation, scale, shift
    # Hand case, 1-D columns: the biased estimator reduces to the squared Pearson correlation (0.64);
    # the debiased one, worked by hand from the unbiased HSIC formula, is (16 - 20.5 + 25/6) / (25 - 20.5 + 25/6).
    a = np.array([[1.0], [2.0], [3.0], [4.0]])
    b = np.array([[1.0], [3.0], [2.0], [4.0]])
    assert linear_cka(a, b, estimator="biased") == pytest.approx(np.corrcoef(a[:, 0], b[:, 0])[0, 1] ** 2)
    assert linear_cka(a, b, estimator="biased") == pytest.approx(0.64)
    assert linear_cka(a, b) == pytest.approx(-1 / 26)
    with pytest.raises(ProbesError, match="same items"):
        linear_cka(x, x[:10])
    with pytest.raises(ProbesError, match="at least 4"):
        linear_cka(a[:3], b[:3])
    with pytest.raises(ProbesError, match="unknown CKA estimator"):
        linear_cka(a, b, estimator="rbf")


def _feature_space_debiased_cka(x, y):
    """Debiased CKA written in feature space (centred features: K~1 = -diag K), an independent path."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    n = len(x)

    def hsic(a, b):
        sa, sb = (a * a).sum(1), (b * b).sum(1)
        return np.linalg.norm(a.T @ b) ** 2 - n / (n - 2) * sa @ sb + sa.sum() * sb.sum() / ((n - 1) * (n - 2))

    return hsic(x, y) / np.sqrt(hsic(x, x) * hsic(y, y))


@pytest.mark.parametrize("n", [40, 200, 1000])
@pytest.mark.parametrize("d", [384, 4096])
def test_debiased_cka_of_independent_matrices_is_near_zero(n, d):
    rng = np.random.default_rng(n + d)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    value = linear_cka(x, y)
    assert abs(value) < 0.05
    assert value == pytest.approx(_feature_space_debiased_cka(x, y), abs=1e-9)
    assert linear_cka(x, y, estimator="biased") > 0.25  # the bias the default removes


def test_cka_permutation_null():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 30))
    unrelated = cka_with_null(x, rng.standard_normal((60, 30)), permutations=200, seed=1)
    assert unrelated["null_low"] < 0 < unrelated["null_high"] < 0.2
    assert unrelated["p_value"] > 0.05
    related = cka_with_null(x, x @ rng.standard_normal((30, 20)) + 0.5 * rng.standard_normal((60, 20)),
                            permutations=200, seed=1)
    assert related["cka"] > related["null_high"] and related["p_value"] == pytest.approx(1 / 201)
    y = rng.standard_normal((60, 30))
    assert cka_with_null(x, y, permutations=50, seed=4) == cka_with_null(x, y, permutations=50, seed=4)
    assert cka_with_null(x, y, permutations=50, seed=4)["null_low"] != cka_with_null(x, y, permutations=50, seed=5)["null_low"]


def test_summary_rows(results):
    s = summarize(results)
    lin = s[(s.task == "upos") & (s.probe == "linear") & (s.eval_set == "en_ewt-ud-test")].iloc[0]
    assert lin["best_layer"] == 2 and lin["best_value"] == pytest.approx(0.93)
    assert lin["max_selectivity"] == pytest.approx(0.25) and lin["max_selectivity_layer"] == 1
    assert lin["n_seeds"] == 2 and lin["layer0_value"] == pytest.approx(0.80)
    # Layer 2 (.93) against layer 4 (.91), both seeds shifted alike: a zero-variance paired difference.
    assert lin["p_best_vs_top"] == 0.0 and "seeds" in lin["best_vs_top_method"]
    tree = s[(s.task == "tree") & (s.metric == "uuas")].iloc[0]  # one seed: from the intervals
    se = np.hypot(0.04, 0.04) / (2 * 1.959964)
    from scipy.stats import norm
    assert tree["p_best_vs_top"] == pytest.approx(2 * norm.sf(0.10 / se)) and "intervals" in tree["best_vs_top_method"]
    cum = s[(s.task == "deprel") & (s.probe == "cumulative")].iloc[0]
    assert cum["expected_layer"] == pytest.approx(EXPECTED["deprel"]["expected_layer"])
    mix = s[(s.task == "upos") & (s.probe == "mix")].iloc[0]
    assert mix["center_of_gravity"] == pytest.approx(1.7) and mix["value"] == pytest.approx(0.95)
    mdl = s[(s.task == "upos") & (s.probe == "mdl") & (s.metric == "codelength_bits")].iloc[0]
    assert mdl["best_layer"] == 2 and mdl["best_value"] == 2500.0  # shortest code is best
    maj = s[(s.task == "upos") & (s.probe == "majority")].iloc[0]
    assert maj["value"] == pytest.approx(0.30)


def test_language_of_and_primary_metric():
    assert res.language_of("de_pud-ud-test") == "de" and res.language_of("en") == "en"
    assert res.language_of("") == "" and res.language_of("1234") == ""
    assert res.primary_metric(["macro_f1", "accuracy", "mix_weight"]) == "accuracy"
    assert res.primary_metric(["uuas", "dspr"]) == "uuas"


def test_validate_results_errors_name_row_and_column(results):
    bad = results.drop(columns=["seed", "ci_high"])
    with pytest.raises(ProbesError, match="missing column.*seed.*ci_high"):
        res.validate_results(bad, "x.csv")
    bad = results.astype({"value": object})
    bad.loc[3, "value"] = "high"
    with pytest.raises(ProbesError, match=r"x.csv:5: column 'value' must be a number, got 'high'"):
        res.validate_results(bad, "x.csv")
    dup = pd.concat([results, results.iloc[[0]]], ignore_index=True)
    with pytest.raises(ProbesError, match="repeat"):
        res.validate_results(dup, "x.csv")


def test_layer_significance_table_from_sentence_scores():
    from analysis.significance import layer_significance_table
    words = [3, 4, 5, 2]
    items = [{"model": "m", "task": "pos", "probe": "linear", "eval_set": "dev", "layer": l, "scores": s, "weights": words}
             for l, s in ((0, [1, 2, 2, 1]), (1, [2, 3, 4, 1]), (2, [3, 4, 5, 2]))]
    t = layer_significance_table(items, n_boot=300)
    prev = t[t.comparison == "previous layer"].set_index("layer_a")
    assert prev.loc[1, "difference"] == pytest.approx((10 - 6) / 14)
    assert prev.loc[2, "difference"] == pytest.approx((14 - 10) / 14)
    best = t[t.comparison == "best layer vs"]
    assert set(best["layer_a"]) == {2} and sorted(best["layer_b"]) == [0, 1]
    assert (t["n_sentences"] == 4).all()
    items[1]["scores"] = [1, 2, 3]
    with pytest.raises(ProbesError, match="same sentences"):
        layer_significance_table(items)


def test_holm_adjustment_hand_computed():
    from analysis.significance import holm

    # Sorted p: .01, .02, .04, .30 -> 4*.01 = .04, 3*.02 = .06, 2*.04 = .08, 1*.30 = .30 (monotone).
    assert holm([0.04, 0.01, 0.30, 0.02]) == pytest.approx([0.08, 0.04, 0.30, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1, kept monotone
    assert holm([0.01, np.nan, 0.04]) == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)
