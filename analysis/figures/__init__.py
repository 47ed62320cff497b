"""Paper-style figures drawn with matplotlib/seaborn on the Agg backend (no display needed)."""
