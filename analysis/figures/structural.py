"""Structural-probe figures for one chosen sentence: gold vs predicted (MST) trees as SVGs in
displaCy's style, and the predicted squared-distance matrix beside the gold tree distances."""

from __future__ import annotations

import html
from collections import deque

import numpy as np

from analysis.figures import style
from probes.errors import ProbesError


def _check_heads(words, heads) -> None:
    if len(heads) != len(words):
        raise ProbesError(f"structural figure: {len(words)} words but {len(heads)} gold heads")
    if any(not 0 <= h <= len(words) for h in heads) or sum(h == 0 for h in heads) != 1:
        raise ProbesError(f"structural figure: gold heads must be 1-based with exactly one 0 (root), got {list(heads)}")


def gold_edges(heads) -> set[tuple[int, int]]:
    """Undirected gold edges as 0-based (i, j) pairs with i < j (the root's attachment excluded)."""
    return {tuple(sorted((i, h - 1))) for i, h in enumerate(heads) if h > 0}


def tree_distances(heads) -> np.ndarray:
    """Path lengths between all words of a dependency tree given 1-based heads (0 = root)."""
    n = len(heads)
    adj = [[] for _ in range(n)]
    for i, j in gold_edges(heads):
        adj[i].append(j)
        adj[j].append(i)
    dist = np.full((n, n), -1, dtype=int)
    for s in range(n):
        dist[s, s] = 0
        q = deque([s])
        while q:
            u = q.popleft()
            for v in adj[u]:
                if dist[s, v] < 0:
                    dist[s, v] = dist[s, u] + 1
                    q.append(v)
    if (dist < 0).any():
        raise ProbesError(f"structural figure: gold heads {list(heads)} do not form one tree")
    return dist


