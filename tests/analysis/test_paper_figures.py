"""Figures at paper sizes: every figure also drawn for one column (3.3 in) and two (6.9 in), its panels and
legend reflowed to fit, saved as SVG and PDF exactly that wide with the fonts embedded."""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pandas as pd
import pytest

from analysis.figures import curves, style
from analysis.report import write_report
from analysis.results import aggregate_seeds
from tests.analysis.synthetic import LINEAR, MODEL, make_results_table, make_structural_extra


def _svg_width_in(path) -> float:
    return float(re.search(r'<svg[^>]* width="([\d.]+)pt"', path.read_text(encoding="utf-8")).group(1)) / 72


def test_every_figure_at_both_paper_widths_as_svg_and_pdf(tmp_path):
    write_report(make_results_table(), tmp_path, extras={"structural": [make_structural_extra()]}, paper_sizes=True)
    figs = tmp_path / "figures"
    stems = {p.stem for p in figs.glob("*.png")}
    for column, width in style.PAPER_WIDTHS.items():
        folder = figs / "paper" / f"{column}-column"
        assert {p.stem for p in folder.glob("*.svg")} == {p.stem for p in folder.glob("*.pdf")} == stems
        widths = {p.stem: _svg_width_in(p) for p in folder.glob("*.svg")}
        # exactly the column's width (1%), or a little narrower where text sets the width (never wider)
        assert all(0.9 * width <= w <= 1.01 * width for w in widths.values()), (column, sorted(widths.items()))
        assert abs(widths[f"{MODEL}-layer-curves"] - width) <= 0.01 * width
        assert b"/FontFile2" in (folder / f"{MODEL}-layer-curves.pdf").read_bytes()  # TrueType embedded
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "figures/paper/single-column/ and figures/paper/double-column/" in page


def test_paper_sizes_are_off_by_default_and_said_how_to_get(tmp_path):
    write_report(make_results_table(), tmp_path)
    assert not (tmp_path / "figures" / "paper").exists()
    assert "with `probes report DIR --paper-sizes`" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_single_column_has_one_panel_per_row_and_a_legend_that_fits(results):
    agg = aggregate_seeds(results)
    screen = curves.plot_layer_curves(agg, model=MODEL)
    with style.paper_column("single"):
        single = curves.plot_layer_curves(agg, model=MODEL)
    lefts = lambda fig: sorted({round(a.get_position().x0, 3) for a in fig.axes if a.get_visible()})  # noqa: E731
    assert len(lefts(screen)) == 2 and len(lefts(single)) == 1
    assert len(single.axes) == len([a for a in screen.axes if a.get_visible()])  # no empty cell in one column
    (legend,) = single.legends
    assert legend._ncols <= 2
    style.fit_width(single, style.PAPER_WIDTHS["single"])
    box = legend.get_window_extent(single.canvas.get_renderer())
    assert box.width / single.dpi <= style.PAPER_WIDTHS["single"]
    style.close(screen)
    style.close(single)


def test_legend_columns_count_what_fits():
    labels = ["structural-distance, random-init model", "linear", "cumulative, control task", "majority class"]
    assert style.legend_columns(4, labels, 6.9) == 4  # on screen: as asked
    with style.paper_column("single"):
        assert style.legend_columns(4, labels, 3.3) == 1
        assert style.legend_columns(4, ["en", "de", "es", "zh"], 3.3) == 4
    with style.paper_column("double"):
        assert style.legend_columns(4, labels, 6.9) == 4  # one row of four fits across two columns
        assert style.legend_columns(4, labels * 2, 6.9) in (2, 3)  # two rows of four would not
    with pytest.raises(ValueError):
        with style.paper_column("triple"):
            pass


def test_fit_width_reaches_the_width_or_stops_where_text_sets_it():
    fig, ax = style.new_figure(5.0, 2.0)
    ax.plot(np.arange(5), np.arange(5))
    box = style.fit_width(fig, 3.3)
    assert abs(box.width - 3.3) <= 0.033
    fig.suptitle("a title far wider than one column of a paper could ever hold, in nine point type", fontsize=9)
    box = style.fit_width(fig, 3.3)
    assert box.width > 3.3 and fig.get_figwidth() > 1.0  # the axes were not squeezed to nothing
    style.close(fig)


