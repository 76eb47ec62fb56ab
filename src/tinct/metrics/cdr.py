"""Cluster discrepancy ratio (CDR), the edge-enhancement paper's colour-bleeding metric (eq. 7).

For each of the a and b channels (CIE Lab) separately:

1. SLIC superpixels (n_segments 250, compactness 10, σ 1) on the ground truth's channel and,
   independently, on the output's channel give cluster maps C_gt and C_out. Compactness 10
   is SLIC's value for colour distances in Lab units; scikit-image rescales a one-channel
   image to [0, 1] first, so we pass compactness 10 / (the channel's range in Lab units),
   which gives exactly the Lab-unit trade-off between colour and distance.
2. Edge pixels E: Canny on the ground truth's channel (σ 1.2, hysteresis thresholds at the
   0.2 / 0.7 quantiles of the gradient magnitude). On flat images those quantiles are 0 and
   Canny would mark every pixel, so edge pixels must also have a smoothed gradient of at
   least 1 Lab unit per pixel (``MIN_GRADIENT``); a channel without variation has no edges.
3. For each edge pixel i, Ω(i) = neighbours j in the K × K window with C_gt(j) ≠ C_gt(i);
   the pixel scores 1 − |{j ∈ Ω(i): C_out(j) = C_out(i)}| / |Ω(i)|. Edge pixels whose Ω is
   empty are left out of the mean; a channel with no scored edge pixel scores 1.

CDR is the mean of the two channels' scores, in [0, 1], higher = less bleeding.

Deliberate differences from the authors' script (DESIGN.md, Metrics): it feeds a/b to SLIC
as if they were RGB and, where masked, computes b's edges from a's; here each channel gets
its own superpixels and its own edges.
"""

from __future__ import annotations

import numpy as np
import torch

SLIC_SEGMENTS = 250
SLIC_COMPACTNESS = 10.0
SLIC_SIGMA = 1.0
CANNY_SIGMA = 1.2
CANNY_QUANTILES = (0.2, 0.7)
MIN_GRADIENT = 1.0  # Lab units per pixel


def _clusters(channel: np.ndarray) -> np.ndarray:
    from skimage.segmentation import slic

    spread = max(float(np.ptp(channel)), 1e-6)  # scikit-image divides the channel by this
    return slic(channel.astype(np.float64), n_segments=SLIC_SEGMENTS, compactness=SLIC_COMPACTNESS / spread,
                sigma=SLIC_SIGMA, channel_axis=None, start_label=0)


def _edges(channel: np.ndarray) -> np.ndarray:
    from scipy import ndimage
    from skimage.feature import canny

    channel = channel.astype(np.float64)
    smoothed = ndimage.gaussian_filter(channel, CANNY_SIGMA)
    # Sobel's kernel sums to 4 per axis: divide to get units per pixel
    magnitude = np.hypot(ndimage.sobel(smoothed, 0), ndimage.sobel(smoothed, 1)) / 8.0
    low, high = CANNY_QUANTILES
    edges = canny(channel, sigma=CANNY_SIGMA, low_threshold=low, high_threshold=high, use_quantiles=True)
    return edges & (magnitude >= MIN_GRADIENT)


def discrepancy_ratio(truth_clusters: np.ndarray, output_clusters: np.ndarray, edges: np.ndarray, *,
                      window: int = 7, empty: float = 1.0) -> float:
    """Eq. 7 for given cluster maps (H, W) int and edge pixels (H, W) bool; ``empty`` (1.0)
    without a scored edge pixel."""
    if not truth_clusters.shape == output_clusters.shape == edges.shape:
        raise ValueError(f"shapes differ: {truth_clusters.shape}, {output_clusters.shape}, {edges.shape}")
    ys, xs = np.nonzero(edges)
    if len(ys) == 0:
        return empty
    height, width = edges.shape
    half = window // 2
    differing = np.zeros(len(ys))
    shared = np.zeros(len(ys))
    for dy in range(-half, half + 1):  # K² shifts, each vectorised over all edge pixels
        for dx in range(-half, half + 1):
            ny, nx = ys + dy, xs + dx
            inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
            ny, nx = np.clip(ny, 0, height - 1), np.clip(nx, 0, width - 1)
            other = inside & (truth_clusters[ny, nx] != truth_clusters[ys, xs])
            differing += other
            shared += other & (output_clusters[ny, nx] == output_clusters[ys, xs])
    scored = differing > 0
    if not scored.any():
        return empty
    return float(np.mean(1.0 - shared[scored] / differing[scored]))


def _lab_ab(image: torch.Tensor) -> np.ndarray:
    from tinct.color import rgb_to_lab

    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an RGB batch (B, 3, H, W), got {tuple(image.shape)}")
    return rgb_to_lab(image.float()).cpu().numpy()[:, 1:]  # (B, 2, H, W): a, b


def truth_clusters(target: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ground truth's part of CDR, per image and channel: [(clusters, edges) for a, b] * B.

    Compute it once per batch and pass it to :func:`cdr` when scoring several outputs.
    """
    return [(_clusters(channel), _edges(channel)) for image in _lab_ab(target) for channel in image]


def cdr(output: torch.Tensor, target: torch.Tensor, *, window: int = 7,
        truth: list[tuple[np.ndarray, np.ndarray]] | None = None, near: torch.Tensor | None = None) -> torch.Tensor:
    """Cluster discrepancy ratio per image: output, target (B, 3, H, W) RGB in [0, 1] -> (B,).

    ``truth``: :func:`truth_clusters` of ``target``, if already computed. ``near``: (B, 1, H, W)
    bool, only the edge pixels inside it count (the ``scribbles`` protocol: within K of a
    scribble's edge); a channel without a scored edge pixel there is left out of the image's
    mean, and an image with none in either channel is NaN (aggregate with ``nanmean``).
    """
    if output.shape != target.shape:
        raise ValueError(f"expected two RGB batches of one shape, got {tuple(output.shape)} and {tuple(target.shape)}")
    truth = truth_clusters(target) if truth is None else truth
    if len(truth) != 2 * output.shape[0]:
        raise ValueError(f"truth holds {len(truth) // 2} images, the batch {output.shape[0]}")
    if near is not None and near.shape != (output.shape[0], 1, *output.shape[-2:]):
        raise ValueError(f"near must be (B, 1, H, W) = {(output.shape[0], 1, *output.shape[-2:])}, "
                         f"got {tuple(near.shape)}")
    within = None if near is None else near[:, 0].bool().cpu().numpy()
    ab = _lab_ab(output)
    scores = []
    for index in range(output.shape[0]):
        per_channel = []
        for c in (0, 1):
            clusters, edges = truth[2 * index + c]
            if within is not None:
                edges = edges & within[index]
            per_channel.append(discrepancy_ratio(clusters, _clusters(ab[index, c]), edges, window=window,
                                                 empty=1.0 if within is None else float("nan")))
        scored = [value for value in per_channel if not np.isnan(value)]
        scores.append(sum(scored) / len(scored) if scored else float("nan"))
    return torch.tensor(scores, dtype=torch.float32)
