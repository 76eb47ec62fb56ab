"""Tag accuracy (CWR, issue 15): does the output show the colours its tags asked for?

For one output and its given tags: the share of the given colour tags whose colour covers at
least ``min_share`` of the drawing's pixels in the output. A tag's colour is the colour name it
carries (``red`` → red, ``hair_brown`` → brown, ``skin_yellow`` → yellow); the skin tones
(``skin_light`` ... ``skin_dark``) name no colour of :data:`tinct.data.tags.COLOR_NAMES` and
are not counted. The drawing's pixels are the sketch's paper pixels outside the background
regions (:func:`tinct.background.background_regions`): lines and the paper around the drawing
never count, so ``white`` is earned by the drawing, not by the page. Pixels are named by
their nearest named colour in Lab, as the training tags are (:mod:`tinct.data.tags`).
"""

from __future__ import annotations

import numpy as np
import torch

from tinct.data.tags import COLOR_NAMES, LINE_THRESHOLD


def tag_color(tag: str) -> str | None:
    """The colour name a tag asks for (``hair_red`` -> ``red``), None for a skin tone."""
    name = tag.split("_", 1)[1] if tag.startswith(("hair_", "skin_")) else tag
    return name if name in COLOR_NAMES else None


def drawing_pixels(sketch: torch.Tensor, *, line_threshold: float = LINE_THRESHOLD) -> torch.Tensor:
    """(B, H, W) bool: the pixels of each sketch (B, 1, H, W) outside its background regions
    (ink below 0.5) and not lines or their anti-aliased rims (below ``line_threshold``, as
    the training tags count them)."""
    from tinct.background import background_regions
    from tinct.regions import trapped_ball

    planes = sketch[:, 0].detach().float().cpu().numpy()
    labels = trapped_ball(planes[:, None])  # (B, H, W)
    masks = [~background_regions(label, plane < 0.5)[label] & (plane >= line_threshold)
             for label, plane in zip(labels, planes)]
    return torch.from_numpy(np.stack(masks))


def tag_accuracy(image: torch.Tensor, tags: torch.Tensor, vocabulary: tuple[str, ...] | list[str],
                 drawing: torch.Tensor, *, min_share: float = 0.05) -> torch.Tensor:
    """Per image, the share of its given colour tags whose colour covers at least ``min_share``
    of its drawing pixels (module docstring).

    image: (B, 3, H, W) RGB in [0, 1]; tags: (B, T) multi-hot over ``vocabulary`` (T names);
    drawing: (B, H, W) bool (:func:`drawing_pixels`). Returns (B,) float in [0, 1], NaN for an
    image given no colour tag (or without drawing pixels).
    """
    from tinct.data.tags import named_areas

    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    if tags.shape != (image.shape[0], len(vocabulary)):
        raise ValueError(f"tags must be (B, T) = {(image.shape[0], len(vocabulary))}, got {tuple(tags.shape)}")
    if drawing.shape != (image.shape[0], *image.shape[2:]):
        raise ValueError(f"drawing must be (B, H, W) = {(image.shape[0], *image.shape[2:])}, got {tuple(drawing.shape)}")
    index = {name: i for i, name in enumerate(COLOR_NAMES)}
    pixels = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    scores = []
    for picture, given, mask in zip(pixels, tags.detach().cpu(), drawing.cpu().numpy()):
        wanted = {tag_color(vocabulary[i]) for i in torch.nonzero(given > 0.5).flatten().tolist()} - {None}
        if not wanted or not mask.any():
            scores.append(float("nan"))
            continue
        areas = named_areas(picture[mask].reshape(-1, 3))
        share = areas / max(1, areas.sum())
        scores.append(float(np.mean([share[index[name]] >= min_share for name in sorted(wanted)])))
    return torch.tensor(scores)
