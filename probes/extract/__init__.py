"""Extraction: a model and sentences -> per-layer, word-level vectors cached on disk."""
