"""How well an attention finds the true correspondence (SCFT; ``attn`` in ``tinct evaluate``)."""

from __future__ import annotations

import torch


def attention_near_truth(
    attention: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, grid: tuple[int, int], *, radius: int = 1
) -> torch.Tensor:
    """How well the attention finds the true correspondence: for every reference cell j with
    a known source, the attention mass that sketch cell ``index[b, j]`` puts on reference
    cells within ``radius`` cells of j (Chebyshev distance), averaged over the valid j.

    attention: (B, N, M) rows = sketch cells, columns = reference cells, both row-major on
    the same ``grid`` (h, w) with N = M = h w; index: (B, M) long, the sketch cell of each
    reference cell (:func:`tinct.data.reference.correspondence_indices`); valid: (B, M) bool.
    Returns (B,): in [0, 1], NaN for an image without a valid cell. Uniform attention scores
    about (2 radius + 1)^2 / (h w).
    """
    batch, queries, keys = attention.shape
    rows, cols = grid
    if queries != keys or keys != rows * cols:
        raise ValueError(f"attention must be (B, h w, h w) for grid {grid}, got {tuple(attention.shape)}")
    if index.shape != (batch, keys) or valid.shape != (batch, keys):
        raise ValueError(f"index and valid must be (B, M) = {(batch, keys)}, got {tuple(index.shape)}, "
                         f"{tuple(valid.shape)}")
    y = torch.arange(keys, device=attention.device) // cols
    x = torch.arange(keys, device=attention.device) % cols
    near = ((y[:, None] - y[None]).abs() <= radius) & ((x[:, None] - x[None]).abs() <= radius)  # (M, M)
    chosen = attention.gather(1, index[..., None].expand(-1, -1, keys))  # (B, M, M): row j = sketch cell index[j]
    mass = (chosen * near).sum(dim=-1)  # (B, M)
    valid = valid.to(mass.dtype)
    return (mass * valid).sum(dim=1) / valid.sum(dim=1)  # 0/0 = NaN when nothing is valid
