"""Shared figure style: the Agg backend, paper-size fonts, colour-blind-safe colours, paper widths, saving."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import matplotlib
import numpy as np

matplotlib.use("Agg")  # figures are files; never open a window (servers, CI, no display)
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

# Tenney, Das & Pavlick (2019), Figures 1 and 2 (ColorBrewer Blues/Purples/Oranges).
BLUE = "#3182bd"
LAVENDER_FILL = "#D5D2E7"
PURPLE = "#756bb1"
DELTA_FILL = "#efedf5"
ORANGE_FILL = "#fd8d3c"
ORANGE_EDGE = "#e6550d"
PANEL_GREY = "#f2f2f2"
BAND = "#f7f7f7"
# Lines: seaborn's "colorblind" palette (Okabe-Ito-based, distinguishable under the common colour-vision
# deficiencies), also matplotlib's default colour cycle below, so that a line drawn without a colour gets
# it rather than tab10. Maps: cividis (sequential, made for colour-vision deficiency) and ColorBrewer
# RdBu (diverging, marked colour-blind safe by ColorBrewer).
PALETTE_NAME = "colorblind"
LINE_PALETTE = sns.color_palette(PALETTE_NAME)
SEQUENTIAL = "cividis"
DIVERGING = "RdBu_r"
BASELINE_GREY = "#555555"

# A double-column paper is ~6.9 in wide, a single column ~3.3 in: fonts chosen to stay >= 7 pt there.
RC = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "figure.dpi": 100, "savefig.dpi": 200, "axes.spines.top": False,
    "axes.spines.right": False, "svg.fonttype": "none", "pdf.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=LINE_PALETTE.as_hex()), "image.cmap": SEQUENTIAL,
}
plt.rcParams.update(RC)

FORMATS = ("png", "svg", "pdf")
VECTOR_FORMATS = ("svg", "pdf")

# Paper sizes: the text widths of a two-column paper (ACL, IEEE, NeurIPS-style two-column ~3.3 in per
# column, ~6.9 in across). A figure drawn at a paper size is exactly that wide, fonts at their set sizes.
PAPER_WIDTHS = {"single": 3.3, "double": 6.9}
_paper: Optional[str] = None  # the paper column being drawn for, None on screen (the report's figures)


@contextmanager
def paper_column(column: str) -> Iterator[None]:
    """Draw figures for a paper column ('single' or 'double'): grids and legends reflow to its width."""
    global _paper
    if column not in PAPER_WIDTHS:
        raise ValueError(f"paper column {column!r}: choose one of {', '.join(PAPER_WIDTHS)}")
    previous, _paper = _paper, column
    try:
        yield
    finally:
        _paper = previous


def single_column() -> bool:
    """Whether figures are being drawn for a single paper column (3.3 in)."""
    return _paper == "single"


def grid_columns(n_panels: int, screen: int = 2, single: int = 1) -> int:
    """Panels per row: `screen` on screen and across a double column, `single` in a single column."""
    return max(1, min(n_panels, single if _paper == "single" else screen))


def figure_width(screen: float) -> float:
    """A figure's width: `screen` inches on screen, else its paper column's width (a multi-panel grid
    drawn for a single column has one panel per row, see grid_columns)."""
    return screen if _paper is None else PAPER_WIDTHS[_paper]


def legend_columns(screen: int, labels, width: float, fontsize: Optional[float] = None) -> int:
    """Legend columns for `labels`: at most `screen`, and on a paper size no more than fit in `width`
    inches (the labels measured in the legend font, with matplotlib's default handle and spacing)."""
    labels = [str(x) for x in labels]
    n = max(1, min(len(labels), screen))
    if _paper is None:
        return n
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    size = fontsize or plt.rcParams["legend.fontsize"]
    size = FontProperties(size=size).get_size_in_points()
    measure = TextToPath()
    text = [measure.get_text_width_height_descent(x, FontProperties(size=size), ismath=False)[0] / 72 for x in labels]
    em = size / 72
    rc = plt.rcParams
    for ncol in range(n, 1, -1):
        # entries fill columns as matplotlib's Legend does: the first len % ncol columns one row longer
        rows, longer = divmod(len(text), ncol)
        sizes = [rows + 1] * longer + [rows] * (ncol - longer)
        starts = np.cumsum([0] + sizes)
        cols = [max(text[a:b], default=0.0) for a, b in zip(starts[:-1], starts[1:])]
        total = sum(c + (rc["legend.handlelength"] + rc["legend.handletextpad"]) * em for c in cols)
        total += ((ncol - 1) * rc["legend.columnspacing"] + 2 * rc["legend.borderpad"]) * em
        if total <= width - 2 * rc["savefig.pad_inches"] - 0.05:  # the saved box pads the drawing on each side
            return ncol
    return 1


def outside_legend(ax, fontsize="small"):
    """The axes' legend where it never covers data: beside the axes on the right, or, in a single paper
    column (too narrow to share), under the axes and their x label."""
    if _paper != "single":
        return ax.legend(frameon=False, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _, labels = ax.get_legend_handles_labels()
    ncol = legend_columns(3, labels, PAPER_WIDTHS["single"], fontsize)
    below = 0.42 / max(ax.get_position().height * ax.figure.get_figheight(), 0.5)  # x ticks + label, in axes units
    return ax.legend(frameon=False, fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, -below), ncol=ncol)


def wrap(text: str, fontsize: float = 9.0) -> str:
    """`text` as is, or broken into lines that fit a single paper column (titles, notes)."""
    if _paper != "single":
        return text
    import textwrap

    chars = int(PAPER_WIDTHS["single"] * 72 / (0.56 * fontsize))  # DejaVu Sans averages ~0.56 em a character
    return "\n".join(textwrap.fill(line, chars) for line in str(text).split("\n"))


def fit_width(fig, width: float, tries: int = 5, tol: float = 0.01):
    """Resize `fig` (its height kept) until its tight bounding box is `width` inches wide (within `tol`);
    return that box. Where the width cannot be reached (text wider than the column), the figure keeps
    the size that came nearest without squeezing its axes: a figure the box no longer follows."""
    def measure(w: float):
        fig.set_size_inches(w, fig.get_figheight())
        return fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])

    w0 = fig.get_figwidth()
    b0 = measure(w0)
    best = (abs(b0.width - width), w0, b0)
    w1 = max(0.5, w0 + width - b0.width)
    for _ in range(tries - 1):
        if best[0] <= tol * width:
            break
        b1 = measure(w1)
        if abs(b1.width - width) < best[0]:
            best = (abs(b1.width - width), w1, b1)
        slope = (b1.width - b0.width) / (w1 - w0) if abs(w1 - w0) > 1e-6 else 1.0
        if slope < 0.2:  # the box no longer follows the figure: its widest part is text, not axes
            break
        w0, b0 = w1, b1
        w1 = max(0.5, w1 + (width - b1.width) / slope)
    _, w, box = best
    if abs(fig.get_figwidth() - w) > 1e-9:
        box = measure(w)
    return box


