"""The reporter: a results table -> results.csv, summary.csv, figures/, tables/ and report.html.

``write_report`` is the one entry point the experiment runner calls; ``probes report DIR`` calls
it again on DIR/results.csv (plus DIR/manifest.json and DIR/extras.json when present).

``extras`` carries what results.csv cannot (all keys optional):

* ``"structural"``: a list of chosen sentences for the structural-probe figures, each a dict with
  ``words`` (list[str]), ``gold_heads`` (1-based, 0 = root), ``predicted_edges`` (0-based
  undirected word pairs: the minimum spanning tree over predicted distances),
  ``predicted_distances`` (n x n), and optionally ``gold_deprels``, ``gold_distances`` (n x n;
  computed from the heads when absent), ``model``, ``task``, ``layer``, ``sent_id``.
* ``"cka"``: linear CKA between languages on parallel sentences, a DataFrame or list of dicts
  with columns ``model``, ``layer``, ``lang_a``, ``lang_b``, ``cka``.
* ``"sentence_scores"``: per-sentence scores for the paired bootstrap between layers, a list of
  dicts with ``model``, ``task``, ``probe``, ``eval_set``, ``layer``, ``scores`` (one number per
  sentence, e.g. correct words) and optional ``weights`` (e.g. words per sentence); see
  ``analysis.significance.layer_significance_table``.
* ``"reference"``: a results-format table drawn with the Figure 1/2 code in its own section,
  e.g. ``analysis.reference.load_reference()`` (the paper's published numbers).
* ``"neuron_profiles"``: per (model, task) of the ``neurons`` kind, ``NeuronRanking.profile()`` with
  ``model`` and ``task`` added (the top neurons of each layer and each label's mean activation on
  them), for the label-activation figure.
* ``"amnesic_notes"``: sentences on what the amnesic job could not measure and why (e.g. a
  checkpoint without its LM head), each starting with ``<model>:``.

Extras are saved as DIR/extras.json so that a re-render draws them again.
"""

from __future__ import annotations

import importlib.metadata as md
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import tables
from analysis.html import Block, Section, render_page
from analysis.results import (RANDOM_INIT_SUFFIX, base_tasks, score_mask, aggregate_seeds, base_models, is_control,
                              is_random_init, language_of, primary_metric, split_missing_values, validate_results)
from analysis.selectivity import selectivity_table
from analysis.significance import layer_significance_table
from analysis.summary import (HEADLINE_PROBES, describe_data, describe_models, expected_layers_table, findings, model_facts,
                              overview, summarize)
from analysis.transfer import parallel_view, transfer_gap, transfer_matrices
from probes.errors import ProbesError

VERSION_PACKAGES = ["probes", "numpy", "pandas", "scipy", "matplotlib", "seaborn", "spacy", "torch", "transformers"]
SUMMARY_VIEW = ["task", "probe", "metric", "eval_set", "n_seeds", "best_layer", "best_value", "best_ci_low",
                "best_ci_high", "layer0_value", "top_value", "value", "expected_layer", "center_of_gravity",
                "max_selectivity", "max_selectivity_layer", "p_best_vs_top", "interval_covers"]
EXPECTED_VIEW = ["task", "metric", "eval_set", "n_layers", "center_of_gravity", "k_s", "expected_layer",
                 "expected_layer_ci_low", "expected_layer_ci_high", "expected_layer_covers", "k_delta", "first_score", "last_score", "mix_score",
                 "mix_gamma"]


@dataclass
class _Out:
    out_dir: Path
    formats: tuple
    figures: list
    tables: list
    paper_sizes: bool = False  # also figures/paper/{single,double}-column/ (vector formats only)


def _slug(*parts) -> str:
    s = "-".join(str(p) for p in parts if str(p) != "")
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)


def _figure(o: _Out, draw, name: str, caption: str) -> Block:
    """Save a figure (a Figure, or a function drawing one) as figures/<name>.<format> and return its block.

    With paper sizes asked for, a function is called again for each paper column, its panels and legend
    reflowed to that width (``style.paper_column``), and saved fitted to exactly that width."""
    from analysis.figures import style
    from probes import progress

    progress.step(f"drawing {name}")
    fig = draw() if callable(draw) else draw
    try:
        paths = style.save_figure(fig, o.out_dir / "figures", name, tuple(dict.fromkeys(("png",) + o.formats)))
    finally:
        style.close(fig)
    vector = tuple(f for f in o.formats if f in style.VECTOR_FORMATS)
    if o.paper_sizes and vector and callable(draw):
        for column in style.PAPER_WIDTHS:
            with style.paper_column(column):
                fig = draw()
            try:
                style.save_paper_copy(fig, o.out_dir / "figures" / "paper" / f"{column}-column", name, column, vector)
            finally:
                style.close(fig)
    o.figures.append(name)
    return Block("png", paths["png"].read_bytes(), caption)


