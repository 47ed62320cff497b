"""Aggregates of a results table: per-curve best layer, first/last layer, expected layers, selectivity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import layers
from analysis.results import (metric_base, score_mask, CURVE_COLUMNS, aggregate_seeds, is_control, is_random_init, language_of,
                              main_eval_set, primary_metric)
from probes.errors import ProbesError
from analysis.selectivity import selectivity_table
from analysis.significance import best_layer, compare_layers_from_rows

LOWER_IS_BETTER = {"codelength_bits"}
SKIP_IN_SUMMARY = {"mix_weight", "mix_gamma", "selectivity", "best_minus_top", "best_minus_top_p",
                   "gain_over_random_init", "gain_over_random_init_p"}


def expected_layers_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Per model, task and training set: E_s, K(s) from the mix probe's weights and E_delta, K(delta),
    first and last layer scores from the cumulative probe (Tenney et al. 2019, Figures 1 and 2).

    Object columns ``weights`` (s_0..s_L) and ``cumulative`` (scores 0..L) keep the profiles for
    Figure 2; NaN where the table lacks the mix or cumulative probe.
    """
    rows = []
    models = [m for m in dict.fromkeys(agg["model"]) if not is_random_init(m)]
    for model in models:
        for task in dict.fromkeys(agg.loc[agg["model"] == model, "task"]):
            if is_control(task):
                continue
            t = agg[(agg["model"] == model) & (agg["task"] == task)]
            for train_set in dict.fromkeys(t["train_set"]):
                tt = t[t["train_set"] == train_set]
                row = _profile_row(tt)
                if row is not None:
                    rows.append({"model": model, "task": task, "train_set": train_set, **row})
    cols = ["model", "task", "train_set", "eval_set", "metric", "n_layers", "center_of_gravity", "k_s",
            "expected_layer", "expected_layer_ci_low", "expected_layer_ci_high", "expected_layer_covers", "k_delta",
            "first_score", "last_score", "mix_score", "mix_gamma", "weights", "cumulative", "weight_layers", "cumulative_layers"]
    out = pd.DataFrame(rows, columns=cols)
    # Rows in the order of Tenney et al.'s figures (POS, Consts., Deps., Entities, SRL, Coref., SPR,
    # Relations), other tasks after them in the order they came.
    from probes.tasks.registry import pipeline_rank

    order = sorted(range(len(out)), key=lambda i: (list(dict.fromkeys(out["model"])).index(out["model"].iloc[i]),
                                                   pipeline_rank(out["task"].iloc[i]), i))
    return out.iloc[order].reset_index(drop=True)


