"""Tables as Markdown and LaTeX (booktabs), written without extra dependencies."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def format_cell(v, floatfmt: str = ".3f") -> str:
    """A cell as text: floats with `floatfmt`, missing values as an en dash."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–"
    if isinstance(v, float):
        return format(v, floatfmt)
    return str(v)


def _cells(df: pd.DataFrame, floatfmt: str) -> list[list[str]]:
    return [[format_cell(v, floatfmt) for v in row] for row in df.astype(object).itertuples(index=False)]


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    head = [str(c) for c in df.columns]
    num = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    esc = lambda s: s.replace("|", r"\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in head) + " |",
             "|" + "|".join("---:" if n else ":---" for n in num) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in _cells(df, floatfmt)]
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(df: pd.DataFrame, *, caption: str = "", label: str = "", floatfmt: str = ".3f") -> str:
    """A booktabs LaTeX table (needs \\usepackage{booktabs})."""
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    out = ["\\begin{table}[t]", "\\centering", "\\small", f"\\begin{{tabular}}{{{align}}}", "\\toprule",
           " & ".join(latex_escape(str(c)) for c in df.columns) + " \\\\", "\\midrule"]
    out += [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in _cells(df, floatfmt)]
    out += ["\\bottomrule", "\\end{tabular}"]
    if caption:
        out.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


def write_table(df: pd.DataFrame, out_dir, name: str, *, caption: str = "", floatfmt: str = ".3f") -> dict[str, Path]:
    """Write out_dir/name.md and out_dir/name.tex; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, tex = out_dir / f"{name}.md", out_dir / f"{name}.tex"
    md.write_text((f"**{caption}**\n\n" if caption else "") + to_markdown(df, floatfmt), encoding="utf-8")
    tex.write_text(to_latex(df, caption=caption, label=f"tab:{name}", floatfmt=floatfmt), encoding="utf-8")
    return {"md": md, "tex": tex}
