"""Pseudo-scribbles over colour-bleeding edges (edge enhancement, Kim et al. 2021).

A *bleeding edge* is a colour edge of the ground truth that the baseline output lacks.
Edges are found with kornia's Canny on the a and b channels (Lab, :mod:`tinct.color`) of
both images, each scaled by ``1 / AB_SCALE`` (= 1/110) so that the channels span about
[-1, 1]. With kornia's Sobel, a sharp step of height ``d`` in that scale gives a gradient
magnitude of about ``2.6 d``; the default thresholds ``low = 0.1``, ``high = 0.2`` thus keep
sharp steps of about 4 (weak) and 8.5 (strong) Lab units in a or b — a clearly visible
change of hue — and ignore luminance-only edges (a black line on white has a = b = 0).

A ground-truth edge pixel bleeds when no output edge pixel lies within ``tolerance``
(2 px, Chebyshev distance). One 8-connected bleeding edge (of at least ``min_pixels``
pixels) is picked at random per image and thickened to a random width in ``width_range``
(1..11 px for training, 1..5 px at test time, as in the paper) by a disc-shaped dilation.

Checked against the paper (§3.2, Fig. 3): Canny on the a/b channels of the ground truth and
of a pre-trained colorizer's output, an edge of the first that the second lacks, one
connected edge, a random width 1-11 px (w(·)) in training and 1-5 px at test time (§4.3) —
all as written. Two readings of ours, where the paper says no more: "appears in C(I_gt) but
not in C(I_init)" allows the output's edge ``tolerance`` px away (Canny puts the edges of one
colour step a pixel apart in two images, and a literal pixel-wise difference marks well
kept edges as bleeding), and an edge shorter than ``min_pixels`` is no scribble. Without
width augmentation (the paper's ablation) the scribble is the 1-px edge itself
(``width_range=(1, 1)``). :func:`scribble_and_edge` also returns that 1-px edge, along which
the ``scribbles`` protocol measures (:mod:`tinct.evaluate.scribbles`).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import canny
from skimage.morphology import thin

from tinct.color import AB_SCALE, rgb_to_lab

TRAIN_WIDTHS = (1, 11)
TEST_WIDTHS = (1, 5)


def _check_rgb(image: torch.Tensor, name: str) -> None:
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"{name} must be RGB of shape (B, 3, H, W), got {tuple(image.shape)}")


def _hysteresis(graded: np.ndarray) -> np.ndarray:
    """Canny's hysteresis on ``(N, H, W)`` maps of 0 / 0.5 (weak) / 1 (strong) edge pixels: the
    8-connected groups of edge pixels that hold a strong one. Equals kornia's iterative
    hysteresis (which grows strong pixels through weak 8-neighbours until nothing changes), in
    one labelling pass per map instead of one convolution per pixel of the longest weak chain
    (seconds per batch on long colour edges)."""
    kept = np.zeros(graded.shape, dtype=bool)
    for index, plane in enumerate(graded):  # labelling is per map (OpenCV)
        count, labels = cv2.connectedComponents((plane > 0).astype(np.uint8), connectivity=8)
        strong = np.zeros(count, dtype=bool)
        strong[labels[plane >= 1.0]] = True
        strong[0] = False
        kept[index] = strong[labels]
    return kept


def ab_edges(
    image: torch.Tensor,
    *,
    low_threshold: float = 0.1,
    high_threshold: float = 0.2,
    sigma: float = 1.0,
) -> torch.Tensor:
    """Canny edges of the a and b channels, united.

    Args:
        image: ``(B, 3, H, W)`` RGB in [0, 1].
        low_threshold, high_threshold: hysteresis thresholds on the gradient magnitude of
            ``ab / AB_SCALE`` (see the module docstring for what they mean in Lab units).
        sigma: Gaussian smoothing of Canny (5x5 kernel).

    Returns:
        ``(B, 1, H, W)`` bool, 1-px edges: the a and b edges of one step can lie a pixel
        apart, so their union is thinned (scikit-image ``thin``) back to one pixel.
    """
    _check_rgb(image, "image")
    batch, _, height, width = image.shape
    with torch.autocast(image.device.type, enabled=False):  # float32 under mixed precision too
        ab = rgb_to_lab(image.float())[:, 1:] / AB_SCALE  # (B, 2, H, W) in ~[-1, 1]
        _, graded = canny(ab.reshape(batch * 2, 1, height, width), low_threshold=low_threshold,
                          high_threshold=high_threshold, kernel_size=5, sigma=(sigma, sigma), hysteresis=False)
    edges = _hysteresis(graded[:, 0].float().cpu().numpy())  # (2B, H, W) bool
    united = edges.reshape(batch, 2, height, width).any(axis=1)
    thinned = np.stack([thin(mask) for mask in united]) if batch else united  # per image (scikit-image)
    return torch.from_numpy(thinned)[:, None].to(image.device)


def bleeding_edges(
    target: torch.Tensor,
    output: torch.Tensor,
    *,
    tolerance: int = 2,
    low_threshold: float = 0.1,
    high_threshold: float = 0.2,
) -> torch.Tensor:
    """Ground-truth a/b edges with no output a/b edge within ``tolerance`` px.

    target, output: ``(B, 3, H, W)`` RGB in [0, 1]. Returns ``(B, 1, H, W)`` bool.
    """
    _check_rgb(target, "target")
    _check_rgb(output, "output")
    if target.shape != output.shape:
        raise ValueError(f"target and output must have the same shape, got {tuple(target.shape)} "
                         f"and {tuple(output.shape)}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    thresholds = {"low_threshold": low_threshold, "high_threshold": high_threshold}
    edges = ab_edges(torch.cat([target, output]), **thresholds)  # (2B, 1, H, W)
    target_edges, output_edges = edges.chunk(2)
    near_output = F.max_pool2d(output_edges.float(), 2 * tolerance + 1, stride=1, padding=tolerance) > 0
    return target_edges & ~near_output


def pick_edge(
    edges: torch.Tensor,
    choice: torch.Tensor,
    *,
    min_pixels: int = 3,
) -> torch.Tensor:
    """Keep one 8-connected component of ``edges`` per image.

    Args:
        edges: ``(B, 1, H, W)`` bool.
        choice: ``(B,)`` floats in [0, 1): image ``b`` keeps component ``floor(choice[b] * n)``
            of its ``n`` components with at least ``min_pixels`` pixels (in label order).

    Returns:
        ``(B, 1, H, W)`` bool, empty for images without such a component.
    """
    if edges.ndim != 4 or edges.shape[1] != 1:
        raise ValueError(f"edges must be (B, 1, H, W), got {tuple(edges.shape)}")
    if choice.shape != (edges.shape[0],):
        raise ValueError(f"choice must be (B,) = ({edges.shape[0]},), got {tuple(choice.shape)}")
    picked = np.zeros(edges.shape, dtype=bool)
    masks = edges[:, 0].cpu().numpy().astype(np.uint8)
    for b, mask in enumerate(masks):  # labelling is per image (OpenCV)
        count, labels = cv2.connectedComponents(mask, connectivity=8)
        sizes = np.bincount(labels.ravel(), minlength=count)
        candidates = np.flatnonzero(sizes >= min_pixels)
        candidates = candidates[candidates > 0]
        if len(candidates):
            label = candidates[min(int(float(choice[b]) * len(candidates)), len(candidates) - 1)]
            picked[b, 0] = labels == label
    return torch.from_numpy(picked).to(edges.device)


def thicken(edge: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Dilate each image's edge by a disc of diameter ``widths[b]`` px.

    A 1-px straight edge becomes exactly ``widths[b]`` px wide (even widths extend one
    pixel further right/down). edge: ``(B, 1, H, W)`` bool; widths: ``(B,)`` ints >= 1.
    Returns ``(B, 1, H, W)`` bool.
    """
    if edge.ndim != 4 or edge.shape[1] != 1:
        raise ValueError(f"edge must be (B, 1, H, W), got {tuple(edge.shape)}")
    if widths.shape != (edge.shape[0],) or (widths.numel() and int(widths.min()) < 1):
        raise ValueError(f"widths must be (B,) = ({edge.shape[0]},) ints >= 1, got {widths.tolist()}")
    masks = edge[:, 0].cpu().numpy().astype(np.uint8)
    result = np.zeros(edge.shape, dtype=bool)
    for b, mask in enumerate(masks):  # one kernel per image (OpenCV)
        width = int(widths[b])
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
        result[b, 0] = cv2.dilate(mask, kernel) > 0
    return torch.from_numpy(result).to(edge.device)


