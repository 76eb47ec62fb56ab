"""Line art from colour pictures: :func:`extract_lines` for any art, XDoG for the papers.

Two extractors, both ``(3, H, W)`` or ``(B, 3, H, W)`` RGB in [0, 1] -> ``(1, H, W)`` or
``(B, 1, H, W)`` sketch in [0, 1] (1 = paper, ink dark; ink where ``sketch < 0.5``), and
:func:`ink_precision_recall` to measure them against true line art.

extract_lines
-------------
Colour art comes with black outlines, dark-coloured outlines (brown, dark blue), no outlines at
all (flat colours), or shading. :func:`extract_lines` draws, per picture (OpenCV on the CPU):

1. dark lines of any colour, at their own width: pixels darker than their surroundings, in CIE
   L, by a black top-hat (closing by a disc of ``max_line_width`` px minus the image), for
   structures narrower than the disc. Wide dark areas (black hair, a dark flag stripe) are
   fills, not lines: they get outlines from step 2. A band beside an edge that is a little
   darker than both sides and of its own colour (a brown outline on dark-brown skin, 5 L
   darker) is a line too (``band_contrast``, ``band_colour``).
2. boundaries between colour areas, for art without outlines: Canny on one colour gradient of
   L, a, b (Gaussian sigma 0.7 px; hysteresis 2 / 5 Lab units per px, i.e. flat colours at
   least ~13 apart), on the boundary; edges that are only the sides of a dark line from
   step 1 are dropped, so a line is drawn once. Where the picture has dark lines of its own
   the boundary lines are 2 px wide details; where it has none (fewer than half of its edge
   pixels are sides of dark lines: flat-colour art), they are its outlines and get an
   artist's stroke, ``outline_width`` (5 px at 256 px, scaled down in smaller pictures).
3. shading: a smooth gradient stays below the Canny thresholds per pixel however large its
   total change (black to white over 25 px or more draws nothing; over 20 px, one line), and
   has no dark valley for the top-hat. Ink components under ``min_ink_area`` px (noise dots)
   are removed; pinholes where bands and lines meet are filled.

How the parameters were chosen: on the OpenMoji *val* split (200 emojis spread over it, 256 px),
ink-pixel F1 within 2 px against the true ``line`` render in three kinds of art: the colour
render (black outlines), the render without the ``line`` group (flat fills, no outlines) and the
colour render with the lines recoloured to dark brown #45413c (``benchmarks/lines.py`` renders
them). With the defaults: colour / fills / brown F1 0.956 / 0.816 / 0.950. One parameter at a
time: ``max_line_width`` 9 scores 0.952 / 0.766 / 0.947 (it misses OpenMoji's 7 px strokes
where two meet); 15-17 (before the band rule) lost fills precision (0.82 -> 0.81); 13 is 5 % of
256 px, hence ``max_line_fraction``. ``dark_low/high`` 5/15 to 20/50 change nothing beyond
0.001. Canny thresholds 1/3 equal 2/5 (2/5 draws less photo texture); 3/8 loses fills recall
(0.763 -> 0.733, with 2 px outlines); sigma 0.5-1.0 is flat, 1.4 loses fills. A 1 px boundary line scores
0.962 / 0.717 / 0.953: OpenMoji's strokes are 7 px wide, and 2 px (+0.046 on fills) is still
an artist's stroke at 256 px. The wider outlines of flat-colour art (``outline_width``, chosen
after the rest; ``outline_share`` 0.5): 3 / 4 / 5 px score fills 0.796 / 0.808 / 0.816 against
0.763 with 2 px everywhere, colour and brown unchanged (0.955-0.956, 0.950); 5 px is the
default, still thinner than OpenMoji's 7 px strokes. Widening the boundary lines of *every*
picture instead costs colour precision on boundaries OpenMoji draws without a line (test
split, 100 emojis: 3 / 4 / 5 px everywhere score colour 0.951 / 0.942 / 0.932). The share
threshold is not sensitive: 0.3 / 0.5 / 0.7 score fills 0.803 / 0.808 / 0.808 (4 px). Without the band rule: 0.951 / 0.764 / 0.937, and brown outlines
on dark fills come out doubled. ``band_colour`` does not move the scores; without it, photo
texture becomes solid strokes. The one colour gradient (structure tensor) finds boundaries of
similar lightness (hair / skin, two blues) that OpenCV's strongest-channel Canny misses (seen
in the renders; fills +0.005). Rejected: marking near-black pixels as ink whatever their width,
as XDoG does (colour +0.008, but black hair and clothing become solid: fills -0.04); the
top-hat without its 3x3 settling erosion (same scores, dashed outlines around wide round black
shapes). ``min_ink_area`` 1-30 does not change the scores; 6 removes isolated dots in photos.

On the test split (300 emojis, ``python benchmarks/lines.py``): colour F1 0.956 (P 0.931,
R 0.983), fills 0.812 (P 0.823, R 0.801), brown 0.944 (P 0.924, R 0.966); XDoG 0.982, 0.141,
0.630 (the whole test split, ``--count 0``: 0.958 / 0.810 / 0.944). Fills cannot go much
higher: OpenMoji's 7 px strokes are centred on the fill boundaries, and a quarter of the true
ink lies more than 2 px from any fill boundary (strokes inside one colour area, white on
white); marking every boundary pixel pair 2 px wide scores 0.781.
Colour precision is lost on boundaries OpenMoji draws without a line (flag stripes, shadows);
thick black shapes of the line art (wider than 13 px: lettering, rings) come out as outlines,
and thin dark *fills* (a narrow dark limb, the tip of a wedge) as solid ink, since a narrow
dark shape is indistinguishable from a thick stroke.

Speed: 31-35 ms per 1024 px picture with one thread (2 threads: no faster) on a 2-core CPU,
``benchmarks/lines.py``. kornia was measured first and is 10-200x slower on the CPU for these
operations (Lab conversion 108 ms, a 9x9 closing 71 ms, Canny 800 ms at 1024 px), so OpenCV
does the work and the sketch goes back to the input's device and dtype.

XDoG
----
XDoG (Winnemöller, Kyprianidis & Olsen 2012), in the form used here (``I`` is luminance in
[0, 1], ``G_s`` a Gaussian blur of standard deviation ``s`` pixels, ``k = 1.6``)::

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
ink. ``benchmarks/lines.py`` reports the test-split figures (micro F1 0.98 at 256 px).

Re-checked on the other kinds of art (val, 200 emojis, 256 px, 2 px tolerance): the pinned
set scores colour 0.979, fills 0.147, brown 0.616 - a near-black detector, as designed. Over
22 sets (sigma 0.5 and 1, p 3-30, epsilon 0.15-0.6) none finds fill boundaries (best fills F1
0.59, at colour 0.95). epsilon 0.3 lifts brown to 0.937 (colour 0.958) only
because its ink threshold then sits just above #45413c's luminance (0.26): a lighter brown
falls out again, and dark fills become ink (colour precision 0.96 -> 0.92). sigma 1 with p 10
(colour 0.972, fills 0.38, brown 0.93) draws half of the boundary of a mid-grey fill (72 ink
pixels in ``test_mid_grey_fill_on_white_is_not_ink``, where the pinned set draws none). The
pinned set is kept: XDoG's job here is the papers' synthetic sketches of black-outlined art
(with random sigma as augmentation), where it is the best of the grid, and other modules
rely on it ignoring fill boundaries; :func:`extract_lines` serves the other kinds of art.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

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


@dataclass(frozen=True)
class LineParams:
    """Parameters of :func:`extract_lines` (see the module docstring for how they were chosen).

    Lengths are pixels at the working resolution (measured at 256 px), contrasts are CIE
    Lab units (L in [0, 100]; a colour difference is the Euclidean distance in L, a, b).

    max_line_width: odd, px: a structure darker than its surroundings and narrower than this
        (the diameter of the disc of the morphological closing) is a line; wider dark areas
        are fills and get their outline from the colour edges instead.
    max_line_fraction: in small pictures the disc shrinks to this fraction of the longer side
        (the odd width nearest to fraction * side, at least 3): 13 px at 256 px, 7 px at 128,
        3 px at 64, so that a dark shape a fifth of a thumbnail wide stays a shape.
    dark_low, dark_high: how much darker than its surroundings (L units) a pixel must be to be
        ink: nothing below ``dark_low``, full ink from ``dark_high``, linear in between (the
        line's own anti-aliasing); a pixel counts as ink from the midpoint (20 L by default).
    edge_sigma: px, Gaussian blur of L, a, b before their gradients (noise and anti-aliasing).
    edge_low, edge_high: Canny hysteresis thresholds on the colour gradient, Lab units per px:
        an edge starts where the gradient reaches ``edge_high`` and continues while it stays
        above ``edge_low``. A sharp step of colour difference D peaks at about 0.39 D / px, so
        the defaults draw boundaries between flat colours at least ~13 apart; smooth shading
        (a gradient below ``edge_high`` per px) is never drawn.
    edge_width: 1 or 2, px: width of a boundary line in a picture that has dark lines of its
        own (2: the Canny line and its neighbours towards +x, +y: an even stroke on the
        boundary to within half a pixel). There the boundaries are details beside the artist's
        outlines, and thin.
    outline_width: px: width of the boundary lines in a picture without dark lines of its own
        (flat colours), where they are the outlines: an artist's stroke, scaled down in small
        pictures like ``max_line_width`` (``outline_width / 256`` of the longer side, at least
        ``edge_width``): 4 px at 256 px and above, 2 px at 128.
    outline_share: a picture is without dark lines of its own when fewer than this share of
        its colour-edge pixels are the sides of dark lines.
    band_contrast: L units: a band narrower than the line width, beside a colour edge, at
        least this much darker than the pixels just outside it on both sides (and darker by the
        ink midpoint of ``dark_low``/``dark_high`` than the lighter side) is one line - a
        coloured outline on a fill of nearly its lightness - not two boundaries. None: off.
    band_colour: Lab distance: such a band must also differ this much in colour from both sides
        (a line of its own colour; photo texture mostly does not).
    min_ink_area: px: connected ink (8-connected) smaller than this is removed as speckle.
    """

    max_line_width: int = 13
    max_line_fraction: float = 0.05
    dark_low: float = 10.0
    dark_high: float = 30.0
    edge_sigma: float = 0.7
    edge_low: float = 2.0
    edge_high: float = 5.0
    edge_width: int = 2
    outline_width: int = 5
    outline_share: float = 0.5
    band_contrast: float | None = 3.0
    band_colour: float = 15.0
    min_ink_area: int = 6

    def __post_init__(self) -> None:
        if self.max_line_width < 3 or self.max_line_width % 2 == 0:
            raise ValueError(f"max_line_width must be odd and at least 3, got {self.max_line_width}")
        if not 0 < self.max_line_fraction <= 1:
            raise ValueError(f"max_line_fraction must be in (0, 1], got {self.max_line_fraction}")
        if not 0 <= self.dark_low < self.dark_high:
            raise ValueError(f"need 0 <= dark_low < dark_high, got {self.dark_low}, {self.dark_high}")
        if not (self.edge_sigma >= 0 and 0 < self.edge_low <= self.edge_high):
            raise ValueError(f"need edge_sigma >= 0 and 0 < edge_low <= edge_high, got {self}")
        if (self.band_contrast is not None and self.band_contrast < 0) or self.band_colour < 0:
            raise ValueError(f"band_contrast and band_colour must be >= 0, got {self}")
        if self.edge_width not in (1, 2) or self.min_ink_area < 1:
            raise ValueError(f"edge_width must be 1 or 2 and min_ink_area >= 1, got {self}")
        if self.outline_width < self.edge_width or not 0 <= self.outline_share <= 1:
            raise ValueError(f"need outline_width >= edge_width and 0 <= outline_share <= 1, got {self}")


_GRADIENT_SCALE = 16  # gradients go to OpenCV's Canny as int16 in 1/16 Lab units per px
_SOBEL_GAIN = 8  # a 3x3 Sobel of a ramp of slope 1 / px is 8
# Normal directions quantised to the 8-neighbourhood: 0°, 45°, 90°, 135° (row, column offsets).
_NORMALS = np.array([(0, 1), (1, 1), (1, 0), (1, -1)], dtype=np.int64)


def _line_width(height: int, width: int, params: LineParams) -> int:
    """The disc's diameter for an (height, width) picture: odd, 3 <= it <= max_line_width."""
    scaled = 2 * round((params.max_line_fraction * max(height, width) - 1) / 2) + 1  # the nearest odd number
    return max(3, min(params.max_line_width, scaled))


def _dark_strength(lightness: np.ndarray, params: LineParams) -> np.ndarray:
    """(H, W) L in [0, 100] -> (H, W) ink strength in [0, 1] of thin dark structures.

    Black top-hat: the closing by a disc (``max_line_width``, smaller in small pictures: see
    :func:`_line_width`) fills every dark structure narrower than the disc with the lighter of
    its surroundings; how much the closing raised a pixel is how much darker than its
    surroundings it is. A 3x3 erosion of the closing first ("settling") removes the one-pixel
    misfits of a digital disc on anti-aliased curves, which otherwise mark specks along the
    edges of wide dark shapes.
    """
    import cv2

    # on L quantised to uint8 (steps of 0.39 L): five times faster than on float32
    lightness = cv2.convertScaleAbs(lightness, alpha=2.55)  # (H, W) uint8, rounded
    width = _line_width(*lightness.shape, params)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    closed = cv2.morphologyEx(lightness, cv2.MORPH_CLOSE, disc, borderType=cv2.BORDER_REPLICATE)
    closed = cv2.erode(closed, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    darkness = cv2.subtract(closed, lightness)  # (H, W) uint8, L * 2.55, saturated at 0
    levels = np.arange(256, dtype=np.float32) / 2.55
    strength = np.clip((levels - params.dark_low) / (params.dark_high - params.dark_low), 0.0, 1.0)
    return strength[darkness]


class _Edges(NamedTuple):
    """Canny edges of the colour gradient: the mask and, per edge pixel, where and which way."""

    mask: np.ndarray  # (H, W) bool
    rows: np.ndarray  # (N,) int64
    cols: np.ndarray  # (N,) int64
    normal: np.ndarray  # (N, 2) int64: (row, col) step across the edge, one of _NORMALS

    def at(self, array: np.ndarray, step: np.ndarray | int, index: np.ndarray | None = None) -> np.ndarray:
        """``array`` (H, W) read ``step`` pixels along each edge pixel's normal (clipped at the
        border), for all edge pixels or those of ``index``."""
        height, width = self.mask.shape
        rows, cols, normal = (self.rows, self.cols, self.normal) if index is None else (
            self.rows[index], self.cols[index], self.normal[index])
        rows = np.clip(rows + step * normal[:, 0], 0, height - 1)
        cols = np.clip(cols + step * normal[:, 1], 0, width - 1)
        return array[rows, cols]


def _colour_edges(planes: list[np.ndarray], params: LineParams) -> _Edges:
    """L, a, b as three (H, W) float32 -> Canny edges of their colour gradient.

    One colour gradient from the three channels (Di Zenzo's structure tensor J summed over
    L, a, b): |g_x| = sqrt(Jxx), |g_y| = sqrt(Jyy), the sign of g_x g_y from Jxy. It is exact at
    the boundary of two flat colours, where every channel's gradient is parallel to the normal,
    and finds boundaries that differ in hue more than in lightness (hair and skin of similar
    lightness), which the strongest single channel misses.
    """
    import cv2

    if params.edge_sigma > 0:
        planes = [cv2.GaussianBlur(plane, (0, 0), params.edge_sigma, borderType=cv2.BORDER_REPLICATE) for plane in planes]
    # gradients in units of 1 / _GRADIENT_SCALE Lab per px (Canny wants int16)
    sobel = {"ksize": 3, "scale": _GRADIENT_SCALE / _SOBEL_GAIN, "borderType": cv2.BORDER_REPLICATE}
    grad_x = [cv2.Sobel(plane, cv2.CV_32F, 1, 0, **sobel) for plane in planes]
    grad_y = [cv2.Sobel(plane, cv2.CV_32F, 0, 1, **sobel) for plane in planes]
    colour_x = cv2.magnitude(cv2.magnitude(grad_x[0], grad_x[1]), grad_x[2])  # (H, W)
    colour_y = cv2.magnitude(cv2.magnitude(grad_y[0], grad_y[1]), grad_y[2])
    jxy = grad_x[0] * grad_y[0]
    jxy += grad_x[1] * grad_y[1]
    jxy += grad_x[2] * grad_y[2]
    np.copysign(colour_y, jxy, out=colour_y)
    mask = cv2.Canny(
        np.minimum(colour_x, 32767).astype(np.int16), np.clip(colour_y, -32767, 32767).astype(np.int16),
        params.edge_low * _GRADIENT_SCALE, params.edge_high * _GRADIENT_SCALE, L2gradient=True,
    ) > 0
    rows, cols = np.nonzero(mask)
    angle = np.arctan2(colour_y[rows, cols], colour_x[rows, cols])  # (N,) the normal, radians, in [-pi/2, pi/2]
    normal = _NORMALS[np.round(angle / (np.pi / 4)).astype(np.int64) % 4]  # (N, 2)
    return _Edges(mask, rows, cols, normal)


def _bands(edges: _Edges, planes: list[np.ndarray], max_width: int, params: LineParams) -> np.ndarray:
    """(H, W) bool: bands narrower than ``max_width`` beside an edge, darker than both sides.

    A coloured line on a fill of nearly its lightness (a dark-brown outline on dark skin: 5 L
    darker, 20 apart in colour) escapes the top-hat and would come out as two boundary lines,
    one on each side. From each edge pixel this walks across the edge towards its darker side
    until the lightness rises again. The band passed is one line when all of it is at least
    ``band_contrast`` L darker than the pixels just outside it on both sides and as dark as a
    top-hat line (the midpoint of ``dark_low`` and ``dark_high``) beside the lighter side, and
    its middle differs from both sides by ``band_colour`` (Lab distance): a line of its own
    colour, not a pale strip of fill or texture.
    """
    import cv2

    height, width = planes[0].shape
    band = np.zeros(height * width, bool)  # flat, reshaped at the end
    if edges.rows.size == 0:
        return band.reshape(height, width)
    flat = [plane.ravel() for plane in planes]  # L, a, b, each (H * W,)
    before, after = edges.at(planes[0], -1), edges.at(planes[0], 1)
    toward = np.where(after < before, 1, -1)[:, None] * edges.normal  # (N, 2) a step towards the darker side
    diagonal = (edges.normal[:, 0] != 0) & (edges.normal[:, 1] != 0)
    steps = np.where(diagonal, int(max_width / math.sqrt(2)), max_width - 1)  # (N,) the widest band, steps
    origin = np.stack([edges.rows, edges.cols], axis=-1)  # (N, 2)
    outside = np.maximum(before, after)  # (N,) lightness just outside, on the lighter side

    def index(at: np.ndarray) -> np.ndarray:  # (K, 2) row, col -> (K,) flat index, clipped at the border
        return np.clip(at[:, 0], 0, height - 1) * width + np.clip(at[:, 1], 0, width - 1)

    def colour(flat_index: np.ndarray) -> np.ndarray:  # (K,) -> (K, 3) Lab
        return np.stack([plane[flat_index] for plane in flat], axis=-1)

    alive = np.arange(len(origin))  # edge pixels still walking
    inner = np.full(len(origin), -np.inf, np.float32)  # the lightest pixel of the band so far
    for step in range(1, max_width):
        inner[alive] = np.maximum(inner[alive], flat[0][index(origin[alive] + step * toward[alive])])
        alive = alive[inner[alive] <= outside[alive] - params.band_contrast]
        if not alive.size:
            break
        beyond = index(origin[alive] + (step + 1) * toward[alive])
        far = flat[0][beyond]
        found = far >= inner[alive] + params.band_contrast  # lighter again: the band ends here
        # ... and it is a line only if it is dark beside its lighter side, as a top-hat line is
        found &= inner[alive] <= np.maximum(outside[alive], far) - (params.dark_low + params.dark_high) / 2
        if found.any():
            ends = alive[found]
            middle = colour(index(origin[ends] + ((step + 1) // 2) * toward[ends]))
            distinct = (np.linalg.norm(middle - colour(index(origin[ends] - toward[ends])), axis=-1) >= params.band_colour) & (
                np.linalg.norm(middle - colour(beyond[found]), axis=-1) >= params.band_colour)
            for fill in range(step + 1):  # mark the band, from the edge to its last dark pixel
                band[index(origin[ends[distinct]] + fill * toward[ends[distinct]])] = True
            alive = alive[~found]
        alive = alive[steps[alive] > step]
    # close the one-pixel slits that quantised normals leave across slanted bands
    return cv2.morphologyEx(band.reshape(height, width).view(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0


def _outline_width(height: int, width: int, params: LineParams) -> int:
    """Boundary-line width in an (height, width) picture without dark lines of its own, px."""
    return max(params.edge_width, min(params.outline_width, round(params.outline_width * max(height, width) / 256)))


def _boundary_lines(edges: _Edges, dark_ink: np.ndarray, params: LineParams) -> np.ndarray:
    """(H, W) bool: the edges that are boundaries of their own, drawn as lines.

    Per edge pixel along its normal: the edge is dropped when dark ink lies within 2 px across
    it (it is the side of a dark line already drawn). The one-pixel Canny line is then dilated
    by a square: ``edge_width`` (2) px in a picture with dark lines of its own, where the
    boundaries are details beside the outlines, or :func:`_outline_width` (4 px at 256 px) when
    fewer than ``outline_share`` of the edge pixels were sides of dark lines: flat-colour art,
    whose boundaries are its outlines and get an artist's stroke. (Adding each pixel's
    neighbour across the boundary instead centres a 2 px line, but quantised normals leave
    holes along staircase slopes: dashed lines.)
    """
    import cv2

    lines = np.zeros(dark_ink.shape, bool)
    if edges.rows.size == 0:
        return lines
    beside_dark = dark_ink[edges.rows, edges.cols].copy()
    for step in (-2, -1, 1, 2):
        beside_dark |= edges.at(dark_ink, step)
    keep = ~beside_dark
    lines[edges.rows[keep], edges.cols[keep]] = True
    width = params.edge_width
    if beside_dark.mean() < params.outline_share:
        width = _outline_width(*dark_ink.shape, params)
    if width > 1:
        lines = cv2.dilate(lines.view(np.uint8), np.ones((width, width), np.uint8)) > 0
    return lines


def _remove_specks(ink: np.ndarray, min_area: int) -> np.ndarray:
    """(H, W) bool -> the same without 8-connected components smaller than ``min_area``."""
    import cv2

    if min_area <= 1 or not ink.any():
        return ink
    # (BBDT: three times faster than OpenCV's default labelling here, the same components)
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        ink.astype(np.uint8), 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return ink if keep[1:].all() else np.take(keep, labels)


def _fill_pinholes(ink: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """(H, W) bool ink with the gaps up to 2 px across filled where they touch a band (where a
    band and the rest of an outline meet); other gaps (between close lines) stay open."""
    import cv2

    square = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(ink.view(np.uint8), cv2.MORPH_CLOSE, square, borderType=cv2.BORDER_REPLICATE) > 0
    return ink | (closed & (cv2.dilate(bands.view(np.uint8), square) > 0))


def _lines_of_one(rgb: np.ndarray, params: LineParams) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1] -> (H, W) float32 sketch in [0, 1], 1 = paper."""
    import cv2

    planes = cv2.split(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab))  # L in [0, 100], a, b in about [-127, 127]
    strength = _dark_strength(planes[0], params)
    edges = _colour_edges(planes, params)
    bands = None
    if params.band_contrast is not None:
        bands = _bands(edges, planes, _line_width(*rgb.shape[:2], params), params)
        strength[bands] = 1.0
    dark_ink = strength > 0.5
    boundaries = _boundary_lines(edges, dark_ink, params)
    ink = dark_ink | boundaries if bands is None else _fill_pinholes(dark_ink | boundaries, bands)
    ink = _remove_specks(ink, params.min_ink_area)
    # keep the dark lines' soft anti-aliased rims, but only next to ink that stayed
    near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    sketch = np.where(near_ink, 1.0 - strength, 1.0).astype(np.float32)
    sketch[ink & ~dark_ink] = 0.0  # boundary lines: solid
    sketch[dark_ink & ~ink] = 1.0  # specks
    return sketch


def extract_lines(image: torch.Tensor, params: LineParams = LineParams()) -> torch.Tensor:
    """Line art of a colour picture: dark lines of any colour plus the boundaries of colour areas.

    image: (3, H, W) or (B, 3, H, W) RGB in [0, 1] (a (1, H, W) / (B, 1, H, W) grey image is
        read as RGB with equal channels); any float dtype and device.
    params: see :class:`LineParams` (defaults measured on OpenMoji at 256 px).
    Returns the sketch, (1, H, W) or (B, 1, H, W) in [0, 1] with the image's dtype and device:
    1 = paper, 0 = ink; dark lines keep their soft (anti-aliased) rims, colour-boundary lines
    are solid. A pixel is ink where the sketch is < 0.5. Each image of a batch is processed
    on its own (same result as one at a time); the result is deterministic and carries no
    gradient (a fixed preprocessing step, computed with OpenCV on the CPU).
    """
    _check_image(image)
    batch = image if image.ndim == 4 else image.unsqueeze(0)
    if batch.shape[1] == 1:
        batch = batch.expand(-1, 3, -1, -1)
    pixels = batch.detach().to("cpu", torch.float32).clamp(0.0, 1.0).permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)
    sketches = [_lines_of_one(np.ascontiguousarray(rgb), params) for rgb in pixels]
    sketch = torch.from_numpy(np.stack(sketches)) if sketches else torch.ones(0, *batch.shape[-2:])  # (B, H, W)
    sketch = sketch[:, None].to(device=image.device, dtype=image.dtype)  # (B, 1, H, W)
    return sketch if image.ndim == 4 else sketch[0]
