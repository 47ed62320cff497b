import numpy as np
import pytest
import torch

from probes.errors import ProbesError
from probes.probing.amnesic import LanguageModel, erased_probe_rows, fit_leace, lm_loss_rows, random_eraser
from probes.tasks.base import TaskData


def planted_signal(n=3000, d=20, seed=0):
    """Three classes whose means are the corners of a triangle in coordinates 0-1; isotropic noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d))
    corners = 2.0 * np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
    X[:, :2] += corners[y]
    return torch.as_tensor(X, dtype=torch.float32), y


def test_leace_leaves_a_linear_probe_at_chance_and_changes_nothing_orthogonal():
    from probes.probing.linear import LinearProbe

    X, y = planted_signal()
    Xt, yt = planted_signal(seed=1)
    er = fit_leace(X, y)
    assert er.rank == 2  # k classes: a rank k - 1 change
    before = LinearProbe(device="cpu").fit(X, y).score(Xt, yt)
    after = LinearProbe(device="cpu").fit(er(X), y).score(er(Xt), yt)
    majority = np.mean(yt == np.bincount(y).argmax())
    assert before > 0.7 and after < majority + 0.03
    # The other coordinates carry no label information and (isotropic noise) are left as they were.
    change = (er(Xt) - Xt)[:, 2:].abs()
    assert change.mean() < 0.05 * Xt[:, 2:].abs().mean()
    # A random subspace of the same rank leaves the signal readable.
    rnd = random_eraser(er.mean, er.rank, seed=0)
    assert rnd.rank == 2 and LinearProbe(device="cpu").fit(rnd(X), y).score(rnd(Xt), yt) > 0.6
    P = rnd.left @ rnd.right
    assert torch.allclose(P @ P, P, atol=1e-5)  # an orthogonal projection


def test_erased_probe_rows_fall_to_the_majority_baseline():
    X, y = planted_signal(n=2400)
    Xt, yt = planted_signal(n=1200, seed=1)
    rng = np.random.default_rng(2)
    V = np.stack([rng.normal(size=X.shape), X.numpy()]).astype(np.float32)  # layer 1 carries the label
    Vt = np.stack([rng.normal(size=Xt.shape), Xt.numpy()]).astype(np.float32)

    def task(labels):
        n = len(labels)
        return TaskData(name="planted", kind="token", metric="accuracy", classes=["a", "b", "c"], y=labels,
                        index=np.arange(n), sentence_offsets=np.arange(0, n + 1, 10))

    rows, leace, _ = erased_probe_rows((V, task(y)), {"test": (Vt, task(yt))}, layer=1, n_boot=200, device="cpu")
    got = {r.metric: r for r in rows}
    assert set(got) == {"accuracy_clean", "accuracy_erased", "accuracy_erased_random", "accuracy_delta_vs_random",
                        "majority"}
    delta = got["accuracy_delta_vs_random"]
    assert delta.value == pytest.approx(got["accuracy_erased"].value - got["accuracy_erased_random"].value, abs=1e-12)
    assert delta.ci_high < 0  # erasing the task's subspace costs more than a random one of the same rank
    assert got["accuracy_clean"].value > 0.7 and got["accuracy_erased_random"].value > 0.6
    assert got["accuracy_erased"].value < got["majority"].value + 0.03
    assert all(r.probe == "amnesic" and r.layer == 1 and r.ci_low <= r.value <= r.ci_high for r in rows)
    assert "LEACE rank 2" in got["accuracy_erased"].covers


@pytest.fixture(scope="module")
def next_token_model(tmp_path_factory):
    """A 2-block GPT-2 whose blocks add nothing and whose head reads the current token's one-hot
    embedding to predict the next token of a cycle w0 -> w1 -> ... -> w9 -> w0."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("gpt")
    V = 10
    vocab = {f"w{i}": i for i in range(V)} | {"<unk>": V}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<unk>").save_pretrained(out)
    cfg = GPT2Config(vocab_size=V + 1, n_positions=64, n_embd=32, n_layer=2, n_head=2, tie_word_embeddings=False)
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for block in model.transformer.h:  # identity blocks: the residual stream passes unchanged
            for lin in (block.attn.c_proj, block.mlp.c_proj):
                lin.weight.zero_()
                lin.bias.zero_()
        model.transformer.wpe.weight.zero_()
        model.transformer.wte.weight.zero_()
        model.lm_head.weight.zero_()
        for t in range(V):
            model.transformer.wte.weight[t, t] = 4.0
            model.lm_head.weight[(t + 1) % V, t] = 3.0
    model.save_pretrained(out)
    return out, V


def test_erasing_what_the_lm_head_reads_raises_its_loss_and_a_random_direction_does_not(next_token_model):
    path, V = next_token_model
    lm = LanguageModel.load(str(path), device="cpu")
    assert lm.causal and lm.n_layers == 2
    rng = np.random.default_rng(0)
    sentences = [[f"w{(s + i) % V}" for i in range(12)] for s in rng.integers(0, V, 40)]
    # The concept "which token is here", fitted on layer 1's states of other text (= the embeddings).
    ids = rng.integers(0, V, 2000)
    X = lm.model.transformer.wte.weight[torch.as_tensor(ids)].detach() + 0.01 * torch.randn(2000, 32)
    leace = fit_leace(X, ids)
    rnd = random_eraser(leace.mean, leace.rank, seed=0)
    rows = {r.metric: r for r in lm_loss_rows(lm, sentences, 1, leace, rnd, n_boot=200)}
    assert rows["lm_loss_clean"].value < 1.0
    assert rows["lm_loss_delta"].value > 1.0 and rows["lm_loss_delta"].ci_low > 0.8
    assert rows["lm_loss_delta_random"].value < 0.5 * rows["lm_loss_delta"].value
    assert rows["lm_loss_delta_vs_random"].ci_low > 0
    assert "next-token" in rows["lm_loss_delta"].covers
    with pytest.raises(ProbesError, match="outside 0..2"):
        lm.check_layer(3)