def save_paper_copy(fig, out_dir, name: str, column: str, formats=VECTOR_FORMATS) -> dict[str, Path]:
    """Write the figure, fitted to `column`'s width, as out_dir/name.<fmt> for each vector format."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bbox = fit_width(fig, PAPER_WIDTHS[column])
    paths = {}
    for fmt in formats:
        p = out_dir / f"{name}.{fmt}"
        fig.savefig(p, format=fmt, bbox_inches=bbox, metadata=_metadata(fmt))
        paths[fmt] = p
    return paths


def new_figure(width: float, height: float, **kwargs):
    """A figure (and axes, as plt.subplots) of the given size in inches."""
    return plt.subplots(figsize=(width, height), **kwargs)


def panel_grid(n: int, ncols: int, panel_height: float, single_width: float = 3.4, extra_height: float = 0.5,
               **kwargs):
    """(figure, axes (rows, columns)) for ``n`` panels, ``ncols`` to a row, on a double-column page
    (one column wide for a single panel); the unused axes of the last row are hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    width = 6.9 if ncols > 1 else single_width
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows + extra_height), squeeze=False,
                             **kwargs)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def legend_below(fig, handles: dict, ncol: int, line: float = 0.16, pad: float = 0.1) -> None:
    """Lay the panels out above a strip that holds one legend of ``handles`` ({label: artist}) in
    ``ncol`` columns, so that the legend never covers data or axis labels."""
    ncol = max(1, min(ncol, len(handles)))
    strip = (line * -(-len(handles) // ncol) + pad) / fig.get_figheight()
    fig.tight_layout(rect=(0, strip, 1, 1))
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=ncol, frameon=False,
               bbox_to_anchor=(0.5, 0.0))


def save_figure(fig, out_dir, name: str, formats=FORMATS) -> dict[str, Path]:
    """Write the figure as out_dir/name.<fmt> for each format; return the paths by format."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # bbox_inches="tight" makes every savefig render the figure twice (a dry run to measure it, then
    # the real one): measure it once here and give every format the same box.
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    paths = {}
    for fmt in formats:
        p = out_dir / f"{name}.{fmt}"
        fig.savefig(p, format=fmt, bbox_inches=bbox, metadata=_metadata(fmt))
        paths[fmt] = p
    return paths


def _metadata(fmt: str):
    # Fixed metadata keeps SVG/PDF outputs byte-stable across runs (no creation dates).
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return None


def integer_layers(ax) -> None:
    """Layer axes get integer ticks only."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def close(fig) -> None:
    """Release a figure's memory."""
    plt.close(fig)
