"""Line extraction by XDoG (Winnemöller, Kyprianidis & Olsen 2012) and its measurement.

XDoG, in the form used here (``I`` is luminance in [0, 1], ``G_s`` a Gaussian blur of
standard deviation ``s`` pixels, ``k = 1.6``)::

    S = (1 + p) * G_sigma(I) - p * G_{k sigma}(I)          # sharpened image
    T = 1                          if S >= epsilon
        1 + tanh(phi * (S - epsilon))  otherwise             # soft threshold
    sketch = clip(T, 0, 1)                                   # 1 = paper, 0 = ink

A pixel counts as ink when ``sketch < 0.5``, i.e. when ``S < epsilon - atanh(0.5) / phi``
(``atanh(0.5) ≈ 0.549``). ``sigma`` is in pixels of the image it is applied to, so the
parameters are tied to the working resolution (they were measured at 256 px).

The pinned :class:`XDoGParams` (sigma 0.5 px, k 1.6, p 3, epsilon 0.15, phi 20; ink where
S < 0.123) were chosen by measurement on the OpenMoji *val* split (442 emojis): ink-pixel
F1 (1 px tolerance) of XDoG(colour render) against the true ``line`` render. A grid over
sigma 0.3-2, p 0-50 and the ink threshold 0-0.6 at 256 px shows a flat optimum (micro F1
≈ 0.978) for sigma 0.4-1, p 1-5 and thresholds 0.02-0.2; thresholds above ~0.25 turn dark
fills (#3F3F3F, dark blue) into ink, large p turns fill-colour boundaries into lines.
Within the plateau, p = 3 with epsilon = 0.15 keeps thin lines at 64 px for every sigma of
the augmentation range (p = 1 loses them at sigma 0.9), so the set works at 64-256 px.
(A threshold of exactly 0 scores higher, 0.993, only because solid black *fills* blur to
exactly 0 inside; that exploits pure-black line art and was rejected.) The remaining
false positives are dark and black fills (flags, clothing), which XDoG cannot tell from
ink. ``benchmarks/lines.py`` reports the test-split figures (micro F1 0.980 at 256 px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d

from tinct.color import rgb_to_gray

RASC_SIGMAS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class XDoGParams:
    """XDoG parameters (see the module docstring for the exact formula).

    sigma: std of the inner Gaussian, pixels at the working resolution.
    k: ratio of the outer to the inner std (outer = k * sigma).
    p: sharpening strength (weight of the difference of Gaussians).
    epsilon: threshold on the sharpened luminance ``S`` (luminance units, [0, 1] scale).
    phi: steepness of the soft threshold below ``epsilon`` (per luminance unit).
    """

    sigma: float = 0.5
    k: float = 1.6
    p: float = 3.0
    epsilon: float = 0.15
    phi: float = 20.0

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.k > 0 and self.phi > 0):
            raise ValueError(f"sigma, k and phi must be positive, got {self}")


def _check_image(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(image).__name__}")
    if image.ndim not in (3, 4) or image.shape[-3] not in (1, 3) or min(image.shape[-2:]) < 1:
        raise ValueError(f"expected an image of shape (3|1, H, W) or (B, 3|1, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"expected a floating-point image in [0, 1], got dtype {image.dtype}")


def _luminance(image: torch.Tensor) -> torch.Tensor:
    """(3|1, H, W) or (B, 3|1, H, W) in [0, 1] -> (B, 1, H, W) luminance in [0, 1]."""
    _check_image(image)
    batch = image if image.ndim == 4 else image.unsqueeze(0)
    return batch if batch.shape[1] == 1 else rgb_to_gray(batch)


def _kernel_size(sigma: float) -> int:
    return 2 * math.ceil(3.0 * sigma) + 1


def xdog(
    image: torch.Tensor,
    params: XDoGParams = XDoGParams(),
    *,
    sigma: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Extract a sketch from an image by XDoG.

    image: (3, H, W) or (B, 3, H, W) RGB in [0, 1], or a 1-channel luminance image
        (1, H, W) / (B, 1, H, W) in [0, 1].
    params: the XDoG parameters (defaults: the pinned set).
    sigma: overrides ``params.sigma``; a float, or a (B,) tensor of per-sample values.
    Returns the sketch: (1, H, W) or (B, 1, H, W) float in [0, 1], 1 = paper, 0 = ink.
    """
    gray = _luminance(image)  # (B, 1, H, W)
    batch = gray.shape[0]
    sigmas = torch.as_tensor(params.sigma if sigma is None else sigma, dtype=gray.dtype, device=gray.device)
    if sigmas.ndim == 0:
        sigmas = sigmas.expand(batch)
    if sigmas.shape != (batch,) or not bool((sigmas > 0).all()):
        raise ValueError(f"sigma must be positive, a scalar or of shape ({batch},), got {tuple(sigmas.shape)}")
    kernel = _kernel_size(params.k * float(sigmas.max()))
    inner = gaussian_blur2d(gray, kernel, sigmas[:, None].expand(batch, 2), border_type="replicate")
    outer = gaussian_blur2d(gray, kernel, (params.k * sigmas)[:, None].expand(batch, 2), border_type="replicate")
    sharpened = (1.0 + params.p) * inner - params.p * outer
    soft = 1.0 + torch.tanh(params.phi * (sharpened - params.epsilon))
    sketch = torch.where(sharpened >= params.epsilon, torch.ones_like(soft), soft).clamp(0.0, 1.0)
    return sketch if image.ndim == 4 else sketch[0]


