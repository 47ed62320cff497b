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
table.tbl th{background:#f4f4f4;position:sticky;top:0;white-space:nowrap}table.tbl tbody tr:nth-child(even){background:#fafafa}table.tbl td:first-child,table.tbl th:first-child{text-align:left}
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


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.astype(object).itertuples(index=False):
        rows.append("<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>")
    return f'<table class="tbl"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _png_width(png: bytes, dpi: float = 200.0, scale: float = 1.3) -> str:
    """A width attribute that shows a figure at its paper size (inches at `dpi`) times `scale`, so that
    a single-column figure is not blown up to the page width (CSS max-width still caps it)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return ""
    width = int.from_bytes(png[16:20], "big")
    return f' width="{round(width / dpi * 96 * scale)}"'


def _fold(summary: str, inner: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{inner}</details>"


def _block(b: Block) -> str:
    cap = f"<figcaption>{html.escape(b.caption)}</figcaption>" if b.caption else ""
    title = f"<p class=\"note\"><b>{html.escape(b.caption)}</b></p>" if b.caption else ""
    if b.kind == "png":
        data = base64.b64encode(b.content).decode("ascii")
        return (f'<figure><img alt="{html.escape(b.caption)}"{_png_width(b.content)} '
                f'src="data:image/png;base64,{data}">{cap}</figure>')
    if b.kind == "svg":
        return f'<figure><div class="svgbox">{b.content}</div>{cap}</figure>'
    if b.kind == "table":
        inner = f'<div class="tblwrap">{_table(b.content)}</div>'
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
    for s in sections:
        anchor = f' id="{html.escape(s.anchor)}"' if s.anchor else ""
        body.append(f"<section{anchor}><h2>{html.escape(s.title)}</h2>" + "".join(_block(b) for b in s.blocks) + "</section>")
    sub = f'<p class="note">{html.escape(subtitle)}</p>' if subtitle else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><main><h1>{html.escape(title)}</h1>{sub}<nav>{nav}</nav>"
            + "".join(body) + "</main></body></html>\n")
