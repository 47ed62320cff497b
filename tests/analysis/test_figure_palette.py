"""Every figure's colours come from the colour-blind-safe palette that analysis/figures/style.py names."""

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.cm import ScalarMappable
from matplotlib.collections import Collection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from analysis.figures import style
from analysis.report import write_report
from tests.analysis.synthetic import (MODEL, make_beyond_layers_table, make_neuron_profile, make_results_table,
                                      make_structural_extra)

# seaborn's "colorblind" palette (Okabe-Ito-based), as seaborn 0.13 defines it.
COLORBLIND = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
              "#56b4e9"]
# The Tenney et al. Figure 1/2 colours (ColorBrewer single-hue Blues/Purples/Oranges, told apart by lightness).
TENNEY = [style.BLUE, style.LAVENDER_FILL, style.PURPLE, style.DELTA_FILL, style.ORANGE_FILL, style.ORANGE_EDGE]
MAPS = {"cividis", "viridis", "RdBu_r"}


def test_the_line_palette_is_seaborn_colorblind_and_the_default_cycle():
    assert style.PALETTE_NAME == "colorblind"
    assert style.LINE_PALETTE.as_hex() == COLORBLIND
    assert [mcolors.to_hex(c) for c in style.plt.rcParams["axes.prop_cycle"].by_key()["color"]] == COLORBLIND
    fig, ax = style.new_figure(2, 2)
    (a,) = ax.plot([0, 1], [0, 1])  # no colour asked for: the palette's, not matplotlib's tab10
    (b,) = ax.plot([0, 1], [1, 0])
    assert [mcolors.to_hex(a.get_color()), mcolors.to_hex(b.get_color())] == COLORBLIND[:2]
    assert style.plt.rcParams["image.cmap"] == style.SEQUENTIAL == "cividis"
    style.close(fig)


def _allowed(color) -> bool:
    r, g, b, a = mcolors.to_rgba(color)
    if a == 0 or max(r, g, b) - min(r, g, b) < 1e-6:  # invisible, or a grey (black and white included)
        return True
    return mcolors.to_hex((r, g, b)) in set(COLORBLIND) | {mcolors.to_hex(c) for c in TENNEY}


def _colours(fig):
    """(artist description, colour) of every coloured artist; colour maps checked by name instead."""
    maps, out = [], []
    for art in fig.findobj():
        if isinstance(art, ScalarMappable) and getattr(art, "get_array", lambda: None)() is not None:
            maps.append(art.get_cmap().name)
            continue
        if isinstance(art, Line2D):
            cs = [art.get_color(), art.get_markerfacecolor(), art.get_markeredgecolor()]
        elif isinstance(art, Patch):
            cs = [art.get_facecolor(), art.get_edgecolor()]
        elif isinstance(art, Collection):
            cs = list(art.get_facecolors()) + list(art.get_edgecolors())
        elif isinstance(art, Text):
            cs = [art.get_color()] if art.get_text().strip() else []
        else:
            continue
        out += [(f"{type(art).__name__} {art.get_gid() or art.get_label()}", c) for c in cs
                if not (isinstance(c, str) and c == "none")]
    return maps, out


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Every figure the report draws from the synthetic tables, inspected just before it is saved."""
    seen = {}
    save = style.save_figure

    def inspect(fig, out_dir, name, formats=style.FORMATS):
        seen[name] = _colours(fig)
        return save(fig, out_dir, name, formats)

    mp = pytest.MonkeyPatch()
    mp.setattr(style, "save_figure", inspect)
    cka = pd.DataFrame([{"model": MODEL, "layer": l, "lang_a": a, "lang_b": b, "cka": 0.3 + 0.05 * l + 0.1 * i}
                        for i, (a, b) in enumerate([("en", "de"), ("en", "es"), ("de", "es")]) for l in range(5)])
    results = pd.concat([make_results_table(), make_beyond_layers_table()], ignore_index=True)
    try:
        write_report(results, tmp_path_factory.mktemp("palette"), formats=("png",),
                     extras={"structural": [make_structural_extra()], "cka": cka,
                             "neuron_profiles": [make_neuron_profile()]})
    finally:
        mp.undo()
    return seen


def test_every_figure_uses_only_the_palette(drawn):
    kinds = ["fig1", "fig2", "layer-curves", "heatmap", "selectivity", "transfer", "zero-shot", "structural", "cka",
             "neuron", "conditional", "amnesic"]
    missing = [k for k in kinds if not any(k in name for name in drawn)]
    assert not missing, f"not drawn, so not checked: {missing} (drawn: {sorted(drawn)})"
    for name, (maps, colours) in drawn.items():
        assert set(maps) <= MAPS, f"{name}: colour maps {set(maps) - MAPS}"
        bad = sorted({(what, mcolors.to_hex(c)) for what, c in colours if not _allowed(c)})
        assert not bad, f"{name}: colours outside the palette: {bad[:8]}"


def test_the_check_catches_matplotlib_defaults():
    fig, ax = style.new_figure(2, 2)
    ax.plot([0, 1], [0, 1], color="tab:red")
    ax.imshow(np.eye(3), cmap="jet")
    maps, colours = _colours(fig)
    assert "jet" in maps and not all(_allowed(c) for _, c in colours)
    style.close(fig)
