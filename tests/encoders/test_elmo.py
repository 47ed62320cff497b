"""ELMo: parity with AllenNLP 2.10.1, weight layout, characters, masking and hand-computable cases."""

import json
import os

import numpy as np
import pytest
import torch

h5py = pytest.importorskip("h5py")

from probes.encoders import open_word_encoder  # noqa: E402
from probes.encoders.elmo import CharCNN, ElmoBiLM, ElmoEncoder, ElmoOptions, LstmWithProjection, load_elmo_weights  # noqa: E402
from probes.encoders.elmo_chars import batch_char_ids, word_char_ids  # noqa: E402
from probes.errors import ProbesError  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def write_elmo(dirpath, *, proj=3, cell=4, n_layers=2, filters=((1, 2), (2, 3)), n_highway=1, char_dim=2,
               activation="relu", cell_clip=3.0, proj_clip=3.0, fill=None, seed=0):
    """An ELMo directory with the official hdf5 names; weights random, or all equal to `fill`."""
    os.makedirs(dirpath, exist_ok=True)
    options = {"lstm": {"use_skip_connections": True, "projection_dim": proj, "cell_clip": cell_clip,
                        "proj_clip": proj_clip, "dim": cell, "n_layers": n_layers},
               "char_cnn": {"activation": activation, "filters": [list(f) for f in filters], "n_highway": n_highway,
                            "embedding": {"dim": char_dim}, "n_characters": 262, "max_characters_per_token": 50}}
    with open(os.path.join(dirpath, "options.json"), "w") as f:
        json.dump(options, f)
    rng = np.random.default_rng(seed)
    n = sum(k for _, k in filters)

    def arr(*shape):
        if fill is not None:
            return np.full(shape, fill, dtype="float32")
        return rng.standard_normal(shape).astype("float32") * 0.5

    with h5py.File(os.path.join(dirpath, "weights.hdf5"), "w") as h:
        h["char_embed"] = arr(261, char_dim)
        for i, (w, k) in enumerate(filters):
            h[f"CNN/W_cnn_{i}"] = arr(1, w, char_dim, k)
            h[f"CNN/b_cnn_{i}"] = arr(k)
        for j in range(n_highway):
            for name, shape in (("W_carry", (n, n)), ("W_transform", (n, n)), ("b_carry", (n,)), ("b_transform", (n,))):
                h[f"CNN_high_{j}/{name}"] = arr(*shape)
        h["CNN_proj/W_proj"] = arr(n, proj)
        h["CNN_proj/b_proj"] = arr(proj)
        for d in range(2):
            for layer in range(n_layers):
                g = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                h[f"{g}/W_0"] = arr(2 * proj, 4 * cell)
                h[f"{g}/B"] = arr(4 * cell)
                h[f"{g}/W_P_0"] = arr(cell, proj)
    return dirpath