def _paper_note(o: _Out) -> str:
    from analysis.figures import style

    vector = [f for f in o.formats if f in style.VECTOR_FORMATS]
    if not vector:
        return ""
    if not o.paper_sizes:
        return ("; the same at both paper widths, 3.3 and 6.9 in, with `probes report DIR --paper-sizes`")
    return (f"; figures/paper/single-column/ and figures/paper/double-column/: each as {', '.join(vector)}, "
            "exactly 3.3 and 6.9 in wide")


def _table(o: _Out, df: pd.DataFrame, name: str, caption: str, floatfmt: str = ".3f", folded: bool = True) -> Block:
    tables.write_table(df, o.out_dir / "tables", name, caption=caption, floatfmt=floatfmt)
    o.tables.append(name)
    return Block("table", df, caption, folded=folded)


def _cka_caption(cka: pd.DataFrame) -> str:
    est = str(cka["estimator"].iloc[0]) if "estimator" in cka else "debiased"
    n = ", ".join(str(v) for v in sorted(set(cka["n"]))) if "n" in cka else "?"
    text = (f"Linear CKA by layer between languages' mean sentence vectors on the same parallel sentences "
            f"(n = {n}), {'biased plug-in estimator (inflated when dimensions are many against n)' if est == 'biased' else 'debiased (unbiased HSIC estimator of Song et al. 2012)'}.")
    if "null_low" in cka and cka["null_low"].notna().any():
        perms = int(cka["permutations"].iloc[0]) if "permutations" in cka else 0
        text += (f" Grey band: the central 95% of CKA over {perms} shuffled pairings of the same sentences "
                 "(envelope over the pairs), what representations with no sentence-level correspondence give at "
                 "this n and dimension; a value inside the band is no evidence of similarity. p_value in the table: one-sided permutation test.")
    else:
        text += " No permutation null was drawn (similarity.permutations = 0)."
    return text


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the numbers and figures depend on."""
    out = {}
    for p in VERSION_PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            if p == "probes":
                from probes import __version__
                out[p] = __version__
    return out


def _jsonable(x):
    if isinstance(x, pd.DataFrame):
        return x.to_dict(orient="records")
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _model_sections(o: _Out, agg: pd.DataFrame, sel: pd.DataFrame, summary: pd.DataFrame, exp: pd.DataFrame,
                    model: str, skipped: list[str], asked: set | None = None) -> list[Block]:
    from analysis.figures import curves, pipeline

    blocks: list[Block] = []
    m_exp = exp[exp["model"] == model]
    if len(m_exp):
        blocks.append(Block("list", expected_layer_lines(m_exp), "Where each task is resolved (rows in the paper's order)"))
        label = "F1" if set(m_exp["metric"]) <= {"micro_f1", ""} else "score"
        blocks.append(_figure(o, lambda: pipeline.plot_expected_layers(m_exp, score_label=label, title=model),
                              _slug(model, "fig1-expected-layers"),
                              "Figure 1 (Tenney et al. 2019 style): blue bar = center of gravity E_s of the scalar-mix "
                              "weights, lavender bar = expected layer E_Δ from cumulative scores, whisker = its 95% "
                              "interval over resampled test sentences; left: score of the layer-0 and all-layers "
                              "cumulative probes (x100). Rows in the paper's order (POS, Consts., Deps., Entities, SRL, "
                              "Coref., SPR, Relations)." + _runaway_intervals(m_exp)))
        blocks.append(_figure(o, lambda: pipeline.plot_layer_weights(m_exp, title=model), _slug(model, "fig2-layer-weights"),
                              "Figure 2 style: blue = mixing weights s_l, outlined = differential scores Δ(l) "
                              "(orange where negative); K(s), K(Δ) = KL from uniform in bits."))
        blocks.append(_table(o, m_exp[EXPECTED_VIEW].reset_index(drop=True), _slug(model, "expected-layers"),
                             f"{model}: expected layers"))
    else:
        skipped.append(f"{model}: Figures 1 and 2 (no 'mix' mixing weights and no 'cumulative' scores)")
    tasks = curves.curve_tasks(agg, model)
    if tasks:
        blocks.append(_figure(o, lambda: curves.plot_layer_curves(agg, model=model, tasks=tasks), _slug(model, "layer-curves"),
                              "Score by layer with 95% bands; dashed = control task, dotted = random-init model, "
                              "horizontal = majority class (solid grey) and scalar mix of all layers (dash-dot)."))
        per_layer = agg[(agg["model"] == model) & (agg["layer"] >= 0) & score_mask(agg["metric"])
                        & ~agg["probe"].isin(curves.NOT_CURVES | {"cumulative"}) & ~agg["task"].map(is_control)]
        probes_ = list(dict.fromkeys(per_layer["probe"]))
        probe = "linear" if "linear" in probes_ else (probes_[0] if probes_ else None)
        if probe:
            blocks.append(_figure(o, lambda: curves.plot_layer_task_heatmap(agg, model=model, probe=probe),
                                  _slug(model, "heatmap", probe), f"Layer x task heatmap of the {probe} probe's scores."))
    else:
        skipped.append(f"{model}: layer curves and heatmap (no per-layer score rows)")
    if len(sel[(sel["model"] == model) & (sel["layer"] >= 0)]):
        blocks.append(_figure(o, lambda: curves.plot_selectivity(agg, model=model, sel=sel), _slug(model, "selectivity"),
                              "Selectivity = task score minus control-task score (Hewitt & Liang 2019), on each "
                              "task's evaluation set in its training language; every set is in the selectivity "
                              "table."))
    elif asked is None or "control" in asked:
        skipped.append(f"{model}: selectivity (no <task>:control rows)")
    if len(agg[(agg["model"] == model) & (agg["probe"] == "mdl") & (agg["metric"] == "codelength_bits")]):
        blocks.append(_figure(o, lambda: curves.plot_codelength(agg, model=model), _slug(model, "mdl-codelength"),
                              "Online codelength (Voita & Titov 2020) by layer; control tasks dashed."))
    elif asked is not None and "mdl" in asked:
        skipped.append(f"{model}: MDL codelength (asked for, but no 'mdl' codelength_bits rows)")
    blocks += _transfer_blocks(o, agg, model, skipped)
    view = summary[summary["model"] == model]
    # grouped for reading: each task (in the paper's order) with its control task right after it
    from probes.tasks.registry import pipeline_rank

    tasks_ = list(dict.fromkeys(view["task"].str.replace(":control", "", regex=False)))
    key = [(pipeline_rank(b), tasks_.index(b), t.endswith(":control"), i)
           for i, (b, t) in enumerate(zip(view["task"].str.replace(":control", "", regex=False), view["task"]))]
    view = view.iloc[sorted(range(len(view)), key=lambda i: key[i])]
    blocks.append(_table(o, view[SUMMARY_VIEW].reset_index(drop=True), _slug(model, "summary"),
                         f"{model}: summary over seeds. best_ci_low/high: 95% interval of the best layer; "
                         "interval_covers: what it covers (test sentences resampled; with several seeds that "
                         "redraw something, a multi-bootstrap over seeds and sentences jointly, and what the "
                         "seeds redraw). A probe whose training is deterministic runs once: n_seeds 1."
                         + _odd_expected_layers(agg, view, model)))
    return blocks


def _runaway_intervals(m_exp: pd.DataFrame) -> str:
    """A sentence for the Figure 1 caption naming the E_Δ intervals that run past layers 0..L (drawn as
    arrows), and why; '' when every interval lies within the layers."""
    rows = []
    for _, e in m_exp.iterrows():
        lo, hi, top = (float(e.get(k, np.nan)) for k in ("expected_layer_ci_low", "expected_layer_ci_high", "n_layers"))
        if np.isfinite([lo, hi, top]).all() and (lo < 0 or hi > top):
            rows.append(f"{e['task']} [{lo:.2f}, {hi:.2f}]")
    if not rows:
        return ""
    return (f" Arrow-headed whiskers run past the layers ({', '.join(rows)}): in some resamples of the test "
            "sentences the cumulative score hardly rises with depth, Δ(l) sums to near zero and E_Δ leaves 0–L, "
            "so the interval says only that the expected layer is poorly determined on this many sentences.")


def _odd_expected_layers(agg: pd.DataFrame, view: pd.DataFrame, model: str) -> str:
    """A sentence for the summary caption naming the expected_layer rows outside layers 0..L (zero-shot
    sets, control tasks), which a reader would otherwise take for layers; '' when there are none."""
    layers_ = agg.loc[(agg["model"] == model) & (agg["layer"] >= 0), "layer"]
    if layers_.empty or "metric" not in view:
        return ""
    top = int(layers_.max())
    e = view[(view["metric"] == "expected_layer") & np.isfinite(view["value"].to_numpy(dtype=float))]
    odd = e[(e["value"] < 0) | (e["value"] > top)]
    if odd.empty:
        return ""
    worst = odd.loc[(odd["value"] - top / 2).abs().idxmax()]
    rows = f"{len(odd)} rows" if len(odd) > 1 else "1 row"
    return (f" {rows} of metric expected_layer outside layers 0–{top} (e.g. {worst['task']} on {worst['eval_set']}: "
            f"{worst['value']:.2f}): no layer; the cumulative score falls or hardly rises with depth there, "
            "so E_Δ runs off.")


def _asked(cfg: dict) -> set:
    """What the config asked for: probe kinds, plus 'control' / 'random_init' when switched on."""
    probe = cfg.get("probe") if isinstance(cfg.get("probe"), dict) else {}
    kinds = probe.get("kinds") or ([probe["kind"]] if probe.get("kind") else [])
    out = {str(k) for k in kinds} if isinstance(kinds, (list, tuple)) else {str(kinds)}
    for flag in ("control", "random_init"):
        if probe.get(flag):
            out.add(flag)
    return out


def _model_facts(manifest: dict, extras: dict) -> dict:
    """Per model of the manifest, what its directory and caches say (layers, dims, parameters, card
    languages); kept in extras.json so that a re-render on another machine has them too."""
    facts = dict(extras.get("model_facts") or {})
    for name, entry in (manifest.get("models") or {}).items():
        if not isinstance(entry, dict) or is_random_init(name.split(" ")[0]) or name in facts:
            continue
        f = model_facts(entry.get("model", ""))
        for path in (entry.get("caches") or {}).values():
            try:
                meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError):
                continue
            if isinstance(meta, dict) and meta.get("dim"):
                f["dim"] = int(meta["dim"])
                break
        if f:
            facts[name] = f
    return facts


def _findings_section(agg, summary, exp, sel, scored) -> Section:
    blocks = []
    models = base_models(scored)
    for model in models:
        lines = findings(agg, summary, exp, sel, model)
        if lines:
            lead = overview(agg, summary, exp, model)
            if lead:
                blocks.append(Block("lead", (f"{model}: " if len(models) > 1 else "") + lead))
            blocks.append(Block("findings", lines, "Per task" if len(models) == 1 else f"{model}, per task"))
    if not blocks:
        blocks.append(Block("text", "No per-layer scores to summarise."))
    return Section("Findings", blocks, anchor="findings")


def _data_blocks(o: _Out, manifest: dict, cfg: dict, facts: dict) -> list[Block]:
    blocks = []
    data = describe_data(manifest, cfg)
    langs = [l for l in dict.fromkeys(data["language"]) if l != "–"] if len(data) else []
    if len(data):
        train = data[data["role"].str.contains("train")]
        test = data[data["role"].str.contains("test")]
        text = f"{len(data)} data sets"
        if langs:
            text += f" in {len(langs)} language{'s' if len(langs) > 1 else ''} ({', '.join(langs)})"
        if len(train):
            text += ("; probes trained on " + ", ".join(f"{r.set} ({r.sentences} sentences, {r.words} words)"
                                                        for r in train.itertuples(index=False)))
        if len(test):
            text += ("; evaluated on " + ", ".join(f"{r.set} ({r.sentences} sentences, {r.words} words)"
                                                  for r in test.itertuples(index=False)))
        blocks.append(Block("lead", text + "."))
        blocks.append(_table(o, data, "data", "Data sets (sentences and words after reading; role in the config's tasks)",
                             folded=True))
    models = describe_models(manifest, facts, langs or None)
    if models:
        blocks.append(Block("findings", models, "Models"))
    seeds = manifest.get("seeds") or cfg.get("seeds")
    if seeds:
        blocks.append(Block("text", f"Probe seeds: {', '.join(map(str, seeds))}; rows aggregated over seeds carry "
                                    "intervals whose 'covers' column says what was resampled."))
    return blocks


def expected_layer_lines(m_exp: pd.DataFrame) -> list[str]:
    """One sentence per task: E_delta with its interval (what the interval covers said), and E_s."""
    lines = []
    for r in m_exp.itertuples(index=False):
        parts = []
        if np.isfinite(r.expected_layer):
            ci = ""
            if np.isfinite(r.expected_layer_ci_low) and np.isfinite(r.expected_layer_ci_high):
                covers = getattr(r, "expected_layer_covers", "") or "test sentences"
                what = (f"resampled {r.eval_set} sentences, probes fixed" if covers == "test sentences" else
                        f"{covers.replace('test sentences', f'resampled {r.eval_set} sentences', 1)}, multi-bootstrap")
                ci = f" [{r.expected_layer_ci_low:.2f}, {r.expected_layer_ci_high:.2f}] (95% interval over {what})"
            if not 0 <= r.expected_layer <= r.n_layers:
                ci += (f": outside 0..{int(r.n_layers)}, because the layers' gains and losses under cumulative "
                       "scoring nearly cancel out; read it as 'no clear layer'")
            parts.append(f"expected layer E_Δ = {r.expected_layer:.2f}{ci}")
        if np.isfinite(r.center_of_gravity):
            parts.append(f"center of gravity E_s = {r.center_of_gravity:.2f} (mixing weights, learned on {r.train_set})")
        if np.isfinite(r.first_score) and np.isfinite(r.last_score):
            parts.append(f"{r.metric} {r.first_score:.3f} at layer 0 to {r.last_score:.3f} with all {int(r.n_layers)} "
                         "layers (cumulative)")
        if parts:
            lines.append(f"{r.task}: " + "; ".join(parts))
    return lines


def _transfer_blocks(o: _Out, agg: pd.DataFrame, model: str, skipped: list[str]) -> list[Block]:
    """One transfer-matrix figure, one zero-shot figure per training language and one gap table for
    the model's tasks (never their control tasks), each task on its primary metric."""
    from analysis.figures import curves, transfer as tfig
    from analysis.summary import majority_baselines

    fam = agg[(agg["model"] == model) & (agg["layer"] >= 0) & score_mask(agg["metric"])
              & ~agg["task"].map(is_control) & ~agg["probe"].isin(curves.NOT_CURVES)]
    panels, views, majority, rnd, gap_rows = {}, {}, {}, {}, []
    for task, tg in fam.groupby("task", sort=False):
        # one probe per task: the headline probe (linear, mlp, structural, else the first) that was
        # scored in several languages; the other probes' transfer rows stay in aggregated.csv
        found = None
        probes_ = list(dict.fromkeys(tg["probe"]))
        for probe in [p for p in HEADLINE_PROBES if p in probes_] + [p for p in probes_ if p not in HEADLINE_PROBES]:
            metric = primary_metric(tg.loc[tg["probe"] == probe, "metric"])
            pv = parallel_view(agg, model=model, task=task, probe=probe, metric=metric)
            if len(pv):
                found = probe, metric, pv
                break
        if found is None:
            continue
        probe, metric, pv = found
        mats = transfer_matrices(pv, model=model, task=task, probe=probe, metric=metric)
        name = f"{task}\n{probe} probe, {metric}"
        panels[name] = dict(sorted(mats.items())[:25])
        views[name] = pv
        sets = set(pv["eval_set"])
        base = majority_baselines(agg, model, task, metric)
        majority[name] = {language_of(k): v for k, v in base.items() if k in sets}
        r = agg[(agg["model"] == model + RANDOM_INIT_SUFFIX) & (agg["task"] == task) & (agg["probe"] == probe)
                & (agg["metric"] == metric) & agg["eval_set"].isin(sets)]
        if len(r):
            rnd[name] = r
        for layer, m in mats.items():
            gap = transfer_gap(m)
            for src in gap.index:
                gap_rows.append({"task": task, "probe": probe, "metric": metric, "layer": layer, "train": src,
                                 **{f"gap {tgt}": gap.at[src, tgt] for tgt in gap.columns if tgt != src}})
    if not panels:
        # Said only where a reader could expect it: a study evaluating in one language asked for no transfer.
        langs = {language_of(e) for e in fam["eval_set"]} - {None}
        if len(langs) > 1:
            skipped.append(f"{model}: cross-lingual transfer (evaluation sets in {', '.join(sorted(langs))}, "
                           "but no one evaluation corpus covers two of them: transfer compares one corpus across languages, "
                           "e.g. en_pud and de_pud)")
        return []
    order = []
    for by_layer in panels.values():
        order += [l for l in tfig.transfer_order(by_layer) if l not in order]
    vals = np.concatenate([m.to_numpy(dtype=float).ravel() for p in panels.values() for m in p.values()])
    vals = vals[np.isfinite(vals)]
    trains = list(dict.fromkeys(language_of(s) for v in views.values() for s in v["train_set"]))
    blocks = [_figure(o, lambda: tfig.plot_transfer_matrix(panels, title=f"{model}: cross-lingual transfer"),
                      _slug(model, "transfer"),
                      f"Cross-lingual transfer: one panel per task (its headline probe and metric under the task name; the "
                      f"other probes' transfer scores are in aggregated.csv), rows = "
                      f"layer, columns = evaluation language in the order drawn ({', '.join(order)}; trained on "
                      f"{', '.join(trains)}, so {trains[0]} is in-language and the others zero-shot); one colour "
                      f"scale for all panels ({vals.min():.2f} to {vals.max():.2f}). Control tasks are left out.")]
    for lang in trains:
        blocks.append(_figure(o, lambda: tfig.plot_zero_shot_panels(views, train_language=lang, majority=majority, random_init=rnd,
                                                            title=f"{model}: trained on {lang}, scored in every language"),
                              _slug(model, "zero-shot", lang),
                              f"Score by layer per evaluation language for probes trained on {lang}, with 95% bands; "
                              "dashed horizontal: that language's majority-class score, dotted: the random-init model "
                              "on that language. A zero-shot curve under its dashed line has learned nothing that "
                              "transfers."))
    blocks.append(_table(o, pd.DataFrame(gap_rows), _slug(model, "transfer-gap"),
                         f"{model}: transfer gap per task and layer (in-language minus zero-shot score, each task's metric; "
                         "differences of point estimates, no interval)"))
    return blocks


