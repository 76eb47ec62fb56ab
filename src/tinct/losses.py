"""Training losses, each a plain function of tensors.

- LSGAN (Mao et al. 2017), the GAN objective of the GuidingPainter code: least squares on
  raw discriminator scores, real target 1, fake target 0.
- L1 reconstruction.
- GuidingPainter's total-variance loss (eq. 11) and smoothness loss (eq. 10), written as the
  official code computes them (see each docstring).
- Edge enhancement's colour gradient (eq. 2: Sobel magnitude of the a and b channels) and the
  masked squared difference its edge and consistency losses take of it (eqs. 3 and 5).
"""

from __future__ import annotations

import torch


def lsgan_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss ``mean((D(fake) - 1)^2)``.

    logits_fake: raw discriminator scores of generated images, any shape (e.g. (B, 1, h, w)).
    Returns a scalar.
    """
    return (logits_fake - 1.0).pow(2).mean()


def lsgan_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``.

    logits_real, logits_fake: raw scores, any shapes (e.g. (B, 1, h, w)). Returns a scalar.
    """
    return 0.5 * ((logits_real - 1.0).pow(2).mean() + logits_fake.pow(2).mean())


def conditional_discriminator_loss(
    discriminator: torch.nn.Module, signed_sketch: torch.Tensor, signed_real: torch.Tensor, signed_fake: torch.Tensor
) -> torch.Tensor:
    """LSGAN discriminator loss of a D conditioned on the sketch: D scores
    concat(sketch, image); ``signed_fake`` is detached here. All inputs in [-1, 1],
    sketch (B, 1, H, W), images (B, 3, H, W). Returns a scalar (unweighted)."""
    logits_real = discriminator(torch.cat([signed_sketch, signed_real], dim=1))
    logits_fake = discriminator(torch.cat([signed_sketch, signed_fake.detach()], dim=1))
    return lsgan_discriminator_loss(logits_real, logits_fake)


def l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error; prediction and target of the same shape. Returns a scalar."""
    if prediction.shape != target.shape:
        raise ValueError(f"l1_loss needs equal shapes, got {tuple(prediction.shape)} and {tuple(target.shape)}")
    return (prediction - target).abs().mean()


def _check_segments(segments: torch.Tensor, image: torch.Tensor) -> None:
    if segments.ndim != 4:
        raise ValueError(f"segments must be (B, N, H, W), got {tuple(segments.shape)}")
    if image.ndim != 4 or image.shape[0] != segments.shape[0] or image.shape[-2:] != segments.shape[-2:]:
        raise ValueError(
            f"image must be (B, C, H, W) matching segments {tuple(segments.shape)}, got {tuple(image.shape)}"
        )


def segment_means(segments: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mean colour of ``image`` inside every segment (GuidingPainter eq. 6).

    ``c_i = sum_j S_i(j) Y(j) / sum_j S_i(j)``, and 0 for an empty segment. Differentiable
    with respect to both arguments (the segments usually come from a straight-through
    Gumbel-softmax, so the gradient reaches the segmentation network).

    segments: (B, N, H, W), usually one-hot over N; image: (B, C, H, W).
    Returns (B, N, C).
    """
    _check_segments(segments, image)
    sums = torch.einsum("bnhw,bchw->bnc", segments, image)  # (B, N, C)
    counts = segments.sum(dim=(2, 3))[..., None]  # (B, N, 1)
    occupied = counts > 0
    return torch.where(occupied, sums / torch.where(occupied, counts, torch.ones_like(counts)), torch.zeros_like(sums))


