"""Fixtures of the analysis tests: the synthetic results table (tests/analysis/synthetic.py)."""

import pandas as pd
import pytest

from tests.analysis.synthetic import make_results_table, make_structural_extra


@pytest.fixture
def results() -> pd.DataFrame:
    return make_results_table()


@pytest.fixture
def structural_extra() -> dict:
    return make_structural_extra()