def random_xdog(
    image: torch.Tensor,
    generator: torch.Generator | None = None,
    sigmas: tuple[float, ...] = RASC_SIGMAS,
    params: XDoGParams = XDoGParams(),
) -> torch.Tensor:
    """XDoG with ``sigma`` drawn uniformly from ``sigmas`` per sample (training augmentation).

    image: as for :func:`xdog`. The other parameters come from ``params``. The draw uses
    ``generator`` (on the CPU), so a seeded generator gives the same sketches.
    Returns (1, H, W) or (B, 1, H, W) in [0, 1], 1 = paper.
    """
    if len(sigmas) == 0:
        raise ValueError("sigmas must not be empty")
    _check_image(image)
    batch = image.shape[0] if image.ndim == 4 else 1
    index = torch.randint(len(sigmas), (batch,), generator=generator)
    chosen = torch.tensor(sigmas, dtype=torch.float32)[index].to(image.device)  # (B,)
    return xdog(image, params, sigma=chosen)


def _as_bool_tensor(mask: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    if tensor.ndim < 2:
        raise ValueError(f"{name} must be (..., H, W), got {tuple(tensor.shape)}")
    return tensor.bool()


def ink_precision_recall(
    pred_ink: np.ndarray | torch.Tensor,
    true_ink: np.ndarray | torch.Tensor,
    tolerance: int = 1,
) -> tuple[float, float, float]:
    """Ink-pixel precision, recall and F1 with a spatial tolerance.

    pred_ink, true_ink: boolean masks (numpy or torch) of the same shape (H, W) or
        (..., H, W), True = ink (other dtypes: nonzero = ink).
    tolerance: pixels; a pixel is matched when the other mask has ink within its
        (2 * tolerance + 1)² neighbourhood (Chebyshev distance <= tolerance).
    precision = matched predicted ink / predicted ink; recall = matched true ink / true ink;
    F1 = 2PR / (P + R). Counts are summed over all leading dimensions (micro-average).
    Empty sets: no predicted ink gives precision 1 (nothing false was drawn); no true ink
    gives recall 1 (nothing was missed); F1 is 0 when P + R = 0. Hence two empty masks
    give (1, 1, 1) and an empty prediction against some true ink gives (1, 0, 0).
    """
    pred = _as_bool_tensor(pred_ink, "pred_ink")
    true = _as_bool_tensor(true_ink, "true_ink")
    if pred.shape != true.shape:
        raise ValueError(f"pred_ink and true_ink must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    size = 2 * tolerance + 1
    flat_pred = pred.reshape(-1, 1, *pred.shape[-2:]).float()  # (N, 1, H, W)
    flat_true = true.reshape(-1, 1, *true.shape[-2:]).float()
    near_true = F.max_pool2d(flat_true, size, stride=1, padding=tolerance) > 0
    near_pred = F.max_pool2d(flat_pred, size, stride=1, padding=tolerance) > 0
    n_pred, n_true = int(flat_pred.sum()), int(flat_true.sum())
    precision = int((flat_pred.bool() & near_true).sum()) / n_pred if n_pred else 1.0
    recall = int((flat_true.bool() & near_pred).sum()) / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def extract_lines(image: torch.Tensor) -> torch.Tensor:
    """Line art of any picture: (3, H, W) or (B, 3, H, W) RGB in [0, 1] -> (1|B, 1, H, W) sketch
    in [0, 1] (1 = paper). (Placeholder: XDoG with the pinned parameters.)"""
    return xdog(image)