def _without_punctuation(it: dict) -> tuple[dict, list[str]]:
    """The chosen sentence without its punctuation leaves (gold DEPREL punct, no dependents), as UUAS
    scores it: words, heads, deprels, distances and predicted edges renumbered; and the words left out."""
    words, heads = list(it["words"]), [int(h) for h in it["gold_heads"]]
    deprels = list(it.get("gold_deprels") or [])
    if len(deprels) != len(words):
        return it, []
    has_dep = {h - 1 for h in heads if h > 0}
    drop = [i for i, d in enumerate(deprels) if str(d).split(":")[0] == "punct" and i not in has_dep and heads[i] != 0]
    edges = [tuple(int(x) for x in e) for e in it["predicted_edges"]]
    if not drop or any(i in drop or j in drop for i, j in edges):
        return it, []
    keep = [i for i in range(len(words)) if i not in set(drop)]
    new = {old: k for k, old in enumerate(keep)}
    out = dict(it)
    out["words"] = [words[i] for i in keep]
    out["gold_heads"] = [0 if heads[i] == 0 else new[heads[i] - 1] + 1 for i in keep]
    out["gold_deprels"] = [deprels[i] for i in keep]
    out["predicted_edges"] = [(new[i], new[j]) for i, j in edges]
    for key in ("predicted_distances", "gold_distances"):
        if it.get(key) is not None:
            m = np.asarray(it[key], dtype=float)
            if m.shape == (len(words), len(words)):
                out[key] = m[np.ix_(keep, keep)]
            else:
                out.pop(key, None)
    return out, [words[i] for i in drop]


