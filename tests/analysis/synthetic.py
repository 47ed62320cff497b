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


# ----- issue 13: neurons, conditional and amnesic rows -----------------------------------------------
NEURON_WIDTH = 32
NEURON_K0 = {"upos": [6.0, 2.0, 1.5, 2.0, 3.0], "deprel": [8.0, 4.0, 3.0, 2.5, 3.0]}  # curve scale per layer
VINFO = {"upos": [2.0, 2.6, 2.8, 2.7, 2.6], "deprel": [1.0, 1.6, 2.1, 2.4, 2.3]}
COND_VINFO = {"upos": [0.0, 0.6, 0.8, 0.7, 0.6], "deprel": [0.0, 0.6, 1.1, 1.4, 1.3]}
AMNESIC = {1: {"accuracy_clean": 0.90, "accuracy_erased": 0.31, "accuracy_erased_random": 0.89, "majority": 0.30,
               "lm_loss_clean": 2.5, "lm_loss_delta": 0.40, "lm_loss_delta_random": 0.05, "lm_loss_delta_vs_random": 0.35},
           3: {"accuracy_clean": 0.92, "accuracy_erased": 0.30, "accuracy_erased_random": 0.91, "majority": 0.30,
               "lm_loss_clean": 2.5, "lm_loss_delta": 0.20, "lm_loss_delta_random": 0.04, "lm_loss_delta_vs_random": 0.16}}
# deprel at the layers after each erased upos layer: clean, LEACE-erased, randomly erased
DOWNSTREAM = {1: {2: (0.75, 0.60, 0.74), 3: (0.80, 0.66, 0.79), 4: (0.78, 0.65, 0.77)},
              3: {4: (0.78, 0.70, 0.78)}}


def neuron_curve(task: str, layer: int) -> dict[int, float]:
    """Top-k accuracy by k of one synthetic ablation curve (saturating in k, the last k the full layer)."""
    from probes.probing.neurons import ablation_ks

    full = LINEAR[task][layer]
    return {k: full * (1 - 0.7 * np.exp(-k / NEURON_K0[task][layer])) if k < NEURON_WIDTH else full
            for k in ablation_ks(NEURON_WIDTH)}


def make_beyond_layers_table(lm_loss: bool = True, downstream: bool = True) -> pd.DataFrame:
    """Rows of the neurons and conditional kinds and of the [amnesic] section, with known values."""
    from probes.probing.neurons import ablation_ks, min_k

    rows = []

    def add(task, probe, layer, metric, value, seed=0, ev=TEST, covers="test sentences", half=0.02):
        rows.append([MODEL, task, probe, layer, TRAIN, ev, seed, metric, value, value - half, value + half, covers])

    ks = ablation_ks(NEURON_WIDTH)
    for task in ("upos", "deprel"):
        for layer in range(5):
            top = neuron_curve(task, layer)
            for k in ks:
                add(task, "neurons-lca", layer, f"neuron_acc_top:{k}", top[k])
                add(task, "neurons-lca", layer, f"neuron_acc_bottom:{k}", 0.3 + 0.6 * (k / NEURON_WIDTH) ** 2
                    if k < NEURON_WIDTH else top[k])
                add(task, "neurons-lca", layer, f"neuron_acc_random:{k}", 0.5 * (top[k] + 0.3) if k < NEURON_WIDTH
                    else top[k], seed=-1, covers="test sentences + 2 seeds (random neurons)")
            k95 = float(min_k(ks, np.array([top[k] for k in ks]), top[NEURON_WIDTH]))
            add(task, "neurons-lca", layer, "neuron_min_k95", k95)
            add(task, "conditional", layer, "vinfo_bits", VINFO[task][layer])
            add(task, "conditional", layer, "cond_vinfo_bits", COND_VINFO[task][layer],
                covers="test sentences (given layer 0)")
    am = "test sentences; LEACE rank 16, random subspace of the same rank (seed 0)"
    for layer, vals in AMNESIC.items():
        for metric, v in vals.items():
            if metric.startswith("lm_loss"):
                if lm_loss:
                    add("upos", "amnesic", layer, metric, v, covers="held-out sentences (masked-LM loss, nats per token)")
            else:
                add("upos", "amnesic", layer, metric, v, covers=am)
    if downstream:
        for erased, by_layer in DOWNSTREAM.items():
            for layer, (clean, erased_v, rnd) in by_layer.items():
                for kind, v in (("clean", clean), ("erased", erased_v), ("erased_random", rnd)):
                    add("deprel", "amnesic", layer, f"other_accuracy_{kind}:{erased}", v,
                        covers=f"test sentences; upos erased at layer {erased} inside the model")
                add("deprel", "amnesic", layer, f"other_accuracy_delta_vs_random:{erased}", erased_v - rnd,
                    covers=f"test sentences; upos erased at layer {erased} inside the model")
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def make_neuron_profile(task: str = "upos") -> dict:
    """A NeuronRanking.profile() of the synthetic neurons: 12 top neurons per layer, 3 labels."""
    rng = np.random.default_rng(0)
    return {"model": MODEL, "task": task, "method": "lca", "layers": list(range(5)), "labels": ["NOUN", "VERB", "DET"],
            "counts": [50, 30, 20], "neurons": [list(rng.permutation(NEURON_WIDTH)[:12]) for _ in range(5)],
            "class_means": [np.round(rng.normal(size=(3, 12)), 3).tolist() for _ in range(5)]}
