"""L-BFGS for a stack of independent problems: M models optimised at once, each with its own
history, step size and convergence, so one batched matmul serves every layer."""

from __future__ import annotations

from typing import Callable, Optional

import torch

from probes import progress

# fun(x (m, P), idx (m,) model indices) -> (loss (m,), grad (m, P)): only the models in idx are
# evaluated, so finished models cost nothing. callback(x, iteration) -> (M,) bool "stop this model".
Objective = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _pseudo_gradient(x: torch.Tensor, g: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
    """The minimum-norm subgradient of f + sum(l1 |x|) (OWL-QN's steepest-descent direction, negated)."""
    right, left = g + l1, g - l1
    at_zero = torch.where(right < 0, right, torch.where(left > 0, left, torch.zeros_like(g)))
    return torch.where(x > 0, right, torch.where(x < 0, left, at_zero))


def batched_lbfgs(fun: Objective, x0: torch.Tensor, max_iter: int = 500, history: int = 10,
                  tol_grad: float = 1e-5, tol_change: float = 1e-9, c1: float = 1e-4,
                  max_backtracks: int = 25,
                  callback: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None,
                  l1: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, dict]:
    """Minimise M separable objectives stacked along dim 0; returns (x, info).

    Each model keeps its own curvature pairs and takes its own Armijo backtracking step, which is
    exactly per-model L-BFGS; a model that converged (max |grad| <= tol_grad, or a relative loss
    change <= tol_change) or that `callback` stops is frozen while the others go on.

    ``l1`` (P,) or (M, P): per-parameter weights of an added penalty sum(l1 |x|); the method is then
    OWL-QN (Andrew & Gao 2007): pseudo-gradients in place of gradients, the direction kept to the
    orthant it points into, each trial point projected onto that orthant, Armijo on the full objective.
    """
    x = x0.detach().clone()
    M, P = x.shape
    f, g = fun(x, torch.arange(M, device=x.device))
    if l1 is not None:
        l1 = torch.broadcast_to(torch.as_tensor(l1, dtype=x.dtype, device=x.device), (M, P))
        f = f + (l1 * x.abs()).sum(1, dtype=f.dtype)
    s_hist = torch.zeros(history, M, P, dtype=x.dtype, device=x.device)
    y_hist = torch.zeros_like(s_hist)
    rho = torch.zeros(history, M, dtype=x.dtype, device=x.device)
    active = torch.ones(M, dtype=torch.bool, device=x.device)
    n_iter = torch.zeros(M, dtype=torch.long, device=x.device)
    n_evals = 1
    head = 0  # slot of the next curvature pair (ring buffer)
    gamma = torch.ones(M, dtype=x.dtype, device=x.device)
    for it in range(max_iter):
        pg = g if l1 is None else _pseudo_gradient(x, g, l1)
        active &= pg.abs().amax(dim=1) > tol_grad
        if not bool(active.any()):
            break
        # Two-loop recursion, newest pair first; empty slots have rho = 0 and change nothing.
        q = -pg
        alphas = []
        for k in range(history):
            j = (head - 1 - k) % history
            a = rho[j] * (s_hist[j] * q).sum(1)
            q = q - a[:, None] * y_hist[j]
            alphas.append((j, a))
        d = q * gamma[:, None]
        for j, a in reversed(alphas):
            b = rho[j] * (y_hist[j] * d).sum(1)
            d = d + (a - b)[:, None] * s_hist[j]
        if l1 is not None:  # keep the components that descend along the pseudo-gradient
            d = torch.where(d * pg < 0, d, torch.zeros_like(d))
            orthant = torch.where(x != 0, torch.sign(x), torch.sign(-pg))
        gd = (pg * d).sum(1)
        bad = gd >= 0  # not a descent direction: fall back to steepest descent
        if bool(bad.any()):
            d[bad] = -pg[bad]
            gd = (pg * d).sum(1)
        if it == 0:
            t = torch.clamp(1.0 / pg.abs().sum(1), max=1.0)
        else:
            t = torch.ones(M, dtype=x.dtype, device=x.device)
        t = torch.where(active, t, torch.zeros_like(t))
        pending = active.clone()
        x_new, f_new, g_new = x.clone(), f.clone(), g.clone()
        for _ in range(max_backtracks):
            idx = torch.nonzero(pending).flatten()
            x_try = x[idx] + t[idx, None] * d[idx]
            if l1 is not None:  # a coordinate that would leave its orthant stops at zero
                x_try = torch.where((l1[idx] > 0) & (torch.sign(x_try) != orthant[idx]), torch.zeros_like(x_try),
                                    x_try)
            f_try, g_try = fun(x_try, idx)
            n_evals += 1
            if l1 is None:
                descent = t[idx] * gd[idx]
            else:
                f_try = f_try + (l1[idx] * x_try.abs()).sum(1, dtype=f_try.dtype)
                descent = (pg[idx] * (x_try - x[idx])).sum(1)
            ok_sub = torch.isfinite(f_try) & (f_try <= f[idx] + c1 * descent)
            acc = idx[ok_sub]
            x_new[acc], f_new[acc], g_new[acc] = x_try[ok_sub], f_try[ok_sub], g_try[ok_sub]
            pending[acc] = False
            if not bool(pending.any()):
                break
            t = torch.where(pending, t * 0.5, torch.zeros_like(t))
        failed = pending  # no acceptable step: this model is as good as it gets
        s = x_new - x
        yv = g_new - g
        sy = (s * yv).sum(1)
        upd = active & ~failed & (sy > 1e-10)
        s_hist[head] = torch.where(upd[:, None], s, torch.zeros_like(s))
        y_hist[head] = torch.where(upd[:, None], yv, torch.zeros_like(yv))
        rho[head] = torch.where(upd, 1.0 / sy.clamp(min=1e-10), torch.zeros_like(sy))
        gamma = torch.where(upd, sy / (yv * yv).sum(1).clamp(min=1e-20), gamma)
        head = (head + 1) % history
        change = (f - f_new).abs() <= tol_change * torch.clamp(f.abs(), min=1.0)
        n_iter += active.long()
        x, f, g = x_new, f_new, g_new
        active &= ~failed & ~change
        if callback is not None:
            active &= ~callback(x, it + 1)
        progress.iteration(it + 1, max_iter)  # records only; no device sync, no output here
    return x, {"n_iter": n_iter.cpu().numpy(), "n_evals": n_evals, "loss": f.cpu().numpy()}
