"""probes: where in a pretrained language model does it know X?

Stages: extract (per-layer word vectors, cached) -> probe (classifiers per layer) ->
analyze (scores, intervals, expected layer, transfer) -> report (figures, tables, HTML).
"""

__version__ = "0.1.0"
