"""Shared fixtures: tiny random models of every Hugging Face family, built once per session."""

from __future__ import annotations

import pytest

from tests.extract.tiny_models import build


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """tiny(family) -> directory of a tiny random model of that family (built once per session)."""
    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, str] = {}

    def get(family: str) -> str:
        if family not in built:
            built[family] = build(family, root)
        return built[family]

    return get


@pytest.fixture(scope="module")
def bert(tiny):
    """The tiny BERT's directory."""
    return tiny("bert")


@pytest.fixture(scope="module")
def loaded(bert):
    """The tiny BERT loaded on the CPU, once per test module (tests may patch its forward and restore it)."""
    import torch

    from probes.extract.loading import load_model

    return load_model(bert, device=torch.device("cpu"))
