"""The README's figure gallery, redrawn from a study's output folder: a few report figures as small PNGs
under docs/gallery/ and the Markdown block between the README's gallery markers, one caption a figure.

    python -m analysis.gallery [STUDY_DIR]      # default demo-out/, the folder `probes demo` writes

Run it after a demo whose figures changed and commit docs/gallery/ with README.md; nothing in the
gallery is edited by hand (tests/analysis/test_gallery.py checks the block and that its images exist).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from probes.errors import ProbesError

START = "<!-- gallery:start -->"
END = "<!-- gallery:end -->"
NOTE = "<!-- written by `python -m analysis.gallery DIR` from a study's results; edit that, not this block -->"
ROOT = Path(__file__).resolve().parents[1]
# PNG resolution of the gallery: sharp on a README page, files (256 colours) of 15-90 KB
DPI = 150
# the report figures shown, in this order (names without the model prefix; zero-shot: first training language)
KINDS = ("layer-curves", "fig1-expected-layers", "fig2-layer-weights", "selectivity", "zero-shot", "transfer")


@dataclass
class Image:
    """One gallery image: its file name under the gallery folder, alt text and one-line caption."""

    name: str
    alt: str
    caption: str


def _covers(rows: pd.DataFrame) -> str:
    """What the rows' intervals cover, e.g. 'test sentences' or 'test sentences (structural-distance:
    test sentences + 3 seeds (initialisation, batch order))', from their covers column."""
    rows = rows.dropna(subset=["covers"])
    by_probe = rows.groupby("probe", sort=False)["covers"].agg(lambda c: c.mode().iloc[0])
    if by_probe.empty:
        return "resampled test sentences"
    common = by_probe.mode().iloc[0]
    other = [f"{p}: {c}" for p, c in by_probe.items() if c != common]
    return common + (f" ({'; '.join(other)})" if other else "")


def _captions(agg: pd.DataFrame, exp: pd.DataFrame, model: str, zero_shot_language: str = "one language"
              ) -> dict[str, tuple[str, str]]:
    """{kind: (alt text, caption)}, the intervals' coverage read from the results."""
    from analysis.figures.curves import NOT_CURVES, curve_tasks, task_view
    from analysis.results import RANDOM_INIT_SUFFIX, is_control, score_mask

    m = agg[(agg["model"] == model) & (agg["layer"] >= 0) & score_mask(agg["metric"]) & ~agg["probe"].isin(NOT_CURVES)]
    views = {}
    for t in curve_tasks(agg, model):
        try:
            views[t] = task_view(agg, model, t)
        except ProbesError:
            continue
    shown = [(t, ev, metric) in {(k, *v) for k, v in views.items()} for t, ev, metric in
             zip(m["task"], m["eval_set"], m["metric"])]
    home = m[shown]
    own = m[~m["task"].map(is_control) & m["metric"].isin({v[1] for v in views.values()})]
    zs = own[~own.index.isin(home.index)]
    control = m[m["task"].map(is_control)]
    e = exp[exp["model"] == model]
    with_ci = e[e["expected_layer_ci_low"].notna()] if "expected_layer_ci_low" in e else e.iloc[:0]
    covers = with_ci.get("expected_layer_covers", pd.Series([], dtype=str)).dropna().astype(str)
    covers = covers[covers.str.strip() != ""].mode()
    whiskers = (f"whiskers: 95% interval of E_Δ over {covers.iloc[0] if len(covers) else 'resampled test sentences'} "
                "(arrows: it runs past the axis)" if len(with_ci) else "no whiskers: the results carry no interval of E_Δ")
    tasks = ", ".join(dict.fromkeys(home["task"])) or "each task"
    return {
        "layer-curves": ("Layer curves", f"{model}: score per layer on the in-language test set ({tasks}); bands: 95% "
                         f"interval over {_covers(home)}; dashed: control task, dotted: random-init model "
                         f"({model}{RANDOM_INIT_SUFFIX}), flat: majority class (solid grey) and scalar mix of all layers (dash-dot)."),
        "fig1-expected-layers": ("Figure 1, expected layers", f"{model}, Figure 1 of Tenney et al. (2019): expected "
                                 f"layer E_Δ of the cumulative probes (lavender) and centre of gravity E_s of the "
                                 f"scalar-mix weights (blue) per task; {whiskers}; E_s has no interval "
                                 "(one trained mix)."),
        "fig2-layer-weights": ("Figure 2, layer weights", f"{model}, Figure 2 of Tenney et al. (2019): scalar-mix "
                               "weights s_l (blue) and differential scores Δ(l) of the cumulative probes (outlined, "
                               "orange where negative) per layer, each row scaled to its largest bar; point values, "
                               "no intervals."),
        "selectivity": ("Selectivity", f"{model}: selectivity (task minus control-task score, Hewitt & Liang 2019) "
                        f"per layer; bands: 95% interval over {_covers(control)} of the control task."),
        "zero-shot": ("Zero-shot transfer", f"{model}: probes trained on {zero_shot_language} scored on every language per "
                      f"layer; bands: 95% interval over {_covers(zs)}; dashed: each language's majority class, "
                      "dotted: the random-init model on that language."),
        "transfer": ("Transfer matrix", f"{model}: cross-lingual transfer scores, layer by evaluation language, one "
                     "panel per task on one colour scale; point values (the intervals are in aggregated.csv)."),
    }


