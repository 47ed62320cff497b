"""first / last / mean pooling on hand-made states; padding never enters."""

import numpy as np
import torch

from probes.extract.pooling import pool, select_pairs


def _states():
    # one layer, 2 rows x 3 positions flattened; position 5 is padding with a huge value
    h = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [7.0, 70.0], [9.0, 90.0], [1e6, 1e6]])
    return [h]


def test_mean_first_last():
    sub = np.array([0, 1, 2, 3, 4])
    tok = np.array([0, 0, 1, 1, 1])  # token 0 <- subwords 0,1; token 1 <- 2,3,4
    for method, expect in [("mean", [[2, 20], [7, 70]]), ("first", [[1, 10], [5, 50]]), ("last", [[3, 30], [9, 90]])]:
        keep = select_pairs(tok, method)
        out = pool(_states(), torch.from_numpy(sub[keep]), torch.from_numpy(tok[keep]), 3, method)
        assert out.shape == (1, 3, 2)
        np.testing.assert_allclose(out[0, :2].numpy(), expect)
        assert out[0, 2].abs().sum() == 0  # a token without subwords gets zeros


def test_subword_shared_by_two_tokens_counts_for_both():
    sub, tok = torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 1])
    out = pool(_states(), sub, tok, 2, "mean")
    np.testing.assert_allclose(out[0].numpy(), [[2, 20], [4, 40]])
