"""Shared figure style: the Agg backend, paper-size fonts, colour-blind-safe colours, saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

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
# Okabe-Ito-based seaborn palette for lines; sequential maps safe for colour-vision deficiency.
LINE_PALETTE = sns.color_palette("colorblind")
SEQUENTIAL = "cividis"
BASELINE_GREY = "#555555"

# A double-column paper is ~6.9 in wide, a single column ~3.3 in: fonts chosen to stay >= 7 pt there.
RC = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "figure.dpi": 100, "savefig.dpi": 200, "axes.spines.top": False,
    "axes.spines.right": False, "svg.fonttype": "none", "pdf.fonttype": 42,
}
plt.rcParams.update(RC)

FORMATS = ("png", "svg", "pdf")


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