def _profile_row(tt: pd.DataFrame) -> dict | None:
    # Scores only: a cumulative probe's rows also carry its mixing weights ('mix_weight:<l>').
    cum = tt[(tt["probe"] == "cumulative") & (tt["layer"] >= 0) & score_mask(tt["metric"])]
    w = tt[(tt["probe"] == "mix") & (tt["metric"] == "mix_weight") & (tt["layer"] >= 0)]
    if cum.empty and w.empty:
        return None
    out = {k: np.nan for k in ["center_of_gravity", "k_s", "expected_layer", "expected_layer_ci_low",
                               "expected_layer_ci_high", "k_delta", "first_score", "last_score", "mix_score",
                               "mix_gamma"]}
    out.update(weights=None, cumulative=None, weight_layers=None, cumulative_layers=None, eval_set="", metric="",
               n_layers=np.nan, expected_layer_covers="")
    # The probing stage writes mixing weights on the training set: choose among score rows.
    mix_all = tt[tt["probe"] == "mix"]
    mix_scores = mix_all[score_mask(mix_all["metric"])]
    eval_set = main_eval_set(cum if len(cum) else mix_scores if len(mix_scores) else mix_all)
    out["eval_set"] = eval_set
    if len(cum):
        cum = cum[cum["eval_set"] == eval_set]
        metric = primary_metric(cum["metric"])
        c = cum[cum["metric"] == metric].sort_values("layer")
        scores = c["value"].to_numpy()
        ids = c["layer"].to_numpy(dtype=int)
        if len(set(ids)) != len(ids):
            raise ProbesError(f"cumulative scores of {tt['model'].iloc[0]}/{tt['task'].iloc[0]}: layer ids repeat "
                              f"({list(ids)})")
        # A layer subset (layers = [0, 2, 4, 6]) keeps its true ids: each gain is credited to its layer.
        out.update(metric=metric, cumulative=scores, cumulative_layers=ids, first_score=float(scores[0]),
                   last_score=float(scores[-1]), n_layers=int(ids[-1]))
        if len(scores) >= 2:
            delta_sum = scores[-1] - scores[0]
            out["expected_layer"] = layers.expected_layer(scores, ids) if delta_sum != 0 else np.nan
            out["k_delta"] = layers.k_delta(scores)
            # The probing stage's E_delta rows carry an interval over test-sentence resamples.
            e = tt[(tt["probe"] == "cumulative") & (tt["metric"] == "expected_layer") & (tt["eval_set"] == eval_set)]
            if len(e):
                e = e.iloc[0]
                out.update(expected_layer=float(e["value"]), expected_layer_ci_low=float(e["ci_low"]),
                           expected_layer_ci_high=float(e["ci_high"]),
                           expected_layer_covers=str(e["covers"]) if "covers" in e else "")
    if len(w):
        # Mixing weights belong to the trained probe; when repeated per evaluation set, take that set's copy.
        if w["eval_set"].nunique() > 1:
            w = w[w["eval_set"] == (eval_set if eval_set in set(w["eval_set"]) else sorted(w["eval_set"])[0])]
        w = w.sort_values("layer")
        s = layers.mixing_weights(w["value"].to_numpy())
        wids = w["layer"].to_numpy(dtype=int)
        out.update(weights=s, weight_layers=wids, center_of_gravity=layers.center_of_gravity(s, wids),
                   k_s=layers.k_s(s))
        if np.isnan(out["n_layers"]):
            out["n_layers"] = int(wids[-1])
        mix = tt[(tt["probe"] == "mix") & (tt["layer"] == -1)]
        gamma = mix[mix["metric"] == "mix_gamma"]
        if len(gamma):
            out["mix_gamma"] = float(gamma["value"].iloc[0])
        sc = mix[(mix["eval_set"] == eval_set) & score_mask(mix["metric"])]
        if len(sc):
            m = out["metric"] or primary_metric(sc["metric"])
            sc = sc[sc["metric"] == m]
            if len(sc):
                out["mix_score"] = float(sc["value"].iloc[0])
    return out


