"""The published per-layer scores of Tenney, Das & Pavlick (2019) as a results table, for checks
and for drawing the paper's figures from the paper's own numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from probes.errors import ProbesError
from probes.records import RESULT_COLUMNS

# The reference file's task ids -> the paper's row labels, in the paper's Figure 1 order.
PAPER_TASKS = {
    "pos-ontonotes-_micro_avg_": "POS",
    "nonterminal-ontonotes-_micro_avg_": "Consts.",
    "dep-labeling-ewt-_micro_avg_": "Deps.",
    "ner-ontonotes-_micro_avg_": "Entities",
    "srl-conll2012-_clean_micro_": "SRL",
    "coref-ontonotes-conll-1": "Coref.",
    "spr1-_micro_avg_": "SPR",
    "rel-semeval-_clean_micro_": "Relations",
}
OTHER_TASKS = {"spr2-_micro_avg_": "SPR2", "dpr-_micro_avg_": "DPR", "rel-tacred-_clean_micro_": "Relations (TACRED)"}
DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "reference" / "tenney2019_cumulative_f1.csv"


def load_reference(path=DEFAULT_PATH, *, paper_tasks_only: bool = True) -> pd.DataFrame:
    """The reference CSV (model, task, layer, f1 x100) as a results table: probe 'cumulative', metric
    'micro_f1' as a fraction, seed -1, eval_set 'dev', tasks renamed to the paper's labels."""
    path = Path(path)
    if not path.is_file():
        raise ProbesError(f"{path}: reference table not found")
    ref = pd.read_csv(path)
    need = {"model", "task", "layer", "f1"}
    if not need <= set(ref.columns):
        raise ProbesError(f"{path}: expected columns model, task, layer, f1; found {list(ref.columns)}")
    names = dict(PAPER_TASKS) if paper_tasks_only else {**PAPER_TASKS, **OTHER_TASKS}
    ref = ref[ref["task"].isin(names)]
    order = {t: i for i, t in enumerate(names)}
    ref = ref.assign(order=ref["task"].map(order)).sort_values(["model", "order", "layer"], kind="stable")
    out = pd.DataFrame({
        "model": ref["model"], "task": ref["task"].map(names), "probe": "cumulative",
        "layer": ref["layer"].astype(int), "train_set": "", "eval_set": "dev", "seed": -1,
        "metric": "micro_f1", "value": ref["f1"].astype(float) / 100.0,
        "ci_low": float("nan"), "ci_high": float("nan"), "covers": "",
    })
    return out[RESULT_COLUMNS].reset_index(drop=True)
