"""Report sections beyond the layer curves (issue 13): which neurons carry a task (``neurons`` kind),
what each layer adds (``conditional`` kind) and whether the model uses the information (the
``[amnesic]`` section). Each section is built only when its rows exist; each owns its figures,
tables and captions, and its captions say what every interval covers."""

from __future__ import annotations

import re
from typing import Optional

import numpy as np
import pandas as pd

from analysis.figures import amnesic as afig
from analysis.figures import conditional as cfig
from analysis.figures import neurons as nfig
from analysis.html import Block, Section
from analysis.report import _Out, _figure, _slug, _table
from analysis.results import base_models, main_eval_set


def _covers(rows: pd.DataFrame) -> str:
    """The distinct ``covers`` texts of some rows, joined (what their intervals cover)."""
    found = [str(c) for c in dict.fromkeys(rows["covers"]) if isinstance(c, str) and c]
    return "; ".join(found) if found else "not stated by the rows"


def _without_paths(text: str) -> str:
    """A note with each absolute file path shortened to its last part (the report names files, not machine paths)."""
    return re.sub(r"(?<![\w.])/(?:[^\s:/]+/)+([^\s:/]+)", r"\1", text)


def _wide(rows: pd.DataFrame, index: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per ``index`` key, per metric its value with ``<metric> lo`` / ``<metric> hi`` (95% interval)."""
    r = rows[rows["metric"].isin(metrics)]
    if r.empty:
        return pd.DataFrame(columns=index)
    out = r.pivot_table(index=index, columns="metric", values=["value", "ci_low", "ci_high"], aggfunc="first")
    cols = {}
    for m in metrics:
        if ("value", m) in out.columns:
            cols[m] = out[("value", m)]
            cols[f"{m} lo"] = out[("ci_low", m)]
            cols[f"{m} hi"] = out[("ci_high", m)]
    return pd.DataFrame(cols).reset_index()


# ----- neurons -----------------------------------------------------------------------------------------
def _neuron_probes(scored: pd.DataFrame, model: str) -> list[str]:
    r = scored[(scored["model"] == model) & scored["probe"].astype(str).str.startswith("neurons-")]
    return list(dict.fromkeys(r["probe"]))


def neuron_summary(scored: pd.DataFrame, model: str, probe: str) -> pd.DataFrame:
    """Per task and layer on the task's main evaluation set: the full layer's accuracy, the smallest k
    reaching 95% of it, and the top / random / bottom accuracies at k = 10 (or the nearest k above),
    each with its 95% interval."""
    out = []
    r = scored[(scored["model"] == model) & (scored["probe"] == probe)]
    for task in dict.fromkeys(r["task"]):
        table = nfig.ablation_table(scored, model=model, task=task, probe=probe)
        ev = main_eval_set(r[r["task"] == task])
        width = int(table["k"].max())
        k10 = int(min(k for k in table["k"].unique() if k >= min(10, width)))
        mk = nfig._one_per_metric(r[(r["task"] == task) & (r["eval_set"] == ev) & (r["metric"] == nfig.MIN_K)])
        mk = mk.set_index("layer")
        for layer in sorted(table["layer"].unique()):
            t = table[table["layer"] == layer].set_index(["side", "k"])
            row = {"task": task, "eval_set": ev, "layer": int(layer), "width": width}
            full = t.loc[("top", width)]
            row.update({"full_accuracy": full["value"], "full lo": full["ci_low"], "full hi": full["ci_high"]})
            if layer in mk.index:
                row.update({"min_k95": mk.at[layer, "value"], "min_k95 lo": mk.at[layer, "ci_low"],
                            "min_k95 hi": mk.at[layer, "ci_high"]})
            for side in ("top", "random", "bottom"):
                if (side, k10) in t.index:
                    row[f"{side}-{k10}"] = t.loc[(side, k10), "value"]
            out.append(row)
    return pd.DataFrame(out)


def _best_layer(summary: pd.DataFrame, task: str) -> Optional[int]:
    s = summary[summary["task"] == task]
    return None if s.empty or s["full_accuracy"].isna().all() else int(s.loc[s["full_accuracy"].idxmax(), "layer"])


def neuron_section(o: _Out, scored: pd.DataFrame, extras: dict) -> Optional[Section]:
    """Ablation curves per task, the layer x task map of the smallest k, the best layer's top neurons
    per label (from extras['neuron_profiles']) and a table; None without neuron rows."""
    blocks: list[Block] = []
    profiles = [p for p in (extras.get("neuron_profiles") or []) if isinstance(p, dict)]
    for model in base_models(scored):
        for probe in _neuron_probes(scored, model):
            ranking = probe.removeprefix("neurons-")
            summary = neuron_summary(scored, model, probe)
            r = scored[(scored["model"] == model) & (scored["probe"] == probe)]
            for task in dict.fromkeys(summary["task"]):
                t = r[r["task"] == task]
                rand = t[t["metric"].str.startswith("neuron_acc_random:")]
                fixed = t[t["metric"].str.startswith("neuron_acc_top:")]
                blocks.append(_figure(
                    o, lambda: nfig.plot_ablation_curves(scored, model=model, task=task, probe=probe),
                    _slug(model, task, probe, "ablation"),
                    f"{model}, {task}: accuracy of a linear probe retrained on the k neurons ranked first (top), "
                    f"last (bottom) or drawn at random of each layer ({ranking} ranking, fitted on the training "
                    f"set; k on a log axis, the last k the whole layer). Bands: 95% intervals; top and bottom "
                    f"cover {_covers(fixed)}; random covers {_covers(rand)}. Dashed: 95% of the full layer's "
                    "accuracy; dotted vertical: the smallest k whose top-k probe reaches it; dotted "
                    "horizontal: the majority class."))
            blocks.append(_figure(o, lambda: nfig.plot_min_k_map(scored, model=model, probe=probe),
                                  _slug(model, probe, "min-k-map"),
                                  f"{model}: the smallest k whose top-k probe reaches 95% of the full layer's "
                                  f"accuracy, per task (rows, with the layer's width) and layer (point estimates; "
                                  f"the table gives each one's 95% interval over resampled test sentences, the "
                                  f"smallest k recomputed on each resample)."))
            for task in dict.fromkeys(summary["task"]):
                prof = next((p for p in profiles if p.get("model") == model and p.get("task") == task
                             and p.get("method") == ranking), None)
                layer = _best_layer(summary, task)
                if prof is None or layer is None or layer not in prof.get("layers", []):
                    continue
                blocks.append(_figure(
                    o, lambda: nfig.plot_label_activations(prof, layer=layer,
                                                   title=f"{model}, {task}, layer {layer}: top neurons per label"),
                    _slug(model, task, probe, "label-activations", layer),
                    f"{model}, {task}: the 12 neurons of layer {layer} (the layer with the best full-layer accuracy) "
                    f"ranked first by {ranking}, and each label's mean activation on them over its training "
                    "words, in standard deviations from the neuron's mean (red above, blue below; number of "
                    "training words per label in brackets). Means over the training set, no interval."))
            blocks.append(_table(o, summary, _slug(model, probe, "neurons"),
                                 f"{model}: neurons ({ranking} ranking) per task and layer on the main evaluation "
                                 "set: full-layer accuracy, the smallest k reaching 95% of it (lo/hi: 95% "
                                 "intervals over resampled test sentences), and the top/random/bottom accuracy at "
                                 "k = 10 (random: mean over the seeds' draws)"))
    return Section("Neurons: which ones carry each task", blocks, anchor="neurons") if blocks else None


# ----- conditional probing -------------------------------------------------------------------------------
def conditional_table(agg: pd.DataFrame, exp: Optional[pd.DataFrame], model: str) -> pd.DataFrame:
    """Per task and layer on the main evaluation set: V-information and conditional V-information in
    bits with 95% intervals, beside Δ(l) x100 of the cumulative probe where it ran."""
    parts = []
    for task, rows in cfig.conditional_view(agg, model).items():
        w = _wide(rows, ["task", "eval_set", "layer"], ["vinfo_bits", "cond_vinfo_bits"])
        d = cfig.differential(exp, model, task)
        if d is not None:
            w["delta_x100"] = w["layer"].map(dict(zip(d[0].astype(int), 100 * d[1])))
        parts.append(w)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def conditional_section(o: _Out, agg: pd.DataFrame, exp: Optional[pd.DataFrame]) -> Optional[Section]:
    """What each layer adds beyond the baseline, beside Tenney et al.'s Δ(l); None without conditional rows."""
    blocks = []
    for model in base_models(agg):
        view = cfig.conditional_view(agg, model)
        if not view:
            continue
        rows = pd.concat(view.values())
        base = cfig.baseline_name(rows)
        has_delta = any(cfig.differential(exp, model, t) is not None for t in view)
        blocks.append(_figure(
            o, lambda: cfig.plot_conditional(agg, model=model, exp=exp), _slug(model, "conditional"),
            f"{model}: V-information (Hewitt et al. 2021; V = linear probes) of layer l about each task in bits "
            f"per word, alone and given {base} (what layer l adds beyond it), on the task's main evaluation "
            f"set; bands: 95% intervals over {_covers(rows[rows['metric'] == 'cond_vinfo_bits'])}, both terms of "
            "each difference on the same "
            "resamples. "
            + ("Right: Tenney et al.'s differential score Δ(l) (the cumulative probe's score at l minus at l−1, "
               "× 100; a difference of point estimates, no interval) on the same layer axis."
               if has_delta else "Tenney et al.'s differential scores need the cumulative probe kind, which this "
                                 "study did not run.")))
        blocks.append(_table(o, conditional_table(agg, exp, model), _slug(model, "conditional"),
                             f"{model}: bits per word by layer; lo/hi: 95% intervals over resampled test sentences; "
                             f"cond_vinfo_bits given {base}" + ("; delta_x100: Δ(l) × 100" if has_delta else ""),
                             folded=False))
    return Section("Conditional probing: what each layer adds", blocks, anchor="conditional") if blocks else None


# ----- amnesic probing -----------------------------------------------------------------------------------
ACC_METRICS = ["accuracy_clean", "accuracy_erased", "accuracy_erased_random", "accuracy_delta_vs_random", "majority"]
LM_METRICS = ["lm_loss_clean", "lm_loss_delta", "lm_loss_delta_random", "lm_loss_delta_vs_random"]


def amnesic_tables(agg: pd.DataFrame, model: str) -> dict[str, pd.DataFrame]:
    """The amnesic rows of a model as wide tables: 'accuracy', 'lm_loss', 'other_tasks' (empty ones left out)."""
    rows = afig.amnesic_rows(agg, model)
    task = afig.erased_task(rows)
    own = rows[rows["task"] == task]
    out = {"accuracy": _wide(own, ["task", "layer", "eval_set"], ACC_METRICS),
           "lm_loss": _wide(own, ["task", "layer", "eval_set"], LM_METRICS)}
    down = afig.downstream_table(agg, model)
    if len(down):
        w = down.pivot_table(index=["task", "erased_layer", "layer", "eval_set"], columns="kind",
                             values=["value", "ci_low", "ci_high"], aggfunc="first")
        cols = {}
        for kind in ("clean", "erased", "erased_random", "delta_vs_random"):
            if ("value", kind) in w.columns:
                cols[kind] = w[("value", kind)]
                cols[f"{kind} lo"] = w[("ci_low", kind)]
                cols[f"{kind} hi"] = w[("ci_high", kind)]
        out["other_tasks"] = pd.DataFrame(cols).reset_index()
    return {k: v for k, v in out.items() if len(v)}


def _lm_reason(model: str, notes: list[str], cfg: dict) -> str:
    amnesic = cfg.get("amnesic") if isinstance(cfg.get("amnesic"), dict) else {}
    if amnesic.get("lm_loss") is False:
        return "The LM loss was not asked for ([amnesic] lm_loss = false)."
    mine = [n for n in notes if n.startswith(f"{model}:") and "LM loss" in n]
    if mine:
        return "No LM-loss change is reported: " + " ".join(_without_paths(n.removeprefix(f"{model}: ")) for n in mine)
    return "No LM-loss rows for this model in the results, and the run recorded no reason."


def amnesic_section(o: _Out, agg: pd.DataFrame, notes: list[str], cfg: dict) -> Optional[Section]:
    """Per model: the erased task's probe clean / LEACE / random / majority per layer, the LM-loss
    change (or why there is none), the other tasks downstream, and the tables; None without rows."""
    blocks = []
    for model in base_models(agg):
        rows = afig.amnesic_rows(agg, model)
        if rows.empty:
            continue
        task = afig.erased_task(rows)
        own = rows[rows["task"] == task]
        acc = own[own["metric"].isin(ACC_METRICS)]
        blocks.append(_figure(
            o, lambda: afig.plot_erasure_accuracy(agg, model=model), _slug(model, "amnesic-accuracy"),
            f"{model}: a linear probe for {task} retrained and scored on one layer's vectors before and after "
            f"LEACE erased {task} from that layer (Elazar et al. 2021; Belrose et al. 2023), and after erasing a "
            f"random subspace of the same rank; LEACE's guarantee puts the erased probe at the majority class "
            f"(dotted). Whiskers: 95% intervals over {_covers(acc)}."))
        tables = amnesic_tables(agg, model)
        if afig.has_lm_loss(agg, model):
            lm = own[own["metric"].isin(LM_METRICS)]
            blocks.append(_figure(
                o, lambda: afig.plot_lm_loss_change(agg, model=model), _slug(model, "amnesic-lm-loss"),
                f"{model}: change of the model's own language-modelling loss when {task} is erased from one layer "
                "inside the forward pass (erased minus clean, nats per predicted token), for LEACE and for a random "
                "subspace of the same rank, and their paired difference (right). Whiskers: 95% intervals over "
                f"{_covers(lm)}."))
        else:
            blocks.append(Block("text", f"{model}: {_lm_reason(model, notes, cfg)}"))
        if "other_tasks" in tables:
            blocks.append(_figure(
                o, lambda: afig.plot_downstream(agg, model=model), _slug(model, "amnesic-other-tasks"),
                f"{model}: each other task's linear probe at the layers after the erased one, retrained and scored "
                f"on vectors extracted with {task} erased inside the forward pass (LEACE, or a random subspace of "
                "the same rank), against the clean vectors; each variant's probe is trained on its own vectors. "
                "Whiskers: 95% intervals over resampled test sentences (the rows' covers column says more); the "
                "table adds the paired difference LEACE minus random (delta_vs_random) with its interval."))
        down_notes = [n for n in notes if n.startswith(f"{model}:") and "other tasks" in n]
        for n in down_notes:
            blocks.append(Block("text", _without_paths(n)))
        captions = {"accuracy": f"{model}: {task} probe per erased layer (lo/hi: 95% intervals over resampled test "
                                "sentences)",
                    "lm_loss": f"{model}: LM loss (nats per token) and its change per erased layer (lo/hi: 95% "
                               "intervals over held-out sentences; the vs_random difference paired)",
                    "other_tasks": f"{model}: other tasks at later layers with {task} erased at erased_layer (lo/hi: "
                                   "95% intervals over resampled test sentences)"}
        for key, table in tables.items():
            blocks.append(_table(o, table, _slug(model, "amnesic", key), captions[key]))
    return Section("Amnesic probing: does the model use it", blocks, anchor="amnesic") if blocks else None
