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