def _structural_blocks(o: _Out, items: list[dict]) -> list[Block]:
    from analysis.figures import structural

    blocks = []
    for k, it in enumerate(items):
        for key in ("words", "gold_heads", "predicted_edges", "predicted_distances"):
            if key not in it:
                raise ProbesError(f"extras['structural'][{k}]: missing {key!r}")
        where = ", ".join(f"{n} {it[n]}" for n in ("model", "task", "layer", "sent_id") if n in it)
        it, dropped = _without_punctuation(it)
        punct = (f" Punctuation is left out ({len(dropped)} word{'s' if len(dropped) > 1 else ''}: "
                 f"{' '.join(dropped)}), as UUAS scores the trees." if dropped else "")
        blocks.append(Block("svg", structural.gold_tree_svg(it["words"], it["gold_heads"], it.get("gold_deprels")),
                            f"Gold dependency tree ({where}).{punct}"))
        blocks.append(Block("svg", structural.predicted_tree_svg(it["words"], it["predicted_edges"], it["gold_heads"]),
                            "Predicted tree: minimum spanning tree over the probe's distances, undirected; "
                            f"✓ = gold edge, ✗ = not in the gold tree.{punct}"))
        blocks.append(_figure(o, lambda: structural.plot_distance_matrices(it["predicted_distances"], it["words"], it["gold_heads"],
                                                                   it.get("gold_distances"), title=where),
                              _slug("structural", it.get("model", ""), it.get("layer", ""), it.get("sent_id", k)),
                              "Predicted squared distances beside gold tree distances, on one colour scale "
                              f"(the probe is trained to make the first match the second).{punct}"))
    return blocks