@pytest.mark.parametrize("column", [None, "single", "double"])
def test_heatmap_values_fit_their_cells_at_every_width(results, column):
    # seven layers (as the demo's MiniLM) of two tasks: in one column, layers as columns left 0.92 wider than its cell
    df = results[results["layer"] <= 4]
    df = pd.concat([df] + [df[df["layer"].between(3, 4)].assign(layer=lambda d, k=k: d["layer"] + k) for k in (2,)],
                   ignore_index=True)
    agg = aggregate_seeds(df)
    with (style.paper_column(column) if column else contextlib.nullcontext()):
        fig = curves.plot_layer_task_heatmap(agg, model=MODEL, probe="linear")
    try:
        if column:
            style.fit_width(fig, style.PAPER_WIDTHS[column])
        ax = fig.axes[0]
        fig.set_dpi(400)  # text measured at 100 dpi snaps to whole pixels
        renderer = fig.canvas.get_renderer()
        n_layers = 7
        assert len(ax.texts) == 2 * n_layers
        (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (1, 1)])
        cell_w, cell_h = abs(x1 - x0), abs(y1 - y0)
        for t in ax.texts:
            box = t.get_window_extent(renderer)
            assert box.width < 0.9 * cell_w and box.height < 0.9 * cell_h, (column, t.get_text(), box.width, cell_w)
        labels = [t.get_text() for t in (ax.get_yticklabels() if column == "single" else ax.get_xticklabels())]
        assert labels == [str(l) for l in range(n_layers)]  # one column: the layers are the rows
    finally:
        style.close(fig)


def test_a_single_column_heatmap_names_its_one_metric_once(results):
    agg = aggregate_seeds(results)
    with style.paper_column("single"):
        fig = curves.plot_layer_task_heatmap(agg, model=MODEL, probe="linear")
    try:
        ax, bar = fig.axes
        assert [t.get_text() for t in ax.get_xticklabels()] == ["upos", "deprel"]
        assert bar.get_ylabel() == "score (accuracy)"
        cells = np.asarray(ax.collections[0].get_array()).reshape(5, 2)  # layers as rows
        assert cells[:, 0] == pytest.approx(LINEAR["upos"]) and cells[:, 1] == pytest.approx(LINEAR["deprel"])
    finally:
        style.close(fig)


@pytest.mark.parametrize("column", [None, "single", "double"])
def test_transfer_values_are_readable_and_fit_their_cells(results, column):
    from analysis.figures import transfer as tfig
    from analysis.transfer import parallel_view, transfer_matrices

    agg = aggregate_seeds(results)
    pv = parallel_view(agg, model=MODEL, task="upos", probe="linear", metric="accuracy")
    mats = transfer_matrices(pv, model=MODEL, task="upos", probe="linear", metric="accuracy")
    mats = {**mats, 5: mats[4], 6: mats[3]}  # the demo's crowding: seven layers, five tasks of four languages
    panels = {f"task{i}\nlinear probe, accuracy": mats for i in range(5)}
    with (style.paper_column(column) if column else contextlib.nullcontext()):
        fig = tfig.plot_transfer_matrix(panels, title="transfer")
    try:
        if column:
            style.fit_width(fig, style.PAPER_WIDTHS[column])
        fig.set_dpi(400)  # text measured at 100 dpi snaps to whole pixels (5.5 to 6 pt all 18 px wide)
        renderer = fig.canvas.get_renderer()
        heat = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("transfer:")]
        assert len(heat) == 5
        for ax in heat:
            assert len(ax.texts) == 7 * 4 and all(t.get_fontsize() >= 6.5 for t in ax.texts)
            (x0, _), (x1, _) = ax.transData.transform([(0, 0), (1, 1)])
            assert max(t.get_window_extent(renderer).width for t in ax.texts) < 0.9 * abs(x1 - x0)
    finally:
        style.close(fig)


@pytest.mark.parametrize("column", [None, "single", "double"])
def test_the_structural_title_clears_the_panel_titles(structural_extra, column):
    from analysis.figures import structural

    e = structural_extra
    with (style.paper_column(column) if column else contextlib.nullcontext()):
        fig = structural.plot_distance_matrices(e["predicted_distances"], e["words"], e["gold_heads"],
                                                title="model tiny-bert, task tree, layer 2, sent_id s1")
    try:
        if column:
            style.fit_width(fig, style.PAPER_WIDTHS[column])
        fig.set_dpi(400)
        fig.canvas.draw()  # the panels' equal aspect sets their height only when drawn
        renderer = fig.canvas.get_renderer()
        (title,) = [t for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text().startswith("model tiny-bert")]
        top_row = fig.axes[:1] if column == "single" else fig.axes[:2]  # one column: the panels one above the other
        gaps = [title.get_window_extent(renderer).y0 - ax.title.get_window_extent(renderer).y1 for ax in top_row]
        # between the figure's title and the panels' (they touched): at least 4 pt, and at most
        # 12 pt at every width (a figure-level title stood 26 pt above them on screen, 36 pt in one column)
        assert 4 / 72 * 400 < min(gaps) and max(gaps) < 12 / 72 * 400, gaps
    finally:
        style.close(fig)
