"""A self-contained HTML page (inline CSS, figures as base64 PNG or inline SVG, no external links)."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field

import pandas as pd

from analysis.tables import format_cell

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin-top:1.6rem}figure{margin:1rem 0 1.6rem}figure img,figure svg{max-width:100%;height:auto}
figcaption{font-size:.88rem;color:#444;margin-top:.3rem}
.tblwrap{overflow-x:auto;max-width:100%;margin:.4rem 0 1.2rem}
table.tbl{border-collapse:collapse;font-size:.8rem;margin:0}
table.tbl th,table.tbl td{padding:.2rem .55rem;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
table.tbl th{background:#f4f4f4;position:sticky;top:0;white-space:normal;vertical-align:bottom;min-width:3.2em}
table.tbl td.txt,table.tbl th.txt,table.tbl td.long{text-align:left}table.tbl td.long{white-space:normal;min-width:16em;max-width:26em}
table.tbl tr:hover>td{background:#eef4fb}
table.sortable{display:inline-grid;max-width:100%}
table.sortable>thead,table.sortable>tbody,table.sortable tr{display:contents}
table.sortable td{order:var(--o,0)}table.sortable th{order:-1000000;z-index:1}
table.sortable th label{cursor:pointer}table.sortable th label.d{display:none}
table.sortable th label:hover{text-decoration:underline}
.sortbox{position:relative}.sortbox>input{position:absolute;opacity:0;width:1px;height:1px;margin:0;pointer-events:none}
.sorthint{font-size:.78rem;color:#666;margin:.2rem 0}.sorthint label{cursor:pointer;text-decoration:underline}
pre{background:#f6f6f6;padding:.8rem;overflow-x:auto;font-size:.8rem}
.note{color:#555;font-size:.88rem}.skipped li{color:#666;font-size:.88rem}
nav{font-size:.88rem}nav a{margin-right:.8rem}
.svgbox{overflow-x:auto;border:1px solid #eee;margin:.4rem 0}
details{margin:.5rem 0 1rem;border:1px solid #e4e4e4;border-radius:4px;padding:.3rem .7rem}
details>summary{cursor:pointer;font-size:.88rem;color:#333;font-weight:600}
details[open]>summary{margin-bottom:.4rem}
details .tblwrap{max-height:32rem;overflow:auto}
ul.findings{padding-left:1.2rem}ul.findings li{margin:.45rem 0;line-height:1.45}
.lead{font-size:1rem;line-height:1.5}
"""


@dataclass
class Block:
    """One item of a section: kind is 'png' (bytes), 'svg' (markup), 'table' (DataFrame), 'json', 'text',
    'lead' (a paragraph in body size), 'list' or 'findings' (a list of sentences)."""

    kind: str
    content: object
    caption: str = ""
    folded: bool = False  # tables and JSON: inside a closed <details> whose summary is the caption


