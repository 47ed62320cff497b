"""The report's tables sort by any column without a script: ranks per row, one radio button per
column and direction, and the rules that order the cells by the checked one."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.html import Block, Section, render_page, sort_css, sort_ranks


def test_ranks_sort_numbers_by_value_text_without_case_and_missing_values_last():
    assert sort_ranks(pd.Series([0.5, np.nan, 10.0, -1.0, 0.5])) == ([1, 4, 3, 0, 2], [False, True, False, False, False])
    assert sort_ranks(pd.Series(["b", "A", None, "c"]))[0] == [1, 0, 3, 2]
    assert sort_ranks(pd.Series(["9", 10, "x"]))[0] == [1, 0, 2]  # not all numbers: compared as text ("10" < "9")
    assert sort_ranks(pd.Series([2, 10, 1], dtype=object))[0] == [1, 2, 0]  # numbers held as objects


def test_a_table_carries_ranks_radio_buttons_and_labels():
    df = pd.DataFrame({"task": ["upos", "deprel", "ner"], "best_value": [0.9, np.nan, 0.7]})
    page = render_page("t", [Section("s", [Block("table", df, "cap")])])
    rows = re.findall(r'<tr style="([^"]*)">', page)
    assert rows == ["--r0:2;--r1:1;", "--r0:0;--r1:2;--n1:1;", "--r0:1;--r1:0;"]
    ids = re.findall(r'<input type="radio" name="t1-" id="([^"]+)"', page)
    assert ids == ["t1-o", "t1-a0", "t1-d0", "t1-a1", "t1-d1"]
    assert '<label for="t1-a1" class="a">best_<wbr>value</label><label for="t1-d1" class="d">best_<wbr>value</label>' in page
    assert '<label for="t1-o">original order</label>' in page
    assert "<script" not in page
    # one rule per column and direction: ascending orders cells by --rK, descending by -rK with missing last
    assert ".sortbox>.a1:checked~.tblwrap tr{--o:var(--r1)}" in page
    assert ".sortbox>.d1:checked~.tblwrap tr{--o:calc(var(--n1,0)*1000000 - var(--r1))}" in page
    assert ".sortbox>.a2:" not in page  # rules for as many columns as the widest table has


def test_descending_order_keeps_missing_values_last():
    # what the rule computes: order = n*1000000 - r; ascending order = r
    ranks, missing = sort_ranks(pd.Series([0.9, np.nan, 0.7, 0.8]))
    desc = [int(m) * 1000000 - r for r, m in zip(ranks, missing)]
    assert [x for _, x in sorted(zip(desc, [0.9, np.nan, 0.7, 0.8]))][:3] == [0.9, 0.8, 0.7]
    assert sorted(zip(desc, range(4)))[-1][1] == 1  # the missing value last
    assert "--r2" in sort_css(3) and "--r3" not in sort_css(3)
