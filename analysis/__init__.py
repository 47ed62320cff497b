"""Statistics over tidy probing results, and the reporters: figures, tables, HTML.

See docs/analysis.md; the entry point is analysis.report.write_report.
"""