@dataclass
class Section:
    """A titled part of the page."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""


# Tables sort without a script. Every row carries each column's rank as a CSS custom property
# (--rK; --nK:1 marks a missing value, kept last in both directions); a hidden radio button per column
# and direction comes before the table, and the checked one sets `order` on every cell of a CSS grid
# whose rows are display:contents. A column name is a <label> of its radio button, so a click sorts and
# a second click reverses. Nothing on the page runs: it sorts where scripts are blocked, and no string
# from the results can reach a script (tests/analysis/test_report_escaping.py).
SORT_MAX_ROWS = 20000  # rank properties cost ~10 bytes a cell; larger tables are shown as they are
_MISSING_LAST = 1000000  # above any reversed rank (-n..0) and below no header (-_MISSING_LAST)
LONG_TEXT = 40  # a text cell longer than this wraps (within min/max widths) instead of widening its column


def sort_ranks(col: pd.Series) -> tuple[list[int], list[bool]]:
    """Each row's ascending rank in `col` (stable; numbers by value when every present value is one,
    else text case-insensitively; missing values last) and whether its value is missing."""
    missing = col.isna().tolist()
    nums = pd.to_numeric(col, errors="coerce")
    if nums.notna().sum() == col.notna().sum():
        keys = nums.tolist()
    else:
        keys = col.astype(str).str.lower().tolist()
    order = sorted(range(len(col)), key=lambda i: (missing[i], 0 if missing[i] else keys[i]))
    rank = [0] * len(col)
    for r, i in enumerate(order):
        rank[i] = r
    return rank, missing


def sort_css(n_columns: int) -> str:
    """The rules that sort a table by each of its first `n_columns` columns, one way and the other."""
    rules = []
    for k in range(n_columns):
        a, d, th = f".sortbox>.a{k}:checked~.tblwrap", f".sortbox>.d{k}:checked~.tblwrap", f"th:nth-child({k + 1})"
        rules.append(f"{a} tr{{--o:var(--r{k})}}{d} tr{{--o:calc(var(--n{k},0)*{_MISSING_LAST} - var(--r{k}))}}"
                     f"{a} {th}>.a{{display:none}}{a} {th}>.d{{display:inline}}"
                     f'{a} {th}>.d::after{{content:" \\25B2"}}{d} {th}>.a::after{{content:" \\25BC"}}')
    return "".join(rules)


def _header(name: str) -> str:
    return html.escape(name).replace("_", "_<wbr>")  # long snake_case names may break after an underscore


def _table(df: pd.DataFrame, key: str = "t") -> str:
    """A table; sortable by any column (see above) unless it has more than SORT_MAX_ROWS rows.
    `key` makes its radio buttons' ids unique on the page."""
    text = [not pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    sortable = 0 < len(df) <= SORT_MAX_ROWS and len(df.columns)
    heads = []
    for k, c in enumerate(df.columns):
        cls = ' class="txt"' if text[k] else ""
        name = _header(str(c))
        if sortable:
            name = f'<label for="{key}a{k}" class="a">{name}</label><label for="{key}d{k}" class="d">{name}</label>'
        heads.append(f"<th{cls}>{name}</th>")
    ranks = [sort_ranks(df[c]) for c in df.columns] if sortable else []
    rows = []
    for i, row in enumerate(df.astype(object).itertuples(index=False)):
        cells = []
        for k, v in enumerate(row):
            cell = format_cell(v)
            cls = (' class="long"' if len(cell) > LONG_TEXT else ' class="txt"') if text[k] else ""
            cells.append(f"<td{cls}>{html.escape(cell)}</td>")
        style = ""
        if sortable:
            props = "".join(f"--r{k}:{r[0][i]};" + (f"--n{k}:1;" if r[1][i] else "") for k, r in enumerate(ranks))
            style = f' style="{props}"'
        rows.append(f"<tr{style}>" + "".join(cells) + "</tr>")
    grid = f' style="grid-template-columns:repeat({len(df.columns)},minmax(min-content,max-content))"' if sortable else ""
    table = (f'<table class="tbl{" sortable" if sortable else ""}"{grid}><thead><tr>{"".join(heads)}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    if not sortable:
        return f'<div class="tblwrap">{table}</div>'
    radios = f'<input type="radio" name="{key}" id="{key}o" class="o" checked aria-label="original order">' + "".join(
        f'<input type="radio" name="{key}" id="{key}{d}{k}" class="{d}{k}" aria-label="sort by {html.escape(str(c))}, '
        f'{"ascending" if d == "a" else "descending"}">' for k, c in enumerate(df.columns) for d in "ad")
    hint = (f'<p class="sorthint">Click a column name to sort by it, again to reverse; '
            f'<label for="{key}o">original order</label>.</p>')
    return f'<div class="sortbox">{radios}{hint}<div class="tblwrap">{table}</div></div>'


def _png_width(png: bytes, dpi: float = 200.0, scale: float = 1.3) -> str:
    """A width attribute that shows a figure at its paper size (inches at `dpi`) times `scale`, so that
    a single-column figure is not blown up to the page width (CSS max-width still caps it)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return ""
    width = int.from_bytes(png[16:20], "big")
    return f' width="{round(width / dpi * 96 * scale)}"'


def _fold(summary: str, inner: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{inner}</details>"


def _block(b: Block, key: str = "t") -> str:
    cap = f"<figcaption>{html.escape(b.caption)}</figcaption>" if b.caption else ""
    title = f"<p class=\"note\"><b>{html.escape(b.caption)}</b></p>" if b.caption else ""
    if b.kind == "png":
        data = base64.b64encode(b.content).decode("ascii")
        return (f'<figure><img alt="{html.escape(b.caption)}"{_png_width(b.content)} '
                f'src="data:image/png;base64,{data}">{cap}</figure>')
    if b.kind == "svg":
        return f'<figure><div class="svgbox">{b.content}</div>{cap}</figure>'
    if b.kind == "table":
        inner = _table(b.content, key)
        if b.folded:
            return _fold(f"{b.caption} ({len(b.content)} rows)" if b.caption else f"table ({len(b.content)} rows)", inner)
        return title + inner
    if b.kind == "json":
        inner = f"<pre>{html.escape(json.dumps(b.content, indent=2, sort_keys=True, default=str))}</pre>"
        return _fold(b.caption or "JSON", inner) if b.folded else title + inner
    if b.kind in ("list", "findings"):
        cls = "findings" if b.kind == "findings" else "skipped"
        inner = f'<ul class="{cls}">' + "".join(f"<li>{html.escape(str(x))}</li>" for x in b.content) + "</ul>"
        return _fold(b.caption or f"{len(b.content)} items", inner) if b.folded else title + inner
    if b.kind == "lead":
        return f'<p class="lead">{html.escape(str(b.content))}</p>'
    return f'<p class="note">{html.escape(str(b.content))}</p>'


def render_page(title: str, sections: list[Section], subtitle: str = "") -> str:
    """The whole page as one HTML string."""
    nav = "".join(f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in sections if s.anchor)
    body = []
    n = 0
    for s in sections:
        anchor = f' id="{html.escape(s.anchor)}"' if s.anchor else ""
        blocks = []
        for b in s.blocks:
            n += 1
            blocks.append(_block(b, f"t{n}-"))
        body.append(f"<section{anchor}><h2>{html.escape(s.title)}</h2>" + "".join(blocks) + "</section>")
    widest = max((len(b.content.columns) for s in sections for b in s.blocks if b.kind == "table"), default=0)
    sub = f'<p class="note">{html.escape(subtitle)}</p>' if subtitle else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}{sort_css(widest)}</style></head><body><main><h1>{html.escape(title)}</h1>{sub}<nav>{nav}</nav>"
            + "".join(body) + "</main></body></html>\n")