def test_a_layer_the_hook_cannot_reach_is_refused(next_token_model, monkeypatch):
    from probes.probing import amnesic

    lm = LanguageModel.load(str(next_token_model[0]), device="cpu")
    # A model whose reported hidden state is not what the hooked module returns (as after a final norm).
    monkeypatch.setattr(amnesic, "_candidates", lambda model, n, layer, enc, ref: [model.transformer.h[1]])
    with pytest.raises(ProbesError, match="cannot be erased inside the model"):
        lm.check_layer(1)


def test_a_checkpoint_without_an_lm_head_is_refused(tmp_path):
    from probes.experiment.tiny_model import build_tiny_bert

    path = build_tiny_bert(["a small corpus of words"] * 20, tmp_path / "bert", hidden=16, layers=1, vocab_size=60)
    with pytest.raises(ProbesError, match="no trained language-modelling head"):
        LanguageModel.load(str(path))


def test_vectors_extracted_through_an_erased_model_are_erased_at_that_layer(tmp_path):
    from probes.experiment.tiny_model import build_tiny_bert
    from probes.extract.extractor import extract
    from probes.extract.loading import load_model
    from probes.probing.amnesic import erased_model
    from probes.records import Sentence

    texts = ["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn"] * 10
    path = build_tiny_bert(texts, tmp_path / "bert", hidden=16, layers=2, vocab_size=80)
    sentences = [Sentence(words=t.split()) for t in texts[:3]]
    loaded = load_model(str(path), device=torch.device("cpu"))
    clean = extract(loaded, sentences, tmp_path / "clean", progress=False)
    er = random_eraser(torch.zeros(16), 3, seed=1)
    name, key = loaded.name, loaded.fingerprint
    with erased_model(loaded, 1, er, "random3@1") as erased:
        assert erased.name.endswith(":erased-random3@1") and erased.fingerprint != key
        cut = extract(erased, sentences, tmp_path / "cut", progress=False)
    assert (loaded.name, loaded.fingerprint) == (name, key)  # the model is itself again
    v0, v1 = np.asarray(clean.vectors, dtype=np.float32), np.asarray(cut.vectors, dtype=np.float32)
    assert np.array_equal(v0[0], v1[0])  # the layer below the erasure is untouched
    expected = er(torch.as_tensor(v0[1])).numpy()
    assert np.abs(v1[1] - expected).max() < 2e-2  # float16 cache: the erased layer is eraser(clean layer)
    assert np.abs(v1[1] - v0[1]).max() > 0.1 and np.abs(v1[2] - v0[2]).max() > 0.01  # and it propagates
    from probes.probing.amnesic import check_hook

    assert check_hook(loaded.model, loaded.tokenizer, 2, 0) is not None  # the embeddings' output is found too


def test_downstream_rows_compare_each_variant_s_own_probe_on_the_same_sentences():
    from probes.probing.amnesic import LayerView, downstream_rows

    X, y = planted_signal(n=2400)
    Xt, yt = planted_signal(n=1200, seed=1)

    def split(V, labels):
        n = len(labels)
        off = np.arange(0, n + 1, 10)
        task = TaskData(name="other", kind="token", metric="accuracy", classes=["a", "b", "c"], y=labels,
                        index=np.arange(n), sentence_offsets=off)
        return LayerView(np.asarray(V, dtype=np.float32), [2, 3], off), task

    def two_layers(Z):
        return np.stack([Z, 0.5 * Z])

    clean = (split(two_layers(X.numpy()), y), {"test": split(two_layers(Xt.numpy()), yt)}, None)
    gone = lambda Z: np.concatenate([np.random.default_rng(4).normal(size=(len(Z), 2)), Z[:, 2:]], 1)  # noqa: E731
    erased = (split(two_layers(gone(X.numpy())), y), {"test": split(two_layers(gone(Xt.numpy())), yt)}, None)
    rows = downstream_rows({"clean": clean, "erased": erased, "erased_random": clean}, "upos", 1, n_boot=200,
                           device="cpu", model="m", train_set="tr")
    got = {(r.metric, r.layer): r for r in rows}
    assert {r.layer for r in rows} == {2, 3} and {r.probe for r in rows} == {"amnesic"}
    for layer in (2, 3):
        c, e, rnd = (got[(f"other_accuracy_{v}:1", layer)] for v in ("clean", "erased", "erased_random"))
        assert c.value > 0.7 and e.value < 0.45  # the label's coordinates replaced by noise: near chance (1/3)
        assert rnd.value == c.value and (rnd.ci_low, rnd.ci_high) == (c.ci_low, c.ci_high)  # same vectors, same probe
        d = got[("other_accuracy_delta_vs_random:1", layer)]
        assert d.value == pytest.approx(e.value - rnd.value) and d.ci_high < 0
        assert "upos erased at layer 1" in d.covers and c.model == "m" and c.train_set == "tr"
    with pytest.raises(ProbesError, match="clean vectors"):
        downstream_rows({"erased": erased}, "upos", 1, device="cpu")
