"""Structural-probe figures for one chosen sentence: gold vs predicted (MST) trees as displaCy
SVGs, and the predicted squared-distance matrix beside the gold tree distances."""

from __future__ import annotations

import html
import re
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


def _svg(words, arcs, tags) -> str:
    from spacy import displacy

    # displaCy escapes word texts but puts tags and arc labels into the SVG as given: escape those
    # here, since the SVG is inlined in report.html and a DEPREL could otherwise carry markup.
    arcs = [dict(a, label=html.escape(str(a["label"]))) for a in arcs]
    doc = {"words": [{"text": str(w), "tag": html.escape(str(t))} for w, t in zip(words, tags)], "arcs": arcs}
    return displacy.render(doc, style="dep", manual=True, jupyter=False,
                           options={"compact": True, "distance": 95, "offset_x": 40})


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
    svg = _svg(words, arcs, [""] * n)
    # The MST's edges have no direction: drop displaCy's arrowheads.
    return re.sub(r'<path class="displacy-arrowhead"[^>]*/>', "", svg)


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
    fig, axes = style.new_figure(2 * side + 1.4, side + 0.5, ncols=2,
                                 gridspec_kw={"wspace": 0.08})
    for k, (ax, mat, name) in enumerate(zip(axes, (pred, gold), ("predicted (squared distance)", "gold (tree distance)"))):
        im = ax.imshow(mat, cmap=style.SEQUENTIAL, vmin=0, vmax=vmax, gid=name)
        ax.set_xticks(range(n), words, rotation=90, fontsize=fontsize)
        # the row labels once, on the left panel: on the right they would run into the left panel
        ax.set_yticks(range(n), words, fontsize=fontsize)
        ax.tick_params(axis="y", labelleft=k == 0)
        ax.set_title(name)
        for side_ in ("top", "right"):
            ax.spines[side_].set_visible(True)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="distance (one scale for both panels)")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
