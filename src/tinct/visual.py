"""Pictures for people: sample grids, outlined boxes, attention cells. Not used by any network.

- :func:`sample_grid` — the one layout of every sample picture (training grids, ``tinct
  evaluate``'s ``samples.png``): rows are images, columns are views;
- :func:`draw_boxes` — outline squares around pixel centres;
- :func:`attention_picture` — SCFT Fig. 7: a sketch with its query cell and a reference with
  the cells that query attends to most.
"""

from __future__ import annotations

import torch

ATTENTION_COLORS = [(1.0, 0.0, 0.0), (1.0, 0.5, 0.0), (1.0, 0.9, 0.0), (0.0, 0.8, 1.0)]  # strongest first


def sample_grid(columns: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Columns of images side by side, one row per image.

    columns: a list of (B, 3, H, W) tensors (one per column) or a (B, columns, 3, H, W) stack.
    Returns (3, B H, columns W) on the CPU.
    """
    grid = torch.stack(list(columns), dim=1) if isinstance(columns, (list, tuple)) else columns
    if grid.ndim != 5 or grid.shape[2] != 3:
        raise ValueError(f"columns must be (B, 3, H, W) images or a (B, columns, 3, H, W) stack, got {tuple(grid.shape)}")
    rows, cols, _, height, width = grid.shape
    return grid.detach().cpu().permute(2, 0, 3, 1, 4).reshape(3, rows * height, cols * width)


def draw_boxes(image: torch.Tensor, centres_yx: torch.Tensor, *, size: int, colors: list[tuple[float, float, float]],
               width: int = 1) -> torch.Tensor:
    """Outline squares of side ``size`` around pixel centres, one colour per box.

    image: (B, C, H, W) in [0, 1] (C = 1 is expanded to RGB); centres_yx: (B, K, 2) pixel
    (y, x); colors: K RGB triples (cycled). Returns a new (B, 3, H, W) image; the first box
    is drawn last, on top.
    """
    if image.ndim != 4 or image.shape[1] not in (1, 3):
        raise ValueError(f"image must be (B, 1 or 3, H, W), got {tuple(image.shape)}")
    if centres_yx.ndim != 3 or centres_yx.shape[0] != image.shape[0] or centres_yx.shape[2] != 2:
        raise ValueError(f"centres_yx must be (B, K, 2), got {tuple(centres_yx.shape)}")
    out = image.expand(-1, 3, -1, -1).clone()
    height, width_px = out.shape[-2:]
    rows = torch.arange(height, device=out.device)[:, None]
    cols = torch.arange(width_px, device=out.device)[None, :]
    half = size / 2
    for k in reversed(range(centres_yx.shape[1])):
        color = torch.tensor(colors[k % len(colors)], dtype=out.dtype, device=out.device)[:, None, None]
        for b in range(out.shape[0]):
            y, x = (float(v) for v in centres_yx[b, k])
            top, bottom = round(y - half + 0.5), round(y + half - 0.5)
            left, right = round(x - half + 0.5), round(x + half - 0.5)
            inside = (rows >= top) & (rows <= bottom) & (cols >= left) & (cols <= right)
            core = (rows >= top + width) & (rows <= bottom - width) & (cols >= left + width) & (cols <= right - width)
            out[b] = torch.where(inside & ~core, color, out[b])
    return out


def top_attended(attention: torch.Tensor, sketch_grid: tuple[int, int], reference_grid: tuple[int, int],
                 query_yx, *, cell: int, reference_size: tuple[int, int], k: int = 3
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The k reference cells a sketch point attends to most (SCFT Fig. 7).

    attention: (B, h w, h' w') rows = sketch cells on ``sketch_grid`` (h, w), columns =
    reference cells on ``reference_grid`` (h', w'), each cell ``cell`` px wide; query_yx: a
    pixel (y, x) of the sketch, one pair for every image or a (B, 2) tensor;
    reference_size: (H', W') of the reference in pixels.
    Returns ``locations (B, k, 2)``: pixel (y, x) centres of the k most attended reference
    cells (clipped into the reference), strongest first, and their ``weights (B, k)``.
    """
    batch = attention.shape[0]
    rows_s, cols_s = sketch_grid
    ref_rows, ref_cols = reference_grid
    if attention.shape[1:] != (rows_s * cols_s, ref_rows * ref_cols):
        raise ValueError(f"attention must be (B, {rows_s * cols_s}, {ref_rows * ref_cols}), got {tuple(attention.shape)}")
    if not 1 <= k <= ref_rows * ref_cols:
        raise ValueError(f"k must be in [1, {ref_rows * ref_cols}], got {k}")
    query = torch.as_tensor(query_yx, dtype=torch.float32).reshape(-1, 2).expand(batch, -1)
    rows, cols = (query[:, 0] // cell).long(), (query[:, 1] // cell).long()
    weights = attention.detach().cpu().float()[torch.arange(batch), rows * cols_s + cols]  # (B, h'w')
    top, index = weights.topk(k, dim=1)
    centres = torch.stack([index // ref_cols, index % ref_cols], dim=-1).float() * cell + (cell - 1) / 2
    limits = torch.tensor([reference_size[0] - 1, reference_size[1] - 1], dtype=torch.float32)
    return torch.minimum(centres, limits), top


def attention_picture(sketch: torch.Tensor, reference: torch.Tensor, details: dict, query_yx, *, k: int = 3
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """SCFT Fig. 7 from a method's paint details (``attention``, ``sketch_grid``,
    ``reference_grid``, ``cell``): the sketch with the query cell outlined in red and the
    reference with its k most attended cells outlined (red, orange, yellow, ... strongest
    first). sketch (B, 1, H, W), reference (B, 3, H', W'). Returns two (B, 3, ., .) images."""
    batch, _, height, width = sketch.shape
    query = torch.as_tensor(query_yx, dtype=torch.float32).reshape(-1, 2).expand(batch, -1)
    if ((query[:, 0] < 0) | (query[:, 0] > height - 1) | (query[:, 1] < 0) | (query[:, 1] > width - 1)).any():
        raise ValueError(f"query_yx must lie inside the {height}×{width} sketch, got {query.tolist()}")
    cell = details["cell"]
    locations, _ = top_attended(details["attention"], details["sketch_grid"], details["reference_grid"], query,
                                cell=cell, reference_size=tuple(reference.shape[-2:]), k=k)
    query_cell = (query // cell) * cell + (cell - 1) / 2
    return (draw_boxes(sketch, query_cell[:, None].to(sketch.device), size=cell, colors=ATTENTION_COLORS[:1]),
            draw_boxes(reference, locations.to(reference.device), size=cell, colors=ATTENTION_COLORS))