def scribble_and_edge(
    target: torch.Tensor,
    output: torch.Tensor,
    *,
    width_range: tuple[int, int] = TRAIN_WIDTHS,
    tolerance: int = 2,
    min_pixels: int = 3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pseudo_scribble` and the 1-px bleeding edge it was drawn over.

    Returns ``(scribble, edge)``, both ``(B, 1, H, W)`` float in {0, 1} (all zero for images
    without a bleeding edge); ``edge <= scribble``.
    """
    low, high = width_range
    if not 1 <= low <= high:
        raise ValueError(f"width_range must be (min, max) with 1 <= min <= max, got {width_range}")
    edges = bleeding_edges(target, output, tolerance=tolerance)
    batch = target.shape[0]
    choice = torch.rand((batch,), generator=generator)
    widths = torch.randint(low, high + 1, (batch,), generator=generator)
    edge = pick_edge(edges, choice, min_pixels=min_pixels)
    return thicken(edge, widths).to(target.dtype), edge.to(target.dtype)


def pseudo_scribble(
    target: torch.Tensor,
    output: torch.Tensor,
    *,
    width_range: tuple[int, int] = TRAIN_WIDTHS,
    tolerance: int = 2,
    min_pixels: int = 3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A pseudo-scribble over one bleeding edge per image.

    Args:
        target: ground truth ``(B, 3, H, W)`` RGB in [0, 1].
        output: baseline colorization ``(B, 3, H, W)`` RGB in [0, 1].
        width_range: inclusive ``(min, max)`` scribble width in px (1..11 train, 1..5 test).
        tolerance: an output edge within this many px hides a ground-truth edge.
        min_pixels: bleeding edges shorter than this are ignored.
        generator: makes the choice of edge and width deterministic (always two draws
            per image, whatever the data).

    Returns:
        ``(B, 1, H, W)`` float mask in {0, 1}; all zero for images without a bleeding edge.
    """
    return scribble_and_edge(target, output, width_range=width_range, tolerance=tolerance, min_pixels=min_pixels,
                             generator=generator)[0]
