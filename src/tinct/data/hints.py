"""Colour hints: point hints (RTUG, Zhang et al. 2017) and whole-region hints.

A hint is a pair ``(colors (B, 3, H, W) in [0, 1], mask (B, 1, H, W) in {0, 1})``:
``colors`` holds the hinted colour where ``mask`` is 1 and 0 elsewhere.

Point hints follow the RTUG training policy: per image the number of hints is geometric
with ``p = 1/8`` (keep adding while ``rand < 1 - p``; zero hints allowed, mean
``(1 - p) / p = 7``), each hint is a square patch of side 1..9 px whose centre is drawn
from N(image centre, extent / 4) (clipped so that the patch lies inside the image) or
uniformly, and the whole patch takes the mean ground-truth colour of that patch. Where
patches overlap, the later hint (higher index) wins; its colour is still the mean of its
own patch in the ground truth.

Region hints fill whole regions of a label map with their mean ground-truth colour: the
GuidingPainter hint for hard segments, and the colours of a flat-fill baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

CENTRES = ("gaussian", "uniform")


def _check_image(target: torch.Tensor) -> None:
    if target.ndim != 4 or target.shape[1] != 3:
        raise ValueError(f"target must be RGB of shape (B, 3, H, W), got {tuple(target.shape)}")
    if not target.is_floating_point():
        raise ValueError(f"target must be a float tensor in [0, 1], got dtype {target.dtype}")


def geometric_count(
    shape: Sequence[int] | torch.Size,
    *,
    p: float = 1 / 8,
    max_count: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Numbers of hints ``N`` with ``P(N = k) = (1 - p)^k p`` for ``k = 0, 1, ...``.

    The same law as "keep adding a hint while ``rand < 1 - p``", drawn in closed form
    (``floor(log U / log(1 - p))``), so one uniform per count. ``max_count`` truncates
    (``min(N, max_count)``: GuidingPainter's bounded geometric with ``N_c = 30``).

    Returns a long tensor of ``shape`` with values in ``[0, max_count]``.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if max_count is not None and max_count < 0:
        raise ValueError(f"max_count must be >= 0, got {max_count}")
    uniform = torch.rand(tuple(shape), generator=generator, device=device, dtype=torch.float64)
    if p == 1.0:
        counts = torch.zeros(tuple(shape), dtype=torch.long, device=uniform.device)
    else:
        # U in [0, 1): 1 - U in (0, 1] avoids log(0); floor(log(1-U)/log(1-p)) ~ Geometric(p) on {0,1,...}.
        counts = torch.floor(torch.log1p(-uniform) / torch.log1p(torch.tensor(-p, dtype=torch.float64)))
        counts = counts.clamp(max=2**31 - 1).long()
    if max_count is not None:
        counts = counts.clamp(max=max_count)
    return counts


def _paint_patches(
    target: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    size: torch.Tensor,
    active: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill square patches with their mean ground-truth colour.

    target: (B, 3, H, W); top, left, size, active: (B, K) (patches lie inside the image).
    Returns colors (B, 3, H, W) and mask (B, 1, H, W); later patches overwrite earlier ones.
    """
    batch, _, height, width = target.shape
    num = top.shape[1]
    if num == 0:
        return torch.zeros_like(target), target.new_zeros(batch, 1, height, width)
    largest = int(size.max())
    offsets = torch.arange(largest, device=target.device)
    rows = (top[..., None] + offsets).clamp(max=height - 1)  # (B, K, P)
    cols = (left[..., None] + offsets).clamp(max=width - 1)  # (B, K, P)
    in_rows = offsets < size[..., None]  # (B, K, P)
    inside = in_rows[..., :, None] & in_rows[..., None, :] & active[..., None, None]  # (B, K, P, P)
    pixel = rows[..., :, None] * width + cols[..., None, :]  # (B, K, P, P)

    flat = target.reshape(batch, 3, height * width)
    gathered = flat.gather(2, pixel.reshape(batch, 1, -1).expand(-1, 3, -1))  # (B, 3, K*P*P)
    gathered = gathered.reshape(batch, 3, num, largest * largest)
    weight = inside.reshape(batch, 1, num, largest * largest).to(target.dtype)
    means = (gathered * weight).sum(-1) / (size.to(target.dtype) ** 2)[:, None]  # (B, 3, K)

    index = torch.arange(num, device=target.device).expand(batch, num)[..., None, None].expand_as(inside)
    owner_values = torch.where(inside, index, torch.full_like(index, -1)).reshape(batch, -1)
    owner = torch.full((batch, height * width), -1, dtype=torch.long, device=target.device)
    owner.scatter_reduce_(1, pixel.reshape(batch, -1), owner_values, reduce="amax")  # (B, HW)

    hinted = owner >= 0
    colors = means.gather(2, owner.clamp(min=0)[:, None, :].expand(-1, 3, -1))  # (B, 3, HW)
    colors = colors * hinted[:, None, :]
    return colors.reshape(batch, 3, height, width), hinted.reshape(batch, 1, height, width).to(target.dtype)


