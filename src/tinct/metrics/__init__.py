"""Colorization metrics, batched on tensors (RGB in [0, 1], per-image results of shape (B,)).

- :func:`psnr`, :func:`ssim`, :func:`local_psnr` (pixels near edges / scribbles)
- :func:`cdr`: cluster discrepancy ratio (edge-enhancement paper)
- :func:`nri`, :func:`nri_from_curve`: number of required interactions (GuidingPainter)
- :func:`sc_psnr`: semantically-corresponding PSNR (SCFT)
- :func:`region_spread`: colour bleeding without ground truth (tinct's own)
- :func:`hint_locality`: how much of a picture one point hint moves outside its region
  (tinct's own; :mod:`tinct.metrics.locality`)
- FID and LPIPS (:mod:`tinct.metrics.fid`, :mod:`tinct.metrics.lpips`) need published
  weight files and report themselves unavailable, with the reason, when those are missing.
"""

from tinct.metrics.bleeding import region_spread
from tinct.metrics.cdr import cdr
from tinct.metrics.locality import hint_locality
from tinct.metrics.nri import nri, nri_from_curve, psnr_curve
from tinct.metrics.psnr import local_psnr, psnr, ssim
from tinct.metrics.scpsnr import sc_psnr
from tinct.metrics.weights import MetricResult

__all__ = ["MetricResult", "cdr", "hint_locality", "local_psnr", "nri", "nri_from_curve", "psnr", "psnr_curve", "region_spread",
           "sc_psnr", "ssim"]
