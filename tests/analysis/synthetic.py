"""A fixed, small, realistic results table for the analysis tests. Synthetic numbers: used ONLY by tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probes.records import RESULT_COLUMNS

MODEL = "tiny-bert"
TRAIN, TEST = "en_ewt-ud-train", "en_ewt-ud-test"
# Per-layer means (layers 0..4). Seeds 0 and 1 sit at -0.01 / +0.01 around them.
LINEAR = {"upos": [0.80, 0.90, 0.93, 0.92, 0.91], "deprel": [0.40, 0.60, 0.75, 0.80, 0.78]}
CONTROL = {"upos": [0.60, 0.65, 0.70, 0.72, 0.74], "deprel": [0.30, 0.35, 0.40, 0.42, 0.43]}
RANDOM_INIT = {"upos": [0.55, 0.56, 0.56, 0.57, 0.57], "deprel": [0.25, 0.26, 0.26, 0.27, 0.27]}
CUMULATIVE = {"upos": [0.80, 0.90, 0.94, 0.93, 0.95], "deprel": [0.40, 0.55, 0.70, 0.80, 0.82]}
WEIGHTS = {"upos": [0.1, 0.4, 0.3, 0.1, 0.1], "deprel": [0.05, 0.15, 0.3, 0.3, 0.2]}
MAJORITY = {"upos": 0.30, "deprel": 0.20}
CODELENGTH = {"upos": [5000.0, 3000.0, 2500.0, 2600.0, 2700.0], "upos:control": [7000.0, 6500.0, 6000.0, 6000.0, 6100.0]}
UUAS = [0.30, 0.45, 0.60, 0.55, 0.50]
# Zero-shot upos accuracy of the English-trained linear probe on PUD, per language and layer.
TRANSFER = {"en": [0.78, 0.88, 0.91, 0.90, 0.89], "de": [0.50, 0.70, 0.80, 0.78, 0.74],
            "es": [0.55, 0.72, 0.82, 0.80, 0.77], "zh": [0.20, 0.40, 0.55, 0.52, 0.48]}
# Expected statistics by hand: upos deltas .10 .04 -.01 .02 -> E_delta = .23/.15; E_s = 1.7.
EXPECTED = {"upos": {"expected_layer": 0.23 / 0.15, "center_of_gravity": 1.7},
            "deprel": {"expected_layer": 0.83 / 0.42, "center_of_gravity": 2.45}}


def make_results_table() -> pd.DataFrame:
    """A deterministic results table with every probe kind and baseline the reporters draw."""
    rows = []

    def add(model, task, probe, layer, metric, value, seed=-1, train=TRAIN, ev=TEST, half=0.02):
        lo, hi = (value - half, value + half) if half is not None else (np.nan, np.nan)
        rows.append([model, task, probe, layer, train, ev, seed, metric, value, lo, hi, "test sentences"])

    for task in ("upos", "deprel"):
        for layer in range(5):
            for seed, off in ((0, -0.01), (1, 0.01)):
                add(MODEL, task, "linear", layer, "accuracy", LINEAR[task][layer] + off, seed)
                add(MODEL, task, "mlp", layer, "accuracy", LINEAR[task][layer] + 0.01 + off, seed)
                add(MODEL, f"{task}:control", "linear", layer, "accuracy", CONTROL[task][layer] + off, seed)
            add(f"{MODEL}:random-init", task, "linear", layer, "accuracy", RANDOM_INIT[task][layer], 0)
            add(MODEL, task, "cumulative", layer, "accuracy", CUMULATIVE[task][layer])
            add(MODEL, task, "mix", layer, "mix_weight", WEIGHTS[task][layer], half=None)
        add(MODEL, task, "mix", -1, "accuracy", CUMULATIVE[task][-1])
        add(MODEL, task, "mix", -1, "mix_gamma", 1.3, half=None)
        add(MODEL, task, "majority", -1, "accuracy", MAJORITY[task], half=None)
    for task, vals in CODELENGTH.items():
        for layer, v in enumerate(vals):
            add(MODEL, task, "mdl", layer, "codelength_bits", v, 0, half=None)
            add(MODEL, task, "mdl", layer, "compression", 9000.0 / v, 0, half=None)
    for layer, v in enumerate(UUAS):
        add(MODEL, "tree", "structural-distance", layer, "uuas", v, 0)
        add(MODEL, "tree", "structural-distance", layer, "dspr", v + 0.2, 0)
    for lang, vals in TRANSFER.items():
        for layer, v in enumerate(vals):
            add(MODEL, "upos", "linear", layer, "accuracy", v, 0, ev=f"{lang}_pud-ud-test")
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def make_structural_extra() -> dict:
    """A chosen sentence for the structural-probe figures: gold tree and a predicted MST."""
    words = ["The", "cat", "sat", "on", "the", "mat"]
    heads = [2, 3, 0, 6, 6, 3]
    deprels = ["det", "nsubj", "root", "case", "det", "obl"]
    predicted_edges = [(0, 1), (1, 2), (2, 3), (3, 5), (4, 5)]  # one wrong edge: (2, 3) instead of (2, 5)
    pred = np.array([[0, 1.1, 2.0, 3.2, 3.9, 3.1], [1.1, 0, 0.9, 2.2, 3.0, 2.1], [2.0, 0.9, 0, 1.3, 2.2, 1.4],
                     [3.2, 2.2, 1.3, 0, 1.9, 0.8], [3.9, 3.0, 2.2, 1.9, 0, 1.0], [3.1, 2.1, 1.4, 0.8, 1.0, 0]])
    return {"model": MODEL, "task": "tree", "layer": 2, "sent_id": "s1", "words": words, "gold_heads": heads,
            "gold_deprels": deprels, "predicted_edges": predicted_edges, "predicted_distances": pred}