def summarize(results: pd.DataFrame, *, agg: pd.DataFrame | None = None, exp: pd.DataFrame | None = None,
              sel: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per curve (model, task, probe, sets, metric), aggregated over seeds: n_layers, seeds,
    layer-0 and top-layer values, best layer and its interval (lowest for codelengths), the p-value of
    best layer against top layer (``compare_layers_from_rows``: seeds, else intervals), the value of
    layer -1 rows (mix, majority), expected layers (cumulative and mix rows) and the highest selectivity.
    ``agg``, ``exp`` and ``sel`` are the aggregates of ``results`` when the caller has them already."""
    # A caller that already has the aggregates (write_report) passes them instead of recomputing.
    agg = aggregate_seeds(results) if agg is None else agg
    exp = expected_layers_table(agg) if exp is None else exp
    sel = selectivity_table(agg) if sel is None else sel
    # The probing stage's own best-versus-top tests, by (curve, best layer), looked up once.
    p_rows = agg[metric_base(agg["metric"]) == "best_minus_top_p"]
    own_test = {(r.model, r.task, r.probe, r.train_set, r.eval_set, r.metric.split(":", 1)[1], int(r.layer)): r
                for r in p_rows.itertuples(index=False)}
    # Lookups by key, built once: filtering whole frames per curve made this the slow part of a re-render.
    exp_by = {}
    for i, r in enumerate(exp[["model", "task", "train_set", "eval_set"]].itertuples(index=False, name=None)):
        exp_by.setdefault(r, exp.iloc[i])
    sel_pos = sel[sel["layer"] >= 0]
    sel_by = {k: g for k, g in sel_pos.groupby(["model", "task", "probe", "train_set", "eval_set", "score_metric"], sort=False)}
    seed_rows = results[results["seed"] != -1]
    seeds_by = None  # grouped on first use: only curves without the probing stage's own test need them
    rows = []
    for key, g in agg[~metric_base(agg["metric"]).isin(SKIP_IN_SUMMARY)].groupby(CURVE_COLUMNS, sort=False):
        r = dict(zip(CURVE_COLUMNS, key))
        r["n_seeds"] = int(g["n_seeds"].max())
        curve = g[g["layer"] >= 0].sort_values("layer")
        flat = g[g["layer"] == -1]
        if len(curve):
            lower = r["metric"] in LOWER_IS_BETTER
            b = best_layer(curve.assign(value=-curve["value"]) if lower else curve)
            bi = curve[curve["layer"] == b["best_layer"]].iloc[0]
            r.update(n_layers=int(curve["layer"].max()), layer0_value=float(curve["value"].iloc[0]),
                     top_value=float(curve["value"].iloc[-1]), best_layer=b["best_layer"],
                     best_value=float(bi["value"]), best_ci_low=float(bi["ci_low"]), best_ci_high=float(bi["ci_high"]),
                     interval_covers=str(bi.get("covers", "") or ""))
            top = int(curve["layer"].max())
            # The probing stage's own test: best minus top layer on the same sentence (and seed) resamples.
            own = own_test.get((*key, int(b["best_layer"])))
            if b["best_layer"] != top and own is not None:
                r.update(p_best_vs_top=float(own.value),
                         best_vs_top_method=f"paired bootstrap over {own.covers or 'test sentences'}")
            elif b["best_layer"] != top:
                # Does the curve really fall after its peak? Best layer against the top layer.
                if seeds_by is None:
                    seeds_by = {k: v for k, v in seed_rows.groupby(CURVE_COLUMNS, sort=False)}
                seeds = seeds_by.get(key, seed_rows.iloc[0:0])
                try:
                    cmp = compare_layers_from_rows(curve, seeds, b["best_layer"], top)
                    r.update(p_best_vs_top=cmp.p_value, best_vs_top_method=cmp.method)
                except ProbesError as exc:
                    r.update(best_vs_top_method=f"not tested: {exc}")
        if len(flat):
            r.update(value=float(flat["value"].iloc[0]), ci_low=float(flat["ci_low"].iloc[0]),
                     ci_high=float(flat["ci_high"].iloc[0]))
            if not r.get("interval_covers"):
                r["interval_covers"] = str(flat["covers"].iloc[0] if "covers" in flat else "" or "")
        e = exp_by.get((r["model"], r["task"], r["train_set"], r["eval_set"]))
        if e is not None:
            if r["probe"] == "cumulative" and r["metric"] == e["metric"]:
                r.update(expected_layer=e["expected_layer"], k_delta=e["k_delta"])
            if r["probe"] == "mix":
                r.update(center_of_gravity=e["center_of_gravity"], k_s=e["k_s"])
        s = sel_by.get((r["model"], r["task"], r["probe"], r["train_set"], r["eval_set"], r["metric"]))
        if s is not None and len(s):
            top = s.loc[s["selectivity"].idxmax()]
            r.update(max_selectivity=float(top["selectivity"]), max_selectivity_layer=int(top["layer"]))
        rows.append(r)
    cols = CURVE_COLUMNS + ["n_seeds", "n_layers", "layer0_value", "top_value", "best_layer", "best_value",
                            "best_ci_low", "best_ci_high", "value", "ci_low", "ci_high", "expected_layer",
                            "k_delta", "center_of_gravity", "k_s", "max_selectivity", "max_selectivity_layer",
                            "p_best_vs_top", "best_vs_top_method", "interval_covers"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("best_layer", "n_layers", "max_selectivity_layer"):
        out[c] = out[c].astype("Int64")
    return out


# ---- findings and data description: the report's opening, generated from the numbers ----------------

HEADLINE_PROBES = ["linear", "mlp", "structural-distance", "structural-depth"]
NOT_HEADLINE = {"mix", "cumulative", "majority", "mdl"}


def _covers_text(covers: str) -> str:
    """What an interval covers, as words for a sentence ('' -> the report's default)."""
    c = str(covers or "").strip()
    return c if c else "resampled test sentences"


def _interval(lo, hi, covers, fmt: str = ".3f") -> str:
    """', 95% interval [lo, hi] over <what it covers>', or ', no interval' when the row has none."""
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ", no interval"
    return f", 95% interval [{lo:{fmt}}, {hi:{fmt}}] over {_covers_text(covers)}"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def headline_curve(summary: pd.DataFrame, model: str, task: str) -> pd.Series | None:
    """The one summary row a task's finding is about: its first probe among linear, mlp, structural
    (else any per-layer probe), on its main evaluation set in the training language, primary metric."""
    rows = summary[(summary["model"] == model) & (summary["task"] == task) & ~summary["probe"].isin(NOT_HEADLINE)
                   & summary["best_layer"].notna() & score_mask(summary["metric"])]
    if rows.empty:
        return None
    probes_ = list(dict.fromkeys(rows["probe"]))
    probe = next((p for p in HEADLINE_PROBES if p in probes_), probes_[0])
    rows = rows[rows["probe"] == probe]
    metric = primary_metric(rows["metric"])
    rows = rows[rows["metric"] == metric]
    ev = main_eval_set(rows)
    return rows[rows["eval_set"] == ev].iloc[0]


def majority_baselines(agg: pd.DataFrame, model: str, task: str, metric: str) -> dict[str, float]:
    """The majority-class score of a task per evaluation set (layer -1 rows of probe 'majority')."""
    m = agg[(agg["model"] == model) & (agg["task"] == task) & (agg["probe"] == "majority") & (agg["metric"] == metric)]
    return {str(r.eval_set): float(r.value) for r in m.itertuples(index=False)}


def overview(agg: pd.DataFrame, summary: pd.DataFrame, exp: pd.DataFrame, model: str) -> str:
    """Two or three sentences over all tasks of `model`: the best layers (headline probe per task, on
    its in-language evaluation set), the range of expected layers, and the zero-shot gaps at the best
    layers with the task/language pairs that never beat their majority baseline."""
    from analysis.transfer import parallel_view, transfer_gap, transfer_matrices
    from probes.tasks.registry import pipeline_rank

    tasks = [t for t in dict.fromkeys(summary.loc[summary["model"] == model, "task"]) if not is_control(t)]
    tasks = sorted(tasks, key=lambda t: (pipeline_rank(t), tasks.index(t)))
    best, gaps, below, top = [], [], [], None
    for task in tasks:
        h = headline_curve(summary, model, task)
        if h is None:
            continue
        b = int(h["best_layer"])
        top = int(h["n_layers"])
        best.append(f"{task} {b}")
        pv = parallel_view(agg, model=model, task=task, probe=h["probe"], metric=h["metric"])
        if pv.empty:
            continue
        try:
            m = transfer_matrices(pv, model=model, task=task, probe=h["probe"], metric=h["metric"]).get(b)
        except ProbesError:
            continue
        if m is None or not len(m.index):
            continue
        src = m.index[0]
        g = transfer_gap(m).loc[src]
        gaps += [(float(g[t]), f"{task} {t}") for t in m.columns if t != src and np.isfinite(g[t])]
        major = majority_baselines(agg, model, task, h["metric"])
        for e in dict.fromkeys(pv["eval_set"]):
            lang = language_of(e)
            if lang == src or e not in major:
                continue
            if float(pv.loc[pv["eval_set"] == e, "value"].max()) <= major[e]:
                below.append(f"{task} {lang}")
    if not best:
        return ""
    text = f"Best layer of each task (of 0–{top}, headline probe, in-language test set): {', '.join(best)}."
    e = exp[(exp["model"] == model) & np.isfinite(exp["expected_layer"].to_numpy(dtype=float))]
    if len(e):
        lo, hi = e.loc[e["expected_layer"].idxmin()], e.loc[e["expected_layer"].idxmax()]
        text += (f" Expected layers E_Δ run from {lo['expected_layer']:.2f} ({lo['task']}) to "
                 f"{hi['expected_layer']:.2f} ({hi['task']})." if len(e) > 1 else
                 f" Expected layer E_Δ: {lo['expected_layer']:.2f} ({lo['task']}).")
    if gaps:
        small, large = min(gaps), max(gaps)
        text += (f" Zero-shot, scores fall {small[0]:.3f} ({small[1]}) to {large[0]:.3f} ({large[1]}) below the "
                 "in-language score at the same layer (the transfer gap)")
        text += (f"; {len(below)} task/language pair{'s' if len(below) > 1 else ''} never beat{'s' if len(below) == 1 else ''} "
                 f"the language's majority baseline ({', '.join(below)})." if below else ".")
    return text + " Each number below states its 95% interval and what the interval covers."


def findings(agg: pd.DataFrame, summary: pd.DataFrame, exp: pd.DataFrame, sel: pd.DataFrame, model: str) -> list[str]:
    """One sentence per task of `model`, from the numbers: best layer with its interval (and what the
    interval covers), layer 0 and top layer, expected layer and center of gravity, peak selectivity,
    the random-init model at the best layer, and the zero-shot scores and transfer gaps at the best
    layer with each language's majority baseline."""
    from analysis.transfer import parallel_view, transfer_gap, transfer_matrices
    from probes.tasks.registry import pipeline_rank

    tasks = [t for t in dict.fromkeys(summary.loc[summary["model"] == model, "task"]) if not is_control(t)]
    tasks = sorted(tasks, key=lambda t: (pipeline_rank(t), tasks.index(t)))
    out = []
    for task in tasks:
        h = headline_curve(summary, model, task)
        if h is None:
            continue
        b, top = int(h["best_layer"]), int(h["n_layers"])
        s = (f"{task}: best at layer {b} of 0–{top} with the {h['probe']} probe, {h['metric']} {h['best_value']:.3f} "
             f"on {h['eval_set']}{_interval(h['best_ci_low'], h['best_ci_high'], h['interval_covers'])}; "
             f"layer 0: {h['layer0_value']:.3f}, top layer: {h['top_value']:.3f}")
        p = h.get("p_best_vs_top")
        if b != top and p is not None and np.isfinite(p):
            s += (f" (best vs top layer: {_p_text(p)}, " + ("a real fall after the peak)" if p < 0.05 else
                                                             "no clear fall after the peak)"))
        s += "."
        e = exp[(exp["model"] == model) & (exp["task"] == task)]
        if len(e):
            e = e.iloc[0]
            parts = []
            if np.isfinite(e["expected_layer"]):
                el = f"expected layer E_Δ = {e['expected_layer']:.2f}"
                el += _interval(e["expected_layer_ci_low"], e["expected_layer_ci_high"], e["expected_layer_covers"], ".2f")
                if e["expected_layer"] < 0 or e["expected_layer"] > e["n_layers"] or (
                        np.isfinite(e["last_score"]) and np.isfinite(e["first_score"]) and e["last_score"] < e["first_score"]):
                    el += " — not a layer: the cumulative score falls with depth, so read it as 'no clear layer'"
                parts.append(el)
            if np.isfinite(e["center_of_gravity"]):
                parts.append(f"center of gravity of the mixing weights E_s = {e['center_of_gravity']:.2f} "
                             "(one trained mix, no interval)")
            if parts:
                s += " " + _sentence("; ".join(parts)) + "."
        ms = h.get("max_selectivity")
        if ms is not None and np.isfinite(ms):
            srow = sel[(sel["model"] == model) & (sel["task"] == task) & (sel["probe"] == h["probe"])
                       & (sel["eval_set"] == h["eval_set"]) & (sel["layer"] == int(h["max_selectivity_layer"]))]
            ci = ", no interval"
            if len(srow) and np.isfinite(srow["ci_low"].iloc[0]) and np.isfinite(srow["ci_high"].iloc[0]):
                cov = agg[(agg["model"] == model) & (agg["task"] == task) & (agg["probe"] == h["probe"])
                          & (agg["eval_set"] == h["eval_set"]) & (agg["metric"] == "selectivity")
                          & (agg["layer"] == int(h["max_selectivity_layer"]))]
                ci = _interval(float(srow["ci_low"].iloc[0]), float(srow["ci_high"].iloc[0]),
                               cov["covers"].iloc[0] if len(cov) else "")
            s += (f" Selectivity (task minus control task) peaks at layer {int(h['max_selectivity_layer'])}: "
                  f"{ms:.3f}{ci}.")
        rnd = agg[(agg["model"] == model + ":random-init") & (agg["task"] == task) & (agg["probe"] == h["probe"])
                  & (agg["eval_set"] == h["eval_set"]) & (agg["metric"] == h["metric"]) & (agg["layer"] == b)]
        if len(rnd):
            s += f" The random-init model scores {rnd['value'].iloc[0]:.3f} at layer {b}."
        pv = parallel_view(agg, model=model, task=task, probe=h["probe"], metric=h["metric"])
        if len(pv) and b in set(pv["layer"]):
            try:
                mats = transfer_matrices(pv, model=model, task=task, probe=h["probe"], metric=h["metric"])
            except ProbesError:
                mats = {}
            m = mats.get(b)
            if m is not None and len(m.index):
                src = m.index[0]
                gap = transfer_gap(m).loc[src]
                major = majority_baselines(agg, model, task, h["metric"])
                by_lang = {}
                for k, v in major.items():
                    by_lang.setdefault(language_of(k), v)
                # the majority of the very set the zero-shot score is on, else of a set in its language
                by_lang.update({language_of(k): major[k] for k in dict.fromkeys(pv["eval_set"]) if k in major})
                items = []
                below = []
                for tgt in m.columns:
                    if tgt == src or not np.isfinite(m.at[src, tgt]):
                        continue
                    items.append(f"{tgt} {m.at[src, tgt]:.3f} (gap {gap[tgt]:+.3f})")
                    base = by_lang.get(tgt)
                    best_zs = float(pv[[language_of(e) == tgt for e in pv["eval_set"]]]["value"].max())
                    if base is not None and best_zs <= base:
                        below.append(f"{tgt} stays at or below its majority baseline {base:.3f} at every layer "
                                     f"(best {best_zs:.3f})")
                if items:
                    s += f" Trained on {src}, zero-shot at layer {b}: " + ", ".join(items) + "."
                if below:
                    s += " Zero-shot, " + "; ".join(below) + ": no better than always guessing that language's most frequent label."
        out.append(s)
    return out


def _front_matter_languages(readme: Path) -> list[str]:
    """The `language:` entries of a Hugging Face model card's YAML front matter ([] if none)."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if not text.startswith("---"):
        return []
    head = text[3:].split("\n---", 1)[0].splitlines()
    langs = []
    for i, line in enumerate(head):
        if line.strip().startswith("language:"):
            rest = line.split(":", 1)[1].strip()
            if rest:
                langs += [x.strip(" '\"[]") for x in rest.split(",") if x.strip(" '\"[]")]
            else:
                for nxt in head[i + 1:]:
                    if not nxt.strip().startswith("-"):
                        break
                    langs.append(nxt.strip()[1:].strip(" '\""))
    return langs


def _safetensors_parameters(path: Path) -> int | None:
    """Number of parameters in a .safetensors file, from its JSON header alone (no tensors read)."""
    import json
    import struct

    try:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            if n > 100_000_000:
                return None
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return None
    total = 0
    for k, v in header.items():
        if k == "__metadata__" or not isinstance(v, dict):
            continue
        total += int(np.prod(v.get("shape", []), dtype=np.int64))
    return total


def model_facts(source: str) -> dict:
    """What a local model directory says about itself: architecture, layers, hidden size, vocabulary,
    parameter count (from the safetensors headers) and the model card's languages. {} for a hub id
    or anything unreadable."""
    import json

    d = Path(str(source))
    facts: dict = {}
    if not d.is_dir():
        return facts
    try:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    if isinstance(cfg, dict):
        for key, name in (("model_type", "model_type"), ("num_hidden_layers", "layers"), ("n_layer", "layers"),
                          ("hidden_size", "hidden_size"), ("d_model", "hidden_size"), ("n_embd", "hidden_size"),
                          ("vocab_size", "vocab_size"), ("_name_or_path", "base")):
            if key in cfg and name not in facts:
                facts[name] = cfg[key]
        if cfg.get("architectures"):
            facts["architecture"] = ", ".join(map(str, cfg["architectures"]))
    files = sorted(d.glob("*.safetensors"))
    if files:
        counts = [_safetensors_parameters(f) for f in files]
        if all(c is not None for c in counts):
            facts["parameters"] = int(sum(counts))
    langs = _front_matter_languages(d / "README.md")
    if langs:
        facts["languages"] = langs
    return facts


def _millions(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n:,}"


def describe_models(manifest: dict, facts: dict | None = None, languages: list[str] | None = None) -> list[str]:
    """One sentence per model of the manifest: where it came from, layers, vector size, parameters,
    vocabulary and the model card's languages (``facts``: model name -> ``model_facts``), set against
    the study's data languages (``languages``, when known)."""
    facts = facts or {}
    out = []
    for name, entry in (manifest.get("models") or {}).items():
        if not isinstance(entry, dict) or is_random_init(name.split(" ")[0]):
            continue
        f = facts.get(name, {})
        src = str(entry.get("model", "") or "")
        bits = []
        if f.get("architecture") or f.get("model_type"):
            bits.append(f"{f.get('architecture') or f.get('model_type')}"
                        + (f" (from {f['base']})" if f.get("base") else ""))
        if f.get("layers") is not None:
            bits.append(f"{f['layers']} transformer layers, probed as layers 0–{f['layers']} (0 = embedding output)")
        dim = f.get("dim") or f.get("hidden_size")
        if dim:
            bits.append(f"{dim}-dimensional word vectors")
        if f.get("parameters"):
            bits.append(f"{_millions(f['parameters'])} parameters")
        if f.get("vocab_size"):
            bits.append(f"a vocabulary of {int(f['vocab_size']):,} subwords")
        if entry.get("pooling"):
            bits.append(f"subwords pooled by {entry['pooling']}")
        s = f"{name}: " + (", ".join(bits) if bits else "no model facts recorded")
        s += f"; loaded from {'/'.join(Path(src).parts[-2:]) if Path(src).is_absolute() else src}." if src else "."
        langs = f.get("languages") or []
        if langs:
            if len(langs) == 1:
                s += f" Its model card lists one language, {langs[0]}: a monolingual model"
                others = [l for l in (languages or []) if l != langs[0]]
                if others:
                    s += f"; {', '.join(others)} {'is' if len(others) == 1 else 'are'} new to the model as well as to the probe."
                elif languages is None:
                    s += ", so every other language in this study is new to the model as well as to the probe."
                else:
                    s += f", probed here on {langs[0]} only."
            else:
                s += f" Its model card lists {len(langs)} languages ({', '.join(langs[:12])}{', ...' if len(langs) > 12 else ''})."
        out.append(s)
    return out


def describe_data(manifest: dict, config: dict | None = None) -> pd.DataFrame:
    """One row per data set of the manifest: name, language, role(s) in the config's tasks, sentences,
    words, the file it was read from and the selection."""
    roles: dict[str, list[str]] = {}
    for t in (config or manifest.get("config") or {}).get("tasks", []) or []:
        if not isinstance(t, dict):
            continue
        for role in ("train", "dev", "test"):
            specs = t.get(role)
            for sp in (specs if isinstance(specs, list) else [specs] if specs else []):
                name = sp.get("name") if isinstance(sp, dict) else str(sp)
                if name:
                    r = roles.setdefault(str(name), [])
                    if role not in r:
                        r.append(role)
    rows, seen = [], set()
    for d in manifest.get("data") or []:
        if not isinstance(d, dict):
            continue
        key = (d.get("name"), d.get("selection"))
        if key in seen:
            continue
        seen.add(key)
        name = str(d.get("name", ""))
        src = str(d.get("source", "") or "")
        rows.append({"set": name, "language": language_of(name) or language_of(Path(src).name) or "–",
                     "role": ", ".join(roles.get(name, [])) or "–", "sentences": d.get("sentences"),
                     "words": d.get("words"), "file": Path(src).name if src else "–",
                     "selection": str(d.get("selection", "") or "").replace(src, Path(src).name) if src else
                     str(d.get("selection", "") or "")})
    return pd.DataFrame(rows, columns=["set", "language", "role", "sentences", "words", "file", "selection"])