@pytest.mark.parametrize("name", ["elmo_a", "elmo_b"])
def test_parity_with_allennlp_every_layer(name):
    d = os.path.join(FIXTURES, name)
    expected = np.load(os.path.join(d, "expected.npz"))
    with open(os.path.join(d, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    ids, _ = batch_char_ids(sentences, add_boundaries=False)
    assert np.array_equal(ids.numpy(), expected["char_ids"])  # AllenNLP's batch_to_ids
    enc = open_word_encoder(d)
    assert isinstance(enc, ElmoEncoder)
    for batch_size in (1, 4):  # alone and padded together with longer sentences
        enc.batch_size = batch_size
        for k, out in enumerate(enc.encode(sentences)):
            want = expected[f"layers_{k}"]
            assert out.shape == want.shape == (enc.num_layers, len(sentences[k]), enc.dim)
            assert out.dtype == torch.float32
            assert np.abs(out.numpy() - want).max() < 1e-5


def test_character_ids_follow_the_original():
    ids = word_char_ids("añ")
    # +1 shifted: begin-of-word 258, the UTF-8 bytes a (97), ñ (195 177), end-of-word 259, then padding 260.
    assert ids[:6] == [259, 98, 196, 178, 260, 261] and set(ids[5:]) == {261} and len(ids) == 50
    assert word_char_ids("<S>")[:4] == [259, 257, 260, 261]
    assert word_char_ids("</S>")[:4] == [259, 258, 260, 261]
    long = word_char_ids("x" * 60)  # cut to 48 bytes, as the original does
    assert long[1:49] == [121] * 48 and long[49] == 260
    ids, mask = batch_char_ids([["a", "b"], ["c"]])
    assert ids.shape == (2, 4, 50)
    assert mask.tolist() == [[True, True, True, True], [True, True, True, False]]
    assert ids[1, 2].tolist() == word_char_ids("</S>") and ids[1, 3].sum() == 0


def test_weight_layout_read_from_official_names(tmp_path):
    d = write_elmo(str(tmp_path / "m"), seed=3)
    model = ElmoBiLM(ElmoOptions.from_file(os.path.join(d, "options.json")))
    load_elmo_weights(model, os.path.join(d, "weights.hdf5"))
    with h5py.File(os.path.join(d, "weights.hdf5"), "r") as h:
        assert torch.equal(model.char_cnn.char_embed[0], torch.zeros(2))  # row 0: no character
        assert np.array_equal(model.char_cnn.char_embed[1:].detach().numpy(), h["char_embed"][...])
        # TF conv kernel (1, width, in, out) -> torch (out, in, width)
        w = h["CNN/W_cnn_1"][...]
        assert np.array_equal(model.char_cnn.convs[1].weight.detach().numpy(), w[0].transpose(2, 1, 0))
        assert np.array_equal(model.char_cnn.projection.weight.detach().numpy(), h["CNN_proj/W_proj"][...].T)
        assert np.array_equal(model.backward_layers[1].W_0.detach().numpy(),
                              h["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"][...])
        assert np.array_equal(model.forward_layers[0].W_P_0.detach().numpy(),
                              h["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_P_0"][...])


def test_wrong_shapes_and_missing_datasets_are_named(tmp_path):
    d = write_elmo(str(tmp_path / "m"))
    with h5py.File(os.path.join(d, "weights.hdf5"), "a") as h:
        del h["CNN_proj/b_proj"]
    with pytest.raises(ProbesError, match="CNN_proj/b_proj"):
        open_word_encoder("elmo:" + d)
    d2 = write_elmo(str(tmp_path / "m2"), proj=3)
    opts = json.load(open(os.path.join(d2, "options.json")))
    opts["lstm"]["projection_dim"] = 4
    json.dump(opts, open(os.path.join(d2, "options.json"), "w"))
    with pytest.raises(ProbesError, match="shape"):
        open_word_encoder(d2)


def test_shapes_and_empty_sentences(tmp_path):
    enc = open_word_encoder(write_elmo(str(tmp_path / "m"), proj=3, n_layers=2))
    out = enc.encode([["one", "two", "three"], [], ["x"]])
    assert enc.num_layers == 3 and enc.dim == 6
    assert [tuple(o.shape) for o in out] == [(3, 3, 6), (3, 0, 6), (3, 1, 6)]
    # layer 0 is the token vector duplicated for both directions
    assert torch.equal(out[0][0, :, :3], out[0][0, :, 3:])


def test_padding_does_not_change_shorter_sentences(tmp_path):
    enc = open_word_encoder(write_elmo(str(tmp_path / "m"), seed=5))
    short = ["the", "cat"]
    alone = enc.encode([short])[0]
    enc.batch_size = 8
    together = enc.encode([["a", "much", "longer", "sentence", "than", "the", "other"], short])[1]
    assert torch.allclose(alone, together, atol=1e-6)


def test_zero_weight_network_is_hand_computable(tmp_path):
    # All weights 0: the CNN gives 0, each LSTM step gives c = 0.5*tanh(0) + sigmoid(0+1)*c = 0 and h = 0.
    enc = open_word_encoder(write_elmo(str(tmp_path / "z"), fill=0.0))
    out = enc.encode([["any", "words"]])[0]
    assert torch.equal(out, torch.zeros_like(out))
    # All weights 0.1, clipping off: layer 0 is hand-computable.
    d = write_elmo(str(tmp_path / "c"), fill=0.1, filters=((1, 2),), n_highway=1, char_dim=2, proj=3)
    enc = open_word_encoder(d)
    tok = enc.encode([["ab"]])[0][0, 0, :3]
    # conv over 50 chars of embedding 0.1: 0.1*0.1*2 + 0.1 = 0.12 -> relu 0.12, each of 2 filters
    x = torch.full((2,), 0.12)
    g = torch.sigmoid(x @ torch.full((2, 2), 0.1) + 0.1)  # carry gate
    x = g * torch.relu(x @ torch.full((2, 2), 0.1) + 0.1) + (1 - g) * x
    want = x @ torch.full((2, 3), 0.1) + 0.1
    assert torch.allclose(tok, want, atol=1e-7)


def test_highway_gate_behaviour():
    opts = ElmoOptions(filters=[[1, 2]], n_highway=1, char_dim=2, activation="relu", max_chars=50, projection_dim=2,
                       cell_dim=2, n_layers=1, cell_clip=None, proj_clip=None, use_skip_connections=True)
    cnn = CharCNN(opts)
    x = torch.tensor([[1.0, -2.0]])
    with torch.no_grad():
        cnn.w_transform[0].copy_(torch.eye(2))
        cnn.b_carry[0].fill_(-1e4)  # gate closed: carry the input through unchanged
        assert torch.equal(cnn.highway(x), x)
        cnn.b_carry[0].fill_(1e4)  # gate open: relu(x W_transform + b) = relu(x)
        assert torch.equal(cnn.highway(x), torch.tensor([[1.0, 0.0]]))
        cnn.b_carry[0].fill_(0.0)  # half and half
        assert torch.allclose(cnn.highway(x), torch.tensor([[1.0, -1.0]]))


def test_cell_and_projection_clipping():
    lstm = LstmWithProjection(1, 1, 1, cell_clip=0.5, proj_clip=0.2)
    with torch.no_grad():
        lstm.W_0.copy_(torch.tensor([[10.0, 10.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0]]))  # gates i, j, f, o
        lstm.W_P_0.fill_(10.0)
    x = torch.ones(1, 3, 1)
    out = lstm(x, torch.ones(1, 3, dtype=torch.bool), forward=True)
    # c = sig(10)*tanh(10) ~ 1 -> clipped to 0.5; h = sig(10)*tanh(0.5)*10 ~ 4.6 -> clipped to 0.2
    assert torch.allclose(out, torch.full((1, 3, 1), 0.2))


def test_directions_are_independent(tmp_path):
    enc = open_word_encoder(write_elmo(str(tmp_path / "m"), seed=7))
    p = 3
    a = enc.encode([["the", "cat", "sat", "down"]])[0]
    b = enc.encode([["the", "cat", "ran", "away"]])[0]  # later words change
    c = enc.encode([["a", "dog", "sat", "down"]])[0]    # earlier words change
    for layer in range(1, enc.num_layers):
        # forward direction at positions 0-1 sees only words 0-1
        assert torch.allclose(a[layer, :2, :p], b[layer, :2, :p], atol=1e-7)
        assert not torch.allclose(a[layer, :2, p:], b[layer, :2, p:], atol=1e-4)
        # backward direction at positions 2-3 sees only words 2-3
        assert torch.allclose(a[layer, 2:, p:], c[layer, 2:, p:], atol=1e-7)
        assert not torch.allclose(a[layer, 2:, :p], c[layer, 2:, :p], atol=1e-4)


def test_random_init_is_seeded_and_differs_from_weights(tmp_path):
    d = write_elmo(str(tmp_path / "m"))
    loaded = open_word_encoder(d).encode([["x", "y"]])[0]
    r1 = open_word_encoder(d, random_init=True, seed=1)
    r2 = open_word_encoder(d, random_init=True, seed=1)
    r3 = open_word_encoder(d, random_init=True, seed=2)
    o1, o2, o3 = (e.encode([["x", "y"]])[0] for e in (r1, r2, r3))
    assert r1.name.endswith(":random-init")
    assert torch.equal(o1, o2) and not torch.equal(o1, o3) and not torch.allclose(o1, loaded)


def test_bad_specs_are_clear(tmp_path):
    with pytest.raises(ProbesError, match="options.json and weights.hdf5"):
        open_word_encoder("elmo:" + str(tmp_path))
    with pytest.raises(ProbesError, match="not a released ELMo"):
        open_word_encoder("elmo:" + str(tmp_path / "nope"))
    d = write_elmo(str(tmp_path / "m"))
    with pytest.raises(ProbesError, match="mem_len"):
        open_word_encoder(d, mem_len=4)
