"""Fréchet Inception Distance (FID) with the Inception-v3 "FID variant".

The network is the Inception-v3 whose weights were ported from TensorFlow's 2015-12-05
release and published by pytorch-fid as ``pt_inception-2015-12-05-6726825d.pth``. Its
layout is torchvision's Inception-v3 without the auxiliary classifier, with the
differences of the TensorFlow graph:

- the average-pool branches of the A, C and first E blocks ignore the zero padding
  (``count_include_pad=False``);
- the last E block (``Mixed_7c``) pools its pool branch with a **max** pool;
- the classifier has 1008 classes (unused here).

Module names follow the published state dict (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ..., ``fc.weight``), so the file loads strictly.
Preprocessing is pytorch-fid's: bilinear resize to 299×299 (``align_corners=False``, no
antialiasing) and [0, 1] → [-1, 1]. Features are the 2048-d output of the final average
pool (or, for ``dims`` 64/192/768, the earlier blocks average-pooled, as pytorch-fid's
``--dims``). Scores are therefore comparable with pytorch-fid, not with the original
TensorFlow code, whose resize differs slightly.

Usage::

    result = fid_score(real, fake)              # MetricResult; value None + reason if no weights
    metric = FID()                              # raises WeightsUnavailable if no weights
    for real, fake in batches:
        metric.update(real=real, fake=fake)
    score = metric.compute()
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from tinct.color import to_signed
from tinct.metrics.weights import (
    MetricResult,
    WeightsFile,
    WeightsUnavailable,
    load_weights,
)

FID_WEIGHTS = WeightsFile(
    name="pt_inception-2015-12-05-6726825d.pth",
    description="FID Inception-v3 weights (pytorch-fid)",
    source="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth",
)
INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIMS = (64, 192, 768, 2048)


# --------------------------------------------------------------------------- blocks


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 1e-3, as TensorFlow), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35×35 block: 1×1, 5×5, double 3×3 and pool branches → 224 + pool_features channels."""

    def __init__(self, in_channels: int, *, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_3x3(x))
        return torch.cat([b1, b5, b3, bp], dim=1)


class InceptionB(nn.Module):
    """Grid reduction 35 → 17: stride-2 3×3, double 3×3 and max-pool branches → 480 + in."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b3dbl, bp], dim=1)


class InceptionC(nn.Module):
    """17×17 block with factorised 7×7 convolutions → 768 channels."""

    def __init__(self, in_channels: int, *, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        b7dbl = self.branch7x7dbl_3(self.branch7x7dbl_2(b7dbl))
        b7dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(b7dbl))
        bp = self.branch_pool(_avg_pool_3x3(x))
        return torch.cat([b1, b7, b7dbl, bp], dim=1)


class InceptionD(nn.Module):
    """Grid reduction 17 → 8: 3×3 and 7×7-then-3×3 stride-2 branches, max pool → 512 + in."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], dim=1)


class InceptionE(nn.Module):
    """8×8 block with split 1×3 / 3×1 outputs → 2048 channels.

    ``pool="avg"`` (``Mixed_7b``) averages over unpadded pixels; ``pool="max"``
    (``Mixed_7c``) is the TensorFlow graph's max pool.
    """

    def __init__(self, in_channels: int, *, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], dim=1)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = torch.cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)], dim=1)
        if self.pool == "avg":
            pooled = _avg_pool_3x3(x)
        else:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, b3dbl, bp], dim=1)


# --------------------------------------------------------------------------- network


class FIDInceptionV3(nn.Module):
    """Inception-v3, FID variant, as a feature extractor.

    ``pretrained=True`` (the default) loads the published weights from ``weights`` (the
    file or its folder; default: the search folders of :mod:`tinct.metrics.weights`) and
    raises :class:`~tinct.metrics.weights.WeightsUnavailable` (``.reason`` says where it
    looked) when the file is missing, :class:`~tinct.metrics.weights.WeightsError` when it
    does not fit. ``pretrained=False`` explicitly builds random weights (tests, or
    loading another state dict); ``weights_path`` is then ``None`` and :class:`FID`
    refuses the network.
    """

    def __init__(
        self,
        *,
        pretrained: bool = True,
        weights: str | os.PathLike | None = None,
        resize_input: bool = True,
    ):
        super().__init__()
        self.resize_input = resize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, NUM_CLASSES)  # unused; kept so the published file loads strictly
        self.eval()
        self.requires_grad_(False)
        self.weights_path: str | None = None
        if pretrained:
            self.weights_path = str(load_weights(self, FID_WEIGHTS, weights))

    def forward(self, image: torch.Tensor, *, dims: int = 2048) -> torch.Tensor:
        """``image: (B, 3, H, W)`` RGB in [0, 1] → features ``(B, dims)``.

        ``dims`` 2048 is the standard FID feature (final average pool); 64, 192 and 768
        stop after the first max pool, the second max pool and ``Mixed_6e``.
        """
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected image of shape (B, 3, H, W), got {tuple(image.shape)}")
        if dims not in FEATURE_DIMS:
            raise ValueError(f"dims must be one of {FEATURE_DIMS}, got {dims}")
        x = image.float()
        if self.resize_input:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = to_signed(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 64, 73, 73) at 299 px
        if dims == 64:
            return x.mean(dim=(2, 3))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 192, 35, 35)
        if dims == 192:
            return x.mean(dim=(2, 3))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # (B, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        if dims == 768:
            return x.mean(dim=(2, 3))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # (B, 2048, 8, 8)
        return x.mean(dim=(2, 3))  # (B, 2048)