def total_variance_loss(segments: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """GuidingPainter's total-variance loss (eq. 11): colour variance inside each segment.

    Computed as the official code does: the flat image ``sum_i c_i S_i`` (every pixel takes
    its segment's mean ground-truth colour, all N segments, not only the hinted ones) is
    compared with the ground truth by mean squared error. For one-hot segments this is
    ``sum_i ||(Y - c_i) ⊙ S_i||_F^2`` divided by ``B * C * H * W``. Zero when every segment
    is a single colour.

    segments: (B, N, H, W) one-hot over N; target: (B, C, H, W) (the official code works in
    [-1, 1]). Returns a scalar.
    """
    means = segment_means(segments, target)  # (B, N, C)
    flat = torch.einsum("bnc,bnhw->bchw", means, segments)  # (B, C, H, W)
    return (flat - target).pow(2).mean()


def smoothness_loss(logits: torch.Tensor) -> torch.Tensor:
    """GuidingPainter's smoothness loss (eq. 10) on segment LOGITS (not probabilities).

    L1 distance between each pixel's logit vector and those of its 8 neighbours. Every
    neighbour pair appears twice in the 8-neighbour sum, so it equals the sum over the four
    pair directions (right, down, down-right, down-left); as in the official code
    (``eight_l1``) each direction's absolute differences are averaged over its pairs and
    channels, and the four averages are averaged. Zero for spatially constant logits.

    logits: (B, N, H, W) with H, W >= 2. Returns a scalar.
    """
    if logits.ndim != 4 or logits.shape[-2] < 2 or logits.shape[-1] < 2:
        raise ValueError(f"logits must be (B, N, H, W) with H, W >= 2, got {tuple(logits.shape)}")
    vertical = (logits[:, :, 1:, :] - logits[:, :, :-1, :]).abs().mean()
    horizontal = (logits[:, :, :, 1:] - logits[:, :, :, :-1]).abs().mean()
    diagonal = (logits[:, :, 1:, 1:] - logits[:, :, :-1, :-1]).abs().mean()
    antidiagonal = (logits[:, :, 1:, :-1] - logits[:, :, :-1, 1:]).abs().mean()
    return 0.25 * (vertical + horizontal + diagonal + antidiagonal)


def ab_sobel(image: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """The colour gradient of edge enhancement (eq. 2): the Sobel magnitude
    ``sqrt((G_x * I)^2 + (G_y * I)^2 + eps)`` of the a and b channels of ``image``.

    image: (B, 3, H, W) RGB in [0, 1]; the a and b channels (CIELAB, :func:`tinct.color.rgb_to_lab`)
    are divided by :data:`tinct.color.AB_SCALE` (~[-1, 1]); the kernels are the paper's, not
    normalised (a sharp step of height d gives 4 d). ``eps`` keeps the gradient of the square
    root finite on flat colour. Computed in float32, also under mixed precision (kornia).
    Returns (B, 2, H, W).
    """
    from kornia.filters import sobel

    from tinct.color import AB_SCALE, rgb_to_lab

    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"ab_sobel needs RGB (B, 3, H, W), got {tuple(image.shape)}")
    with torch.autocast(image.device.type, enabled=False):
        ab = rgb_to_lab(image.float())[:, 1:] / AB_SCALE
        return sobel(ab, normalized=False, eps=eps)


def masked_squared_error(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``E_{x,y in P} ||prediction(x, y) - target(x, y)||^2`` (eqs. 3 and 5): the squared
    difference summed over channels, averaged over the pixels where ``mask`` is non-zero (over
    the whole batch).

    prediction, target: (B, C, H, W); mask: (B, 1, H, W) in [0, 1]. Returns a scalar, 0 when the
    mask is empty (no pixel to compare, no gradient).
    """
    if prediction.shape != target.shape or mask.shape != (prediction.shape[0], 1, *prediction.shape[-2:]):
        raise ValueError(f"masked_squared_error needs prediction and target (B, C, H, W) of one shape and a mask "
                         f"(B, 1, H, W), got {tuple(prediction.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}")
    mask = mask.to(prediction.dtype)
    squared = (prediction - target).pow(2).sum(dim=1, keepdim=True)  # (B, 1, H, W)
    return (squared * mask).sum() / mask.sum().clamp_min(1.0)