def write_report(results: pd.DataFrame, out_dir, *, config: dict | None = None, manifest: dict | None = None,
                 extras: dict | None = None, formats=("png", "svg", "pdf"), title: str | None = None,
                 write_results: bool = True, paper_sizes: bool = False) -> Path:
    """Write results.csv, aggregated.csv, summary.csv, expected_layers.csv, selectivity.csv (when control
    rows exist), figures/, tables/, extras.json and a self-contained report.html; return its path.

    Each figure is written in every format of `formats` (the PNG is the one in report.html) at the
    size the report shows it: one or two paper columns wide, fonts at print size. ``paper_sizes``
    also writes every figure in its vector formats at both paper widths, exactly 3.3 in (one column)
    and 6.9 in (two columns) wide, into figures/paper/single-column/ and figures/paper/double-column/:
    each drawn again with its panels and legend reflowed (one panel per row in one column), which
    roughly doubles the time spent drawing, hence off by default."""
    from analysis.figures import pipeline, transfer as tfig

    df = validate_results(results, "results")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extras = dict(extras or {})
    o = _Out(out, tuple(formats), [], [], paper_sizes=paper_sizes)
    if write_results:
        df.to_csv(out / "results.csv", index=False)
    from probes import progress

    progress.step("statistics: seeds aggregated, summary, selectivity, expected layers")
    scored, skipped = split_missing_values(df)
    if scored.empty:
        raise ProbesError("results: every row lacks a value (NaN); nothing to report")
    agg = aggregate_seeds(scored)
    sel_all = selectivity_table(agg)
    exp = expected_layers_table(agg)
    summary = summarize(scored, agg=agg, exp=exp, sel=sel_all)
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6g")
    agg.to_csv(out / "aggregated.csv", index=False, float_format="%.6g")
    if len(sel_all):
        sel_all.to_csv(out / "selectivity.csv", index=False, float_format="%.6g")
    exp.drop(columns=["weights", "cumulative", "weight_layers", "cumulative_layers"], errors="ignore").to_csv(out / "expected_layers.csv", index=False, float_format="%.6g")
    manifest = dict(manifest or {})
    cfg = config if config is not None else manifest.get("config") or {}
    asked = _asked(cfg) if cfg else None
    facts = _model_facts(manifest, extras)
    if facts:
        extras["model_facts"] = facts
    sections = [_findings_section(agg, summary, exp, sel_all, scored)]
    data_blocks = _data_blocks(o, manifest, cfg, facts)
    if data_blocks:
        sections.append(Section("Data and model", data_blocks, anchor="data"))
    for model in base_models(scored):
        sections.append(Section(f"Model: {model}", _model_sections(o, agg, sel_all, summary, exp, model, skipped, asked),
                                anchor=_slug("model", model)))
    # Beyond the layer curves (issue 13): each section only where its rows exist.
    from analysis.beyond_layers import amnesic_section, conditional_section, neuron_section

    amnesic_notes = list(dict.fromkeys(list(extras.get("amnesic_notes") or []) + [
        str(s) for s in manifest.get("probe_kinds_not_run") or [] if "amnesic" in str(s)]))
    for section in (neuron_section(o, scored, extras), conditional_section(o, agg, exp),
                    amnesic_section(o, agg, amnesic_notes, cfg)):
        if section is not None:
            sections.append(section)
    if extras.get("structural"):
        sections.append(Section("Structural probe: a chosen sentence", _structural_blocks(o, list(extras["structural"])),
                                anchor="structural"))
    if extras.get("cka") is not None:
        cka = pd.DataFrame(extras["cka"])
        blocks = []
        for model, g in cka.groupby("model", sort=False) if "model" in cka else [("", cka)]:
            blocks.append(_figure(o, lambda: tfig.plot_cka(g, title=f"{model}: linear CKA on parallel sentences" if model else None),
                                  _slug(model, "cka"), _cka_caption(g)))
        blocks.append(_table(o, cka, "cka", "Linear CKA between languages"))
        sections.append(Section("Cross-lingual similarity (CKA)", blocks, anchor="cka"))
    if extras.get("sentence_scores"):
        sig = layer_significance_table(extras["sentence_scores"])
        sections.append(Section("Significance between layers (paired bootstrap over sentences)",
                                [_table(o, sig, "layer-significance",
                                        "Paired bootstrap over sentences: difference layer_a − layer_b, 95% interval "
                                        "over resampled test sentences (probe fixed), two-sided p; p_holm: Holm-adjusted "
                                        "within each family of comparisons of a curve, significant: p_holm below 0.05")],
                                anchor="significance"))
    if extras.get("reference") is not None:
        ref = validate_results(pd.DataFrame(extras["reference"]), "extras['reference']")
        rexp = expected_layers_table(aggregate_seeds(ref))
        blocks = []
        for model in base_models(ref):
            r = rexp[rexp["model"] == model]
            if r.empty:
                continue
            blocks.append(_figure(o, lambda: pipeline.plot_expected_layers(r, title=f"{model} (published scores)"),
                                  _slug("reference", model, "fig1"),
                                  "Figure 1 redrawn from the published per-layer scores; E_s needs mixing weights, "
                                  "which the published table does not have, so only E_Δ is drawn."))
            blocks.append(_figure(o, lambda: pipeline.plot_layer_weights(r, title=f"{model} (published scores)"),
                                  _slug("reference", model, "fig2"), "Figure 2 redrawn from the published scores (Δ(l) only)."))
            blocks.append(_table(o, r[EXPECTED_VIEW].reset_index(drop=True), _slug("reference", model, "expected-layers"),
                                 f"{model}: expected layers from the published scores"))
        sections.append(Section("Reference: the published numbers", blocks, anchor="reference"))
    full = dict(manifest)
    if config is not None and "config" not in full:
        full = {"config": config, **full}
    versions = package_versions()
    info = [Block("text", "Rendered with " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")]
    if full:
        info.append(Block("json", full, "Configuration and manifest (JSON: config, data and model fingerprints, "
                                        "package versions, seeds, timings)" if manifest else "Configuration (JSON)",
                          folded=True))
    if skipped:
        nan = [x for x in skipped if x.endswith("has no value (NaN): left out")]
        other = [x for x in skipped if x not in nan]
        if other:
            info.append(Block("list", other, "Not drawn, and why"))
        if nan:
            info.append(Block("list", nan, f"Result rows without a value (NaN), left out: {len(nan)}",
                              folded=len(nan) > 5))
    info.append(Block("text", f"Files: results.csv, aggregated.csv (means over seeds per layer), summary.csv, "
                              f"expected_layers.csv{', selectivity.csv' if len(sel_all) else ''}, figures/ ({len(o.figures)} "
                              f"figures as {', '.join(dict.fromkeys(('png',) + o.formats))}"
                              f"{_paper_note(o)}), tables/ ({len(o.tables)} tables as Markdown and LaTeX)."))
    sections.append(Section("Run", info, anchor="run"))
    if extras:
        (out / "extras.json").write_text(json.dumps(_jsonable(extras), indent=1), encoding="utf-8")
    n_rows = len(df)
    progress.step("writing report.html")
    page = render_page(title or str(manifest.get("name") or (config or {}).get("name") or out.resolve().name),
                       sections, subtitle=f"{n_rows} result rows, {len(base_models(df))} model(s), "
                                          f"{len(base_tasks(df))} task(s)")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def load_extras(path) -> dict:
    """Read an extras.json written by write_report (arrays come back as lists)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProbesError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProbesError(f"{path}: expected a JSON object with keys such as 'structural', 'cka', 'reference'")
    return data
