"""Statistics over tidy probing results, and the reporters: figures, tables, HTML."""
