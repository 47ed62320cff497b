"""Probe classifiers trained on every layer at once, with their baselines and intervals."""
