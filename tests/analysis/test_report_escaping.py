"""Every string that reaches report.html is escaped: a markup payload in each field stays text."""

import re
from html.parser import HTMLParser

import pandas as pd

from analysis.figures.structural import gold_tree_svg, predicted_tree_svg
from analysis.html import CSS, sort_css
from analysis.report import write_report
from tests.analysis.synthetic import (MODEL, make_beyond_layers_table, make_neuron_profile, make_results_table,
                                      make_structural_extra)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
SVG = '"><svg onload=alert(3)>'


# The only inline styles the page writes itself: a table row's sort ranks and a sortable table's grid.
OWN_STYLES = {"tr": re.compile(r"(--[rn]\d+:\d+;)*"),
              "table": re.compile(r"grid-template-columns:repeat\(\d+,minmax\(min-content,max-content\)\)")}


class _Live(HTMLParser):
    """The markup a payload could have made live: script tags (the page has none: its tables sort by
    CSS alone), event-handler attributes, images that are not the report's own embedded PNGs, inline
    styles other than the table sorting's own, and any <style> element after the page's one."""

    def __init__(self, text: str):
        super().__init__()
        self.found: list = []
        self.styles = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        names = {k for k, _ in attrs}
        if tag == "script" or any(k.startswith("on") for k in names):
            self.found.append((tag, attrs))
        if tag == "img" and not dict(attrs).get("src", "").startswith("data:image/png;base64,"):
            self.found.append((tag, attrs))
        style = dict(attrs).get("style")
        if style is not None and not (tag in OWN_STYLES and OWN_STYLES[tag].fullmatch(style)) and tag != "svg":
            self.found.append((tag, attrs))  # the dependency-tree <svg> sets its own fixed style
        if tag == "style":
            self.styles += 1
            if self.styles > 1:
                self.found.append((tag, attrs))


def live(text: str) -> list:
    return _Live(text).found


def max_table_columns(page: str) -> int:
    return max((int(n) for n in re.findall(r"grid-template-columns:repeat\((\d+),", page)), default=0)


def test_a_forged_style_or_script_would_be_found():
    assert live('<tr style="--r0:1;">') == [] and live('<tr style="--r0:1;background:url(x)">') != []
    assert live("<style>a{}</style><style>b{}</style>") != [] and live("<script>x</script>") != []


def _poisoned_results() -> pd.DataFrame:
    df = make_results_table()
    df["model"] = df["model"].str.replace(MODEL, f"m{IMG}", regex=False)
    df["task"] = df["task"].str.replace("deprel", f"dep{SCRIPT}", regex=False)
    df["eval_set"] = df["eval_set"].str.replace("en_ewt-ud-test", f"test{SVG}", regex=False)
    df["train_set"] = df["train_set"].str.replace("en_ewt-ud-train", f"train{IMG}", regex=False)
    df["interval"] = f"sentences{SCRIPT}"
    return df


def test_payload_in_every_field_is_escaped_in_report(tmp_path):
    extra = make_structural_extra()
    extra.update(model=f"m{IMG}", task=f"tree{SCRIPT}", sent_id=f"s{SVG}",
                 words=["The", IMG, SCRIPT, "on", SVG, "mat"],
                 gold_deprels=["det", SCRIPT, "root", IMG, SVG, "obl"])
    cka = pd.DataFrame([{"model": f"m{IMG}", "layer": l, "lang_a": f"en{SCRIPT}", "lang_b": "de", "cka": 0.5}
                        for l in range(3)])
    path = write_report(_poisoned_results(), tmp_path,
                        config={"name": f"run{SCRIPT}", "probe": {"kind": IMG}},
                        manifest={"name": f"run{SCRIPT}", "versions": {"torch": SVG}},
                        extras={"structural": [extra], "cka": cka}, title=None, formats=("png",))
    page = path.read_text(encoding="utf-8")
    assert live(page) == []
    # the one <style> is the page's own stylesheet and sorting rules, nothing from the results in it
    assert re.findall(r"<style>(.*?)</style>", page, re.S) == [CSS + sort_css(max_table_columns(page))]
    # The payloads are there, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count('class="displacy"') == 2  # the trees were drawn, with the escaped labels


def test_tree_svgs_escape_words_tags_and_labels():
    words = ["a", IMG, "c"]
    gold = gold_tree_svg(words, [2, 0, 2], [SCRIPT, "root", SVG])
    assert live(gold) == []
    assert "&lt;script&gt;" in gold and "&lt;img src=x" in gold
    pred = predicted_tree_svg(words, [(0, 1), (1, 2)], [2, 0, 2])
    assert live(pred) == [] and "&lt;img" in pred


def test_payloads_in_the_neurons_conditional_and_amnesic_sections_are_escaped(tmp_path):
    df = make_beyond_layers_table(lm_loss=False)
    df["model"] = f"m{IMG}"
    df["task"] = df["task"].str.replace("upos", f"pos{SCRIPT}", regex=False)
    df["eval_set"] = f"test{SVG}"
    df["covers"] = df["covers"] + SCRIPT  # captions quote what the intervals cover
    profile = make_neuron_profile(f"pos{SCRIPT}")
    profile.update(model=f"m{IMG}", labels=[SCRIPT, IMG, SVG])
    path = write_report(df, tmp_path, config={"name": "r", "probe": {"kinds": ["neurons", "conditional"]}},
                        extras={"neuron_profiles": [profile], "amnesic_notes": [f"m{IMG}: amnesic LM loss not "
                                                                               f"measured: {SVG}"]},
                        formats=("png",))
    page = path.read_text(encoding="utf-8")
    assert live(page) == []
    # the one <style> is the page's own stylesheet and sorting rules, nothing from the results in it
    assert re.findall(r"<style>(.*?)</style>", page, re.S) == [CSS + sort_css(max_table_columns(page))]
    for anchor in ("neurons", "conditional", "amnesic"):
        assert f'<section id="{anchor}">' in page
    assert "No LM-loss change is reported: amnesic LM loss not measured: &quot;&gt;&lt;svg onload=alert(3)&gt;" in page
    conditional = page[page.index('<section id="conditional">'):page.index('<section id="amnesic">')]
    assert "given layer 0)&lt;script&gt;alert(1)" in conditional  # the baseline read from the rows' covers, escaped
    assert any("label-activations" in p.name for p in (tmp_path / "figures").glob("*.png"))
