"""probes: where in a pretrained language model does it know X?

Stages: extract (per-layer word vectors, cached) -> probe (classifiers per layer) ->
analyze (scores, intervals, expected layer, transfer) -> report (figures, tables, HTML).
"""

import os

__version__ = "0.1.0"

# torch's OpenMP threads spin while they wait for each other by default. When other processes share
# the cores, a spinning thread holds a core its partner needs, and the many small operations of a
# probe fit ran 10x slower (the demo's UPOS mix job: 48-50 s spinning, 3.5-5.5 s passive, on this
# 2-core machine under load; benchmarks/thread_wait.py). OpenMP reads this when torch is first
# imported, so it is set here, before any of our modules imports torch, and never over a user's value.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