def draw_gallery(study_dir, image_dir, *, model: str | None = None, dpi: int = DPI) -> list[Image]:
    """Draw the gallery figures of `study_dir` (a folder holding results.csv) into `image_dir` as
    <kind>.png, deleting the PNGs there that are no longer part of it; return the images in order."""
    import matplotlib

    from analysis import report
    from analysis.figures import style  # noqa: F401  its rcParams set before, not inside, the rc_context below
    from analysis.results import aggregate_seeds, base_models, read_results, split_missing_values
    from analysis.selectivity import selectivity_table
    from analysis.summary import expected_layers_table, summarize

    study_dir, image_dir = Path(study_dir), Path(image_dir)
    if not (study_dir / "results.csv").is_file():
        raise ProbesError(f"{study_dir / 'results.csv'}: results file not found; run `probes demo --out {study_dir}` "
                          "first, or name a study's output folder")
    scored, _ = split_missing_values(read_results(study_dir / "results.csv"))
    if scored.empty:
        raise ProbesError(f"{study_dir / 'results.csv'}: every row lacks a value (NaN); nothing to draw")
    models = base_models(scored)
    model = model or models[0]
    if model not in models:
        raise ProbesError(f"--model {model}: not in {study_dir / 'results.csv'} (models: {', '.join(models)})")
    agg = aggregate_seeds(scored)
    sel = selectivity_table(agg)
    exp = expected_layers_table(agg)
    summary = summarize(scored, agg=agg, exp=exp, sel=sel)
    with tempfile.TemporaryDirectory() as tmp, matplotlib.rc_context({"savefig.dpi": dpi}):
        o = report._Out(Path(tmp), ("png",), [], [])
        blocks = [b for b in report._model_sections(o, agg, sel, summary, exp, model, [])
                  if b.kind == "png"]
        drawn = {}
        prefix = report._slug(model) + "-"
        for name, block in zip(o.figures, blocks):
            kind = name[len(prefix):] if name.startswith(prefix) else name
            lang = ""
            if kind.startswith("zero-shot-"):
                kind, lang = "zero-shot", kind[len("zero-shot-"):]
            if kind not in drawn:
                drawn[kind] = block.content
                if lang:
                    zero_shot_language = lang
    captions = _captions(agg, exp, model, **({"zero_shot_language": zero_shot_language} if "zero-shot" in drawn else {}))
    image_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for kind in KINDS:
        if kind in drawn:
            _write_small_png(drawn[kind], image_dir / f"{kind}.png")
            images.append(Image(f"{kind}.png", *captions[kind]))
    for stale in set(image_dir.glob("*.png")) - {image_dir / i.name for i in images}:
        stale.unlink()
    if not images:
        raise ProbesError(f"{study_dir}: none of the gallery's figures ({', '.join(KINDS)}) could be drawn")
    return images


def _write_small_png(png: bytes, path: Path) -> None:
    """`png` written to `path` with at most 256 colours (a line figure has few; the file shrinks ~3x,
    keeping the repository small), undithered so that lines and text stay crisp."""
    import io

    from PIL import Image as PILImage

    im = PILImage.open(io.BytesIO(png)).convert("RGB")
    im.quantize(colors=256, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE).save(
        path, format="PNG", optimize=True)


def gallery_block(images: list[Image], image_dir: str) -> str:
    """The Markdown of the gallery, markers included: each image, then its caption in italics."""
    parts = [START, NOTE, ""]
    for im in images:
        parts += [f"![{im.alt}]({image_dir}/{im.name})", "", f"*{im.caption}*", ""]
    return "\n".join(parts + [END])


def replace_block(text: str, block: str, where: str = "README") -> str:
    """`text` with what lies between (and including) the gallery markers replaced by `block`."""
    a, b = text.find(START), text.find(END)
    if a < 0 or b < 0 or b < a:
        raise ProbesError(f"{where}: no gallery block; put the lines {START} and {END} where the gallery goes")
    if text.find(START, a + 1) >= 0:
        raise ProbesError(f"{where}: {START} appears twice; keep one gallery block")
    return text[:a] + block + text[b + len(END):]


def write_gallery(study_dir, readme=ROOT / "README.md", image_dir=None, *, model: str | None = None) -> list[Image]:
    """Draw the gallery of `study_dir` into `image_dir` (default docs/gallery/ beside the README) and
    rewrite the README's gallery block to show it, image paths relative to the README."""
    readme = Path(readme)
    if not readme.is_file():
        raise ProbesError(f"{readme}: README not found")
    image_dir = Path(image_dir) if image_dir is not None else readme.parent / "docs" / "gallery"
    text = readme.read_text(encoding="utf-8")
    replace_block(text, "", str(readme))  # markers checked before anything is drawn
    images = draw_gallery(study_dir, image_dir, model=model)
    rel = Path(os.path.relpath(image_dir.resolve(), readme.parent.resolve())).as_posix()
    readme.write_text(replace_block(text, gallery_block(images, rel), str(readme)), encoding="utf-8")
    return images


def main(argv: list[str] | None = None) -> int:
    """Command line: python -m analysis.gallery [STUDY_DIR] [--readme README.md] [--images DIR] [--model M]."""
    ap = argparse.ArgumentParser(prog="python -m analysis.gallery", description=__doc__.split("\n\n")[0])
    ap.add_argument("study", nargs="?", default="demo-out", help="a study's output folder (default: demo-out)")
    ap.add_argument("--readme", default=str(ROOT / "README.md"), help="the README whose gallery block is rewritten")
    ap.add_argument("--images", default=None, help="where the PNGs go (default: docs/gallery/ beside the README)")
    ap.add_argument("--model", default=None, help="the model drawn (default: the study's first)")
    args = ap.parse_args(argv)
    try:
        images = write_gallery(args.study, args.readme, args.images, model=args.model)
    except ProbesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for im in images:
        print(f"{im.name}: {im.caption}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