def sample_point_hints(
    target: torch.Tensor,
    *,
    p: float = 1 / 8,
    max_hints: int | None = None,
    patch_sizes: Sequence[int] = tuple(range(1, 10)),
    centre: str = "gaussian",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random point hints from the ground truth, RTUG policy (Zhang et al. 2017).

    Args:
        target: ground truth ``(B, 3, H, W)`` RGB in [0, 1].
        p: stop probability of the geometric number of hints (mean ``(1 - p) / p``).
        max_hints: optional cap on the number of hints per image.
        patch_sizes: patch sides (px) to draw from uniformly; each ``<= min(H, W)``.
        centre: ``"gaussian"``: patch centre ~ N((H/2, W/2), (H/4, W/4)), clipped so the
            patch lies inside the image; ``"uniform"``: every inside position equally likely.
        generator: makes the draw deterministic.

    Returns:
        ``colors (B, 3, H, W)`` in [0, 1] (the patch mean inside each patch, 0 elsewhere) and
        ``mask (B, 1, H, W)`` in {0, 1}.
    """
    _check_image(target)
    if centre not in CENTRES:
        raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
    batch, _, height, width = target.shape
    sizes = torch.as_tensor(list(patch_sizes), dtype=torch.long)
    if sizes.ndim != 1 or sizes.numel() == 0 or int(sizes.min()) < 1 or int(sizes.max()) > min(height, width):
        raise ValueError(f"patch_sizes must be sides in [1, {min(height, width)}], got {list(patch_sizes)}")
    counts = geometric_count((batch,), p=p, max_count=max_hints, generator=generator)
    num = int(counts.max()) if batch else 0
    device = target.device
    size = sizes[torch.randint(len(sizes), (batch, num), generator=generator)]
    if centre == "gaussian":
        centre_y = height / 2 + height / 4 * torch.randn((batch, num), generator=generator)
        centre_x = width / 2 + width / 4 * torch.randn((batch, num), generator=generator)
    else:
        centre_y = height * torch.rand((batch, num), generator=generator)
        centre_x = width * torch.rand((batch, num), generator=generator)
    # A patch of side P centred at c covers [c - P/2, c + P/2): its top-left pixel is round(c - P/2).
    top = torch.minimum(torch.round(centre_y - size / 2).long().clamp(min=0), height - size)
    left = torch.minimum(torch.round(centre_x - size / 2).long().clamp(min=0), width - size)
    active = torch.arange(num)[None, :] < counts[:, None]
    return _paint_patches(target, top.to(device), left.to(device), size.to(device), active.to(device))


def point_hints_at(
    target: torch.Tensor,
    points: torch.Tensor,
    *,
    patch_size: int = 1,
    point_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic point hints at given positions (evaluation, hint files).

    Args:
        target: ground truth ``(B, 3, H, W)`` RGB in [0, 1].
        points: ``(B, N, 2)`` positions as ``(x, y)`` normalised to [0, 1] (0 = left/top edge,
            1 = right/bottom edge of the image), the hint-file convention. The hint patch is
            centred on the pixel containing the point (``floor(x * W)``), shifted inwards
            where it would leave the image; for even sides the extra pixel is right/below.
        patch_size: side of the square patch in px.
        point_mask: optional ``(B, N)`` bool; False entries are padding and give no hint.

    Returns:
        ``colors (B, 3, H, W)`` (patch means) and ``mask (B, 1, H, W)`` in {0, 1}; later
        points overwrite earlier ones where patches overlap.
    """
    _check_image(target)
    batch, _, height, width = target.shape
    if points.ndim != 3 or points.shape[0] != batch or points.shape[2] != 2:
        raise ValueError(f"points must be (B, N, 2) with B = {batch}, got {tuple(points.shape)}")
    if not 1 <= patch_size <= min(height, width):
        raise ValueError(f"patch_size must be in [1, {min(height, width)}], got {patch_size}")
    if point_mask is None:
        point_mask = torch.ones(points.shape[:2], dtype=torch.bool, device=points.device)
    elif point_mask.shape != points.shape[:2]:
        raise ValueError(f"point_mask must be (B, N) = {tuple(points.shape[:2])}, got {tuple(point_mask.shape)}")
    used = points[point_mask.bool()]
    if used.numel() and (not torch.isfinite(used).all() or used.min() < 0 or used.max() > 1):
        raise ValueError("points must be finite and normalised to [0, 1]")
    points = points.nan_to_num(0.0).clamp(0, 1)
    col = (points[..., 0] * width).floor().long().clamp(0, width - 1)
    row = (points[..., 1] * height).floor().long().clamp(0, height - 1)
    half = (patch_size - 1) // 2
    top = (row - half).clamp(0, height - patch_size)
    left = (col - half).clamp(0, width - patch_size)
    size = torch.full_like(top, patch_size)
    return _paint_patches(target, top.to(target.device), left.to(target.device), size.to(target.device),
                          point_mask.bool().to(target.device))


def region_means(target: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Mean ground-truth colour of every label of every image.

    target: ``(B, 3, H, W)`` RGB in [0, 1]; regions: ``(B, H, W)`` integer labels >= 0.
    Returns ``(B, L, 3)`` with ``L = regions.max() + 1``; labels absent from an image get 0.
    """
    _check_regions(target, regions)
    batch, _, height, width = target.shape
    labels = regions.long().reshape(batch, height * width)
    num_labels = int(labels.max()) + 1 if labels.numel() else 1
    flat_index = labels + torch.arange(batch, device=labels.device)[:, None] * num_labels  # (B, HW)
    pixels = target.reshape(batch, 3, height * width).transpose(1, 2).reshape(-1, 3)  # (B*HW, 3)
    sums = target.new_zeros(batch * num_labels, 3).index_add_(0, flat_index.reshape(-1), pixels)
    counts = target.new_zeros(batch * num_labels).index_add_(
        0, flat_index.reshape(-1), target.new_ones(batch * height * width)
    )
    return (sums / counts.clamp(min=1)[:, None]).reshape(batch, num_labels, 3)


def _check_regions(target: torch.Tensor, regions: torch.Tensor) -> None:
    _check_image(target)
    batch, _, height, width = target.shape
    if regions.shape != (batch, height, width):
        raise ValueError(f"regions must be (B, H, W) = {(batch, height, width)}, got {tuple(regions.shape)}")
    if regions.is_floating_point() or regions.dtype == torch.bool:
        raise ValueError(f"regions must be an integer label map, got dtype {regions.dtype}")
    if regions.numel() and int(regions.min()) < 0:
        raise ValueError("regions must hold labels >= 0")


def region_hints(
    target: torch.Tensor,
    regions: torch.Tensor,
    region_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill whole regions with their mean ground-truth colour (GuidingPainter-style hints).

    Args:
        target: ground truth ``(B, 3, H, W)`` RGB in [0, 1].
        regions: ``(B, H, W)`` integer label map (labels >= 0; 0 is often "line").
        region_ids: ``(B, N)`` integer labels to hint per image; negative entries are padding
            and labels absent from the image are ignored. ``None`` hints every label > 0
            (the oracle flat fill).

    Returns:
        ``colors (B, 3, H, W)`` (region means inside hinted regions, 0 elsewhere) and
        ``mask (B, 1, H, W)`` in {0, 1}.
    """
    _check_regions(target, regions)
    batch, _, height, width = target.shape
    means = region_means(target, regions)  # (B, L, 3)
    num_labels = means.shape[1]
    if region_ids is None:
        selected = torch.ones(batch, num_labels, dtype=torch.bool, device=target.device)
        selected[:, 0] = False
    else:
        if region_ids.ndim != 2 or region_ids.shape[0] != batch:
            raise ValueError(f"region_ids must be (B, N) with B = {batch}, got {tuple(region_ids.shape)}")
        if region_ids.is_floating_point():
            raise ValueError(f"region_ids must be integer labels, got dtype {region_ids.dtype}")
        ids = region_ids.long().to(target.device)
        keep = (ids >= 0) & (ids < num_labels)
        selected = torch.zeros(batch, num_labels + 1, dtype=torch.bool, device=target.device)
        selected.scatter_(1, torch.where(keep, ids, torch.full_like(ids, num_labels)), True)
        selected = selected[:, :num_labels]
    labels = regions.long().reshape(batch, height * width)
    hinted = selected.gather(1, labels)  # (B, HW)
    colors = means.gather(1, labels[..., None].expand(-1, -1, 3)) * hinted[..., None]  # (B, HW, 3)
    colors = colors.transpose(1, 2).reshape(batch, 3, height, width)
    return colors, hinted.reshape(batch, 1, height, width).to(target.dtype)


HintPolicy = Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # k -> (colors, mask) of the first k hints


def random_points(
    target: torch.Tensor, *, max_hints: int, generator: torch.Generator | None = None, patch_size: int = 3
) -> HintPolicy:
    """Point hints at random positions, drawn once so that k hints are the first k of k + 1.

    Positions follow RTUG's evaluation: centres ~ N(image centre, extent / 4), clipped to the
    image. target: (B, 3, H, W) in [0, 1]. Returns a policy ``k -> (colors, mask)``.
    """
    batch = target.shape[0]
    points = (0.5 + 0.25 * torch.randn(batch, max_hints, 2, generator=generator)).clamp(0, 1 - 1e-6)
    size = min(patch_size, *target.shape[-2:])

    def hints(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= count <= max_hints:
            raise ValueError(f"hint count must be in [0, {max_hints}], got {count}")
        return point_hints_at(target, points[:, :count], patch_size=size)

    return hints


def largest_regions(target: torch.Tensor, regions: torch.Tensor, *, max_hints: int) -> HintPolicy:
    """Whole-region hints with true mean colours, largest regions first.

    target: (B, 3, H, W); regions: (B, H, W) labels (0 = lines, never hinted).
    """
    batch = regions.shape[0]
    areas = torch.stack([torch.bincount(r.flatten().long(), minlength=int(regions.max()) + 1) for r in regions])
    areas[:, 0] = 0
    order = areas.argsort(dim=1, descending=True)[:, :max_hints]  # (B, max_hints)
    order = torch.where(areas.gather(1, order) > 0, order, torch.full_like(order, -1))

    def hints(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= count <= max_hints:
            raise ValueError(f"hint count must be in [0, {max_hints}], got {count}")
        ids = order[:, :count] if count else order.new_full((batch, 0), -1)
        return region_hints(target, regions.long(), ids)

    return hints