# --------------------------------------------------------------------------- distance


def activation_statistics(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``features: (N, D)`` → mean ``(D,)`` and covariance ``(D, D)`` (unbiased, float64)."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"expected features of shape (N, D), got {features.shape}")
    if features.shape[0] < 2:
        raise ValueError(f"need at least 2 samples for a covariance, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2):

    ``||mu1 - mu2||² + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^½)``.

    The square root is ``scipy.linalg.sqrtm`` of the product, as in the reference
    implementations. With few samples the covariances are singular and the square root
    may fail (non-finite entries); it is then recomputed with ``eps·I`` added to both
    covariances. Round-off can give the result a small imaginary part: it is dropped if
    the diagonal's imaginary part is below 1e-3, otherwise ``ValueError`` is raised.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"means must be vectors of equal length, got {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}), got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular products are expected; checked below instead
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(d) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest = np.abs(np.diagonal(covmean).imag).max()
        if largest > 1e-3:
            raise ValueError(f"matrix square root has an imaginary component of {largest:.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


# --------------------------------------------------------------------------- metric


class FID:
    """Accumulates Inception features of real and fake images batch by batch.

    Loads the network from ``weights`` (file or folder; default: the search folders),
    raising :class:`~tinct.metrics.weights.WeightsUnavailable` when it is missing, or
    uses ``network``, which must carry loaded weights: a network built with
    ``pretrained=False`` is refused. Images are ``(B, 3, H, W)`` RGB in [0, 1].
    """

    def __init__(
        self,
        *,
        weights: str | os.PathLike | None = None,
        network: FIDInceptionV3 | None = None,
        dims: int = 2048,
    ):
        if dims not in FEATURE_DIMS:
            raise ValueError(f"dims must be one of {FEATURE_DIMS}, got {dims}")
        if network is None:
            network = FIDInceptionV3(weights=weights)
        elif not isinstance(network, FIDInceptionV3):
            raise TypeError(f"expected a FIDInceptionV3, got {type(network).__name__}")
        elif network.weights_path is None:
            raise ValueError(
                "FID needs the published Inception weights, but this network has random "
                "weights (built with pretrained=False)"
            )
        self.network = network
        self.dims = dims
        self.reset()

    def reset(self) -> None:
        self._real: list[np.ndarray] = []
        self._fake: list[np.ndarray] = []

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """``(B, 3, H, W)`` in [0, 1] → ``(B, dims)`` float64 features."""
        device = next(self.network.parameters()).device
        return self.network(images.to(device), dims=self.dims).double().cpu().numpy()

    def update(self, *, real: torch.Tensor | None = None, fake: torch.Tensor | None = None) -> None:
        """Add a batch of real and/or fake images."""
        if real is not None:
            self._real.append(self.features(real))
        if fake is not None:
            self._fake.append(self.features(fake))

    @property
    def num_real(self) -> int:
        return sum(len(f) for f in self._real)

    @property
    def num_fake(self) -> int:
        return sum(len(f) for f in self._fake)

    def compute(self) -> float:
        """FID between everything added so far (needs at least 2 real and 2 fake images)."""
        if self.num_real < 2 or self.num_fake < 2:
            raise ValueError(
                f"FID needs at least 2 real and 2 fake images, got {self.num_real} and {self.num_fake}"
            )
        mu1, sigma1 = activation_statistics(np.concatenate(self._real))
        mu2, sigma2 = activation_statistics(np.concatenate(self._fake))
        return frechet_distance(mu1, sigma1, mu2, sigma2)


def _batches(images: torch.Tensor | Iterable[torch.Tensor], batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        yield from images.split(batch_size)
    else:
        yield from images


def fid_score(
    real: torch.Tensor | Iterable[torch.Tensor],
    fake: torch.Tensor | Iterable[torch.Tensor],
    *,
    weights: str | os.PathLike | None = None,
    dims: int = 2048,
    batch_size: int = 50,
) -> MetricResult:
    """FID between two image sets, or "unavailable" with the reason when the weights are missing.

    ``real``/``fake``: ``(N, 3, H, W)`` tensors or iterables of ``(B, 3, H, W)`` batches,
    RGB in [0, 1]. ``weights``: the weight file or its folder (default: the search
    folders of :mod:`tinct.metrics.weights`). A weight file that exists but does not fit
    raises :class:`~tinct.metrics.weights.WeightsError`. FID is biased upwards for small
    sets; compare scores only at equal set sizes (thousands of images for 2048 dims).
    """
    try:
        metric = FID(weights=weights, dims=dims)
    except WeightsUnavailable as missing:
        return MetricResult.unavailable("fid", missing.reason)
    for batch in _batches(real, batch_size):
        metric.update(real=batch)
    for batch in _batches(fake, batch_size):
        metric.update(fake=batch)
    return MetricResult("fid", metric.compute())
