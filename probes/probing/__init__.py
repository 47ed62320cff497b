"""Probe classifiers trained on every layer at once, with their baselines and intervals.

Where things are:

* ``linear.py`` LinearProbe (multinomial logistic regression, batched L-BFGS in ``lbfgs.py``),
  ``mlp.py`` MLPProbe (Hewitt & Liang's MLP-1), ``mix.py`` ScalarMixProbe (scalar mix and
  cumulative mixes), ``edge.py`` EdgeProbe (Tenney et al.'s span classifier),
  ``structural.py`` DistanceProbe / DepthProbe (Hewitt & Manning); all share ``base.py`` /
  ``features.py`` (layer stacking, chunked reading, standardisation).
* ``metrics.py`` classification scores, ``structural_metrics.py`` UUAS / DSpr / NSpr / root
  accuracy, ``bootstrap.py`` sentence-bootstrap intervals and aggregation over seeds,
  ``mdl.py`` online codelength (bits).
* ``api.py`` the entry points that read caches + TaskData and return ResultRows:
  ``probe_layers``, ``structural_layers``, ``mdl_layers``, ``majority_rows``, and
  ``fit_probe`` / ``fit_structural`` / ``structural_predictions`` for reports.
"""
