import math
from pathlib import Path

import numpy as np
import pytest

from analysis import layers
from analysis.reference import DEFAULT_PATH, load_reference
from probes.errors import ProbesError


def test_center_of_gravity_hand_computed():
    assert layers.center_of_gravity([0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.2 + 0.6 + 1.2)
    assert layers.center_of_gravity([1.0, 0.0, 0.0]) == 0.0  # layer 0 counts, with weight 0
    assert layers.center_of_gravity(layers.softmax([0.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert layers.center_of_gravity([0.1, 0.2, 0.3, 0.4], [0, 2, 4, 6]) == pytest.approx(4.0)
    with pytest.raises(ProbesError, match="increasing layer ids"):
        layers.center_of_gravity([0.5, 0.5], [2, 2])


def test_softmax_and_weight_validation():
    s = layers.softmax([0.0, math.log(3.0)])
    assert s == pytest.approx([0.25, 0.75])
    with pytest.raises(ProbesError, match="sum to 1"):
        layers.center_of_gravity([0.5, 0.6])
    with pytest.raises(ProbesError, match="non-negative"):
        layers.center_of_gravity([1.5, -0.5])


def test_differential_scores_and_expected_layer_keep_negative_deltas():
    scores = [0.5, 0.7, 0.8, 0.75]
    assert layers.differential_scores(scores) == pytest.approx([0.2, 0.1, -0.05])
    # (1*.2 + 2*.1 + 3*-.05) / (.2 + .1 - .05) = .25 / .25
    assert layers.expected_layer(scores) == pytest.approx(1.0)
    assert layers.expected_layer([0, 1, 1, 2]) == pytest.approx(2.0)
    with pytest.raises(ProbesError, match="does not change"):
        layers.expected_layer([0.5, 0.6, 0.5])


def test_kl_annotations_in_bits():
    assert layers.k_s([0.5, 0.5, 0.0, 0.0]) == pytest.approx(1.0)
    assert layers.k_s([0.25] * 4) == pytest.approx(0.0)
    assert layers.k_s([1.0, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(3.0)
    # deltas [1, 0, 1] -> [.5, 0, .5] over 3 layers: 2 * .5 * log2(1.5)
    assert layers.k_delta([0, 1, 1, 2]) == pytest.approx(math.log2(1.5))
    # negative deltas are clipped to 0 before normalising: [.2, .1, 0] -> [2/3, 1/3, 0]
    expect = 2 / 3 * math.log2(2) + 1 / 3 * math.log2(1.0)
    assert layers.k_delta([0.5, 0.7, 0.8, 0.75]) == pytest.approx(expect)
    assert math.isnan(layers.k_delta([0.9, 0.8, 0.7]))


PAPER = {
    ("bert-large-uncased", "POS"): 3.39, ("bert-large-uncased", "Consts."): 3.79,
    ("bert-large-uncased", "Deps."): 5.69, ("bert-large-uncased", "Entities"): 4.64,
    ("bert-large-uncased", "SRL"): 6.54, ("bert-large-uncased", "Coref."): 9.47,
    ("bert-large-uncased", "SPR"): 9.93, ("bert-large-uncased", "Relations"): 9.40,
    ("bert-base-uncased", "POS"): 1.76, ("bert-base-uncased", "Deps."): 2.52,
}


@pytest.mark.integration
@pytest.mark.skipif(not Path(DEFAULT_PATH).is_file(), reason="reference table ../shared/data/reference absent")
def test_expected_layers_equal_the_papers():
    ref = load_reference()
    for (model, task), paper in PAPER.items():
        rows = ref[(ref["model"] == model) & (ref["task"] == task)].sort_values("layer")
        assert list(rows["layer"]) == list(range(len(rows)))
        assert round(layers.expected_layer(rows["value"].to_numpy()), 2) == pytest.approx(paper), (model, task)
    # E_delta does not depend on the score's scale (F1 x100 in the file, fraction here).
    pos = ref[(ref["model"] == "bert-large-uncased") & (ref["task"] == "POS")]["value"].to_numpy()
    assert layers.expected_layer(pos * 100) == pytest.approx(layers.expected_layer(pos))
    assert np.all(layers.differential_scores(pos) < 1)