def _svg(words, arcs, tags, arrows: bool = True) -> str:
    """A dependency-tree SVG in displaCy's compact style (its class names kept), drawn here so that a
    report does not import spaCy (and torch with it) for two pictures. Arcs are brackets: an arc sits
    one level above every arc inside its span, so nested labels never collide; the arcs meeting at a
    word get their own x offsets there, so no two ends or arrowheads are stacked. Every word, tag and
    label is escaped: the SVG is inlined in report.html and a DEPREL could otherwise carry markup."""
    n = len(words)
    widest = max((len(str(w)) for w in words), default=1)
    step = max(95, 8 * widest + 30)
    x0, level_h, font = 40, 24, 14
    spans = [(int(a["start"]), int(a["end"])) for a in arcs]
    level = [0] * len(arcs)
    for k in sorted(range(len(arcs)), key=lambda k: spans[k][1] - spans[k][0]):
        a0, b0 = spans[k]
        inner = [level[j] for j in range(len(arcs)) if j != k and a0 <= spans[j][0] and spans[j][1] <= b0
                 and spans[j] != spans[k] and spans[j][1] - spans[j][0] < b0 - a0]
        level[k] = 1 + max(inner, default=0)
    # x offset of each arc's end at each word: the outer (farther) arcs further out
    offset: dict[tuple[int, int], float] = {}
    for w in range(n):
        left = sorted((k for k, (a0, b0) in enumerate(spans) if b0 == w), key=lambda k: spans[k][0])
        right = sorted((k for k, (a0, b0) in enumerate(spans) if a0 == w), key=lambda k: -spans[k][1])
        for i, k in enumerate(left):
            offset[(k, w)] = -7.0 * (len(left) - i)
        for i, k in enumerate(right):
            offset[(k, w)] = 7.0 * (len(right) - i)
    top = max(level, default=0) * level_h + 22
    base = top + 4
    height = base + 2 * font + (22 if any(tags) else 8)
    width = x0 * 2 + step * max(n - 1, 0)
    x = [x0 + step * i for i in range(n)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="displacy" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" style="max-width:none;background:#ffffff;color:#000000;'
           f'font-family:Arial,Helvetica,sans-serif">']
    for i, (w, t) in enumerate(zip(words, tags)):
        out.append(f'<text class="displacy-token" fill="currentColor" text-anchor="middle" y="{base + font + 6}">'
                   f'<tspan class="displacy-word" fill="currentColor" x="{x[i]}">{html.escape(str(w))}</tspan>'
                   f'<tspan class="displacy-tag" dy="1.6em" fill="currentColor" x="{x[i]}">{html.escape(str(t))}</tspan></text>')
    for k, arc in enumerate(arcs):
        a0, b0 = spans[k]
        xa, xb = x[a0] + offset[(k, a0)], x[b0] + offset[(k, b0)]
        y = base - level[k] * level_h
        out.append(f'<g class="displacy-arrow"><path class="displacy-arc" stroke-width="1.5px" '
                   f'd="M{xa:.1f},{base} {xa:.1f},{y} {xb:.1f},{y} {xb:.1f},{base}" fill="none" stroke="currentColor"/>')
        label = html.escape(str(arc.get("label", "")))
        if label:
            out.append(f'<text class="displacy-label" x="{(xa + xb) / 2:.1f}" y="{y - 4}" text-anchor="middle" '
                       f'font-size="12" fill="currentColor">{label}</text>')
        if arrows:
            # the arrow points at the dependent: the left end for dir 'left', the right end otherwise
            xe = xa if arc.get("dir") == "left" else xb
            out.append(f'<path class="displacy-arrowhead" d="M{xe:.1f},{base + 2} L{xe - 4:.1f},{base - 6} '
                       f'{xe + 4:.1f},{base - 6}" fill="currentColor"/>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def gold_tree_svg(words, heads, deprels=None) -> str:
    """The gold dependency tree as a displaCy SVG (arrows point to the dependent, labels = deprels)."""
    _check_heads(words, heads)
    arcs = []
    for i, h in enumerate(heads):
        if h == 0:
            continue
        j = h - 1
        arcs.append({"start": min(i, j), "end": max(i, j), "label": deprels[i] if deprels else "",
                     "dir": "left" if i < j else "right"})
    tags = ["ROOT" if h == 0 else "" for h in heads]
    return _svg(words, arcs, tags)


def predicted_tree_svg(words, predicted_edges, heads=None) -> str:
    """The predicted tree (undirected edges of the minimum spanning tree over predicted distances) as a
    displaCy SVG without arrowheads; with gold heads, each edge is labelled ✓ (gold edge) or ✗."""
    n = len(words)
    gold = gold_edges(heads) if heads is not None else None
    if heads is not None:
        _check_heads(words, heads)
    arcs = []
    for e in predicted_edges:
        i, j = int(e[0]), int(e[1])
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ProbesError(f"structural figure: predicted edge {tuple(e)} is not a pair of word indices 0..{n - 1}")
        a, b = sorted((i, j))
        label = "" if gold is None else ("✓" if (a, b) in gold else "✗")
        arcs.append({"start": a, "end": b, "label": label, "dir": "right"})
    # The MST's edges have no direction: no arrowheads.
    return _svg(words, arcs, [""] * n, arrows=False)


def plot_distance_matrices(predicted, words, heads=None, gold=None, *, title: str | None = None):
    """Predicted squared distances beside gold tree distances (computed from `heads` unless `gold` is given)."""
    pred = np.asarray(predicted, dtype=float)
    n = len(words)
    if pred.shape != (n, n):
        raise ProbesError(f"structural figure: predicted distances have shape {pred.shape}, expected ({n}, {n})")
    if gold is None:
        if heads is None:
            raise ProbesError("structural figure: need gold heads or a gold distance matrix")
        _check_heads(words, heads)
        gold = tree_distances(heads)
    gold = np.asarray(gold, dtype=float)
    if gold.shape != (n, n):
        raise ProbesError(f"structural figure: gold distances have shape {gold.shape}, expected ({n}, {n})")
    # One colour scale for both panels: the probe is trained so that squared distances match tree distances.
    vmax = float(max(np.nanmax(pred), np.nanmax(gold)))
    side = min(3.1, 1.2 + 0.2 * n)
    fontsize = 7 if n <= 16 else 6 if n <= 24 else 5
    # Side by side; one above the other in a single paper column, too narrow for two labelled matrices.
    beside = style.grid_columns(2) == 2
    if beside:
        # a title's line reserved above the panel titles (at the default top of 0.88 they touched it)
        height = side + (0.65 if title else 0.5)
        fig, axes = style.new_figure(style.figure_width(2 * side + 1.4), height, ncols=2,
                                     gridspec_kw={"wspace": 0.08, "top": 1 - (0.55 if title else 0.4) / height})
    else:
        fig, axes = style.new_figure(style.figure_width(side + 1.0), 2 * side + 1.4, nrows=2,
                                     gridspec_kw={"hspace": 0.55})
    for k, (ax, mat, name) in enumerate(zip(axes, (pred, gold), ("predicted (squared distance)", "gold (tree distance)"))):
        im = ax.imshow(mat, cmap=style.SEQUENTIAL, vmin=0, vmax=vmax, gid=name)
        ax.set_xticks(range(n), words, rotation=90, fontsize=fontsize)
        # side by side, the row labels once, on the left panel: on the right they would run into it
        ax.set_yticks(range(n), words, fontsize=fontsize)
        ax.tick_params(axis="y", labelleft=k == 0 or not beside)
        ax.set_title(name)
        for side_ in ("top", "right"):
            ax.spines[side_].set_visible(True)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="distance (one scale for both panels)",
                 location="right" if beside else "bottom")
    if title:
        # anchored to the top panel's edge, which its equal aspect sets only when drawn: a figure-level
        # title stood 0.15 in above the panels at one width, 0.36 in at another; centred over the pair
        from matplotlib.font_manager import FontProperties

        rc = style.plt.rcParams
        above = rc["axes.titlepad"] + 1.25 * float(FontProperties(size=rc["axes.titlesize"]).get_size_in_points()) + 5
        axes[0].annotate(style.wrap(title), xy=(1.04 if beside else 0.5, 1.0), xycoords="axes fraction",
                         xytext=(0, above), textcoords="offset points", ha="center", va="bottom", fontsize=9,
                         gid="title")
    return fig
