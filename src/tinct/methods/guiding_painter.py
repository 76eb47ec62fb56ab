"""GuidingPainter (Cho et al., CVPR 2023): the model ranks the regions where it wants a hint.

A segmentation U-Net f splits the sketch into ``N_c`` segments (straight-through
Gumbel-softmax, hard one-hot, channel index = priority). During training the hint function
h keeps the first ``N_h`` segments, ``N_h`` ~ bounded geometric (p = 0.125, at most N_c,
zero allowed), and fills each of them entirely with its mean ground-truth colour; a
colorization U-Net g paints the sketch from concat(sketch, C, M, S). At inference the
user is shown segment 1, picks its colour, then segment 2, and so on.

Choices the paper leaves open follow the official code (github.com/choyi0521/GuidingPainter):

- networks work in [-1, 1]: sketch, hint colours and target are mapped by
  :func:`tinct.color.to_signed`; the hint colours fed to g are ``2C - M``
  (= ``sum_i (2 c_i - 1) S~_i``: the signed mean colour inside hinted segments, 0 outside);
  M and S are fed as they are (0/1);
- L1 reconstruction and the total-variance MSE are computed in [-1, 1];
- the total-variance loss uses all N_c segments (not only the hinted ones);
- the smoothness loss is the code's ``eight_l1`` (see :func:`tinct.losses.smoothness_loss`);
- the discriminator loss is LSGAN's ``0.5 (real + fake)`` times the adversarial weight 0.2;
- Adam with default betas (the code defines ``beta1 = 0.5`` but never passes it);
- pix2pix normal initialisation (N(0, 0.02)) of every network;
- τ = ``tau_start * (tau_end / tau_start) ** progress`` (officially 0.1 ** (epoch / epochs));
  ``tau_hold`` (not in the paper, 0 by default) keeps τ = ``tau_start`` for a first part of
  training and anneals over the rest.

Not in the official code (and not here): the Dark Snail toy and NRI, which live in
:mod:`tinct.metrics` and the evaluation harness.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tinct.color import from_signed, to_signed
from tinct.data.hints import geometric_count
from tinct.losses import (
    l1_loss,
    lsgan_generator_loss,
    segment_means,
    smoothness_loss,
    total_variance_loss,
)
from tinct.methods.base import GANMethod, Guidance, Inputs
from tinct.methods.checks import check_batch, check_hints, check_sketch
from tinct.nn import NLayerDiscriminator, UNet, pix2pix_init_

# ----------------------------------------------------------------------------- segments and hints


def _uniform(shape: tuple[int, ...], *, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """U[0, 1) drawn on the generator's device (so a CPU generator works for GPU tensors)."""
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def argmax_segments(logits: torch.Tensor) -> torch.Tensor:
    """Hard segments at test time: one-hot of the argmax over channels.

    logits: (B, N, H, W). Returns (B, N, H, W) in {0, 1}, exactly one 1 per pixel.
    """
    if logits.ndim != 4:
        raise ValueError(f"logits must be (B, N, H, W), got {tuple(logits.shape)}")
    index = logits.argmax(dim=1)  # (B, H, W)
    return F.one_hot(index, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)


def gumbel_segments(
    logits: torch.Tensor, *, tau: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Straight-through Gumbel-softmax over channels with a hard one-hot sample.

    Forward: one-hot of ``argmax(logits + g)``, g ~ Gumbel(0, 1) (exactly 0/1). Backward:
    the gradient of ``softmax((logits + g) / tau)``. Unlike ``F.gumbel_softmax`` the noise
    comes from ``generator``, so a seeded generator gives the same segments.

    logits: (B, N, H, W); tau > 0. Returns (B, N, H, W).
    """
    if logits.ndim != 4:
        raise ValueError(f"logits must be (B, N, H, W), got {tuple(logits.shape)}")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    dtype = logits.dtype
    logits = logits.float()  # noise and softmax in fp32 (bf16 rounds the Gumbel noise)
    uniform = _uniform(tuple(logits.shape), generator=generator, like=logits)
    gumbel = -torch.log(-torch.log(uniform.clamp_min(torch.finfo(logits.dtype).tiny)))
    soft = torch.softmax((logits + gumbel) / tau, dim=1)
    hard = argmax_segments(soft)
    return (hard + (soft - soft.detach())).to(dtype)  # values exactly `hard`; gradient of `soft`


def _check_segments(segments: torch.Tensor, image: torch.Tensor, name: str) -> None:
    if segments.ndim != 4:
        raise ValueError(f"segments must be (B, N, H, W), got {tuple(segments.shape)}")
    batch, _, height, width = segments.shape
    if image.ndim != 4 or image.shape[0] != batch or image.shape[-2:] != (height, width):
        raise ValueError(
            f"{name} must be (B, C, H, W) matching segments {tuple(segments.shape)}, got {tuple(image.shape)}"
        )


def segment_hints(
    segments: torch.Tensor, target: torch.Tensor, num_hints: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hint function h(S, Y, N_h) (eqs. 4-8).

    Segment i (0-based) is active in image b iff ``i < num_hints[b]``; every active segment
    is filled entirely with its mean ground-truth colour (eq. 6; 0 for an empty segment):
    ``C = sum_i c_i S~_i``, ``M = sum_i S~_i``. Differentiable with respect to ``segments``.

    segments: (B, N, H, W) one-hot over N; target: (B, 3, H, W) RGB in [0, 1];
    num_hints: (B,) integers (values above N mean all segments).
    Returns ``hint_colors (B, 3, H, W)`` in [0, 1] (0 outside hints) and
    ``hint_mask (B, 1, H, W)`` in {0, 1}.
    """
    _check_segments(segments, target, "target")
    if target.shape[1] != 3:
        raise ValueError(f"target must be RGB (B, 3, H, W), got {tuple(target.shape)}")
    batch, num_segments = segments.shape[:2]
    if num_hints.shape != (batch,) or num_hints.is_floating_point():
        raise ValueError(
            f"num_hints must be (B,) = ({batch},) integers, got {tuple(num_hints.shape)} {num_hints.dtype}"
        )
    active = torch.arange(num_segments, device=segments.device) < num_hints.to(segments.device)[:, None]  # (B, N)
    masked = segments * active[:, :, None, None].to(segments.dtype)  # S~: (B, N, H, W)
    means = segment_means(segments, target)  # (B, N, 3)
    hint_colors = torch.einsum("bnc,bnhw->bchw", means, masked)
    hint_mask = masked.sum(dim=1, keepdim=True)
    return hint_colors, hint_mask


def fill_segments(segments: torch.Tensor, region_colors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """User hints: the first k segments filled with the user's k colours.

    segments: (B, N, H, W) one-hot; region_colors: (B, k, 3) RGB in [0, 1], k <= N.
    Returns ``hint_colors (B, 3, H, W)`` and ``hint_mask (B, 1, H, W)``.
    """
    if segments.ndim != 4:
        raise ValueError(f"segments must be (B, N, H, W), got {tuple(segments.shape)}")
    batch, num_segments = segments.shape[:2]
    if region_colors.ndim != 3 or region_colors.shape[0] != batch or region_colors.shape[2] != 3:
        raise ValueError(f"region_colors must be (B, k, 3) with B = {batch}, got {tuple(region_colors.shape)}")
    count = region_colors.shape[1]
    if count > num_segments:
        raise ValueError(f"at most {num_segments} region colours (one per segment), got {count}")
    chosen = segments[:, :count]  # (B, k, H, W)
    hint_colors = torch.einsum("bkc,bkhw->bchw", region_colors.to(segments), chosen)
    return hint_colors, chosen.sum(dim=1, keepdim=True)


IGNORE = -100  # cross-entropy's ignore_index: pixels the region prior says nothing about


def ranked_region_labels(sketch: torch.Tensor, num_segments: int, *, background_last: bool = False,
                         ignore_ink: bool = False) -> torch.Tensor:
    """The region prior's target: every pixel labelled with the area rank of its
    trapped-ball region (:func:`tinct.regions.trapped_ball` on the sketch alone, line pixels
    joined to the nearest region): the largest region is 0, the next 1, ...; ranks past
    ``num_segments - 1`` share the last channel. Ties keep label order.

    background_last: the background (the region holding most of the picture's border pixels)
        takes the last channel instead of its area rank, so the first questions are about the
        drawing; the other regions move up.
    ignore_ink: ink pixels (sketch < 0.5) are labelled :data:`IGNORE`: f is not taught to put
        the lines anywhere (they then follow the regions beside them).

    sketch: (B, 1, H, W) in [0, 1]. Returns (B, H, W) int64 on the sketch's device.
    """
    import numpy as np

    from tinct.regions import trapped_ball

    check_sketch(sketch)
    ranked = []
    for plane in sketch[:, 0].detach().float().cpu().numpy():
        labels = trapped_ball(plane)
        areas = np.bincount(labels.ravel())
        areas[0] = 0  # label 0 never occurs with assign_lines; keep it last if it does
        background = None
        if background_last:
            border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
            background = int(np.bincount(border, minlength=areas.size)[1:].argmax()) + 1
            areas[background] = -1
        rank = np.empty(areas.size, dtype=np.int64)
        rank[np.argsort(-areas, kind="stable")] = np.minimum(np.arange(areas.size), num_segments - 1)
        if background is not None:
            rank[background] = num_segments - 1
        target = rank[labels]
        if ignore_ink:
            target[plane < 0.5] = IGNORE
        ranked.append(torch.from_numpy(target))
    return torch.stack(ranked).to(sketch.device)


# ----------------------------------------------------------------------------- config


@dataclass
class Config:
    """GuidingPainter hyper-parameters; defaults are the paper's / official code's values."""

    method: str = "guiding_painter"
    num_segments: int = 30  # N_c: segments = the most hints a user gives
    base_channels: int = 64  # U-Net width (f and g)
    depth: int = 4  # U-Net poolings
    hint_p: float = 0.125  # stop probability of the bounded geometric N_h
    tau_start: float = 1.0  # Gumbel temperature at the start of training ...
    tau_end: float = 0.1  # ... and at the end (geometric in between)
    weight_rec: float = 30.0
    weight_adv: float = 0.2
    weight_tv: float = 5.0
    weight_smooth: float = 1.0
    lr: float = 2e-4  # Adam, G and D; linear decay over the last half is the trainer's job
    betas: tuple[float, float] = (0.9, 0.999)
    disc_channels: int = 64
    disc_layers: int = 3
    # Not in the paper (0 = the paper's objective): a short-budget warm start for f. Cross
    # entropy between f's logits and the sketch's trapped-ball regions ranked by area
    # (largest -> channel 0), with this weight at the start of training, fading linearly to
    # 0 at ``region_prior_until`` (fraction of training). See :func:`ranked_region_labels`.
    region_prior_weight: float = 0.0
    region_prior_until: float = 0.3
    # The reworked warm start (DESIGN.md "What the shipped GuidingPainter learned", fix 2; all
    # off = the first shipped model's prior): background in the last channel, ink unlabelled,
    # and label smoothing so the prior's logit margins stay within the Gumbel noise's range
    # and the straight-through gradient survives the fade.
    prior_background_last: bool = False
    prior_ignore_ink: bool = False
    prior_smoothing: float = 0.0
    # Fix 3 (not in the paper): hold tau at tau_start for this fraction of training, then
    # anneal; and bound f's logits by s * tanh(x / s) (None: unbounded, the paper's head).
    tau_hold: float = 0.0
    logit_bound: float | None = None

    def __post_init__(self) -> None:
        if self.region_prior_weight < 0 or not 0.0 < self.region_prior_until <= 1.0:
            raise ValueError(
                "region_prior_weight must be >= 0 and region_prior_until in (0, 1], got "
                f"{self.region_prior_weight}, {self.region_prior_until}"
            )
        if not 0.0 <= self.prior_smoothing < 1.0 or not 0.0 <= self.tau_hold < 1.0:
            raise ValueError(f"prior_smoothing and tau_hold must be in [0, 1), got {self.prior_smoothing}, "
                             f"{self.tau_hold}")
        if self.logit_bound is not None and not self.logit_bound > 0:
            raise ValueError(f"logit_bound must be > 0 or None, got {self.logit_bound}")
        if self.num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {self.num_segments}")
        if not 0.0 < self.hint_p <= 1.0:
            raise ValueError(f"hint_p must be in (0, 1], got {self.hint_p}")
        if not (self.tau_start > 0 and self.tau_end > 0):
            raise ValueError(f"tau_start and tau_end must be > 0, got {self.tau_start}, {self.tau_end}")
        self.betas = tuple(self.betas)


# ----------------------------------------------------------------------------- the model

class GuidingPainter(GANMethod):
    """Segmentation net f, colorization net g, discriminator D (training only).

    Public tensors follow tinct's conventions: sketch (B, 1, H, W) in [0, 1] (1 = paper),
    colours RGB in [0, 1], hints ``(hint_colors (B, 3, H, W), hint_mask (B, 1, H, W))``.
    Inference methods do not switch modes: call ``.eval()`` first (``from_pretrained``
    returns the model in eval mode), or BatchNorm uses and updates batch statistics.
    """

    name = "guiding_painter"
    config_class = Config
    guidance = Guidance(regions=True, points=True)
    protocol = "hints"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else Config()
        unet = dict(base_channels=config.base_channels, depth=config.depth)
        self.segmenter = UNet(in_channels=1, out_channels=config.num_segments, **unet)
        self.colorizer = UNet(in_channels=1 + 3 + 1 + config.num_segments, out_channels=3, **unet)
        self.discriminator = NLayerDiscriminator(
            in_channels=1 + 3, base_channels=config.disc_channels, num_layers=config.disc_layers
        )
        pix2pix_init_(self)

    # -- networks

    def segment_logits(self, sketch: torch.Tensor) -> torch.Tensor:
        """f: sketch (B, 1, H, W) in [0, 1] -> segment logits (B, N_c, H, W)."""
        check_sketch(sketch)
        logits = self.segmenter(to_signed(sketch))
        bound = self.config.logit_bound
        return logits if bound is None else bound * torch.tanh(logits / bound)

    def segments(
        self, logits: torch.Tensor, *, tau: float | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Hard one-hot segments (B, N_c, H, W) from logits: straight-through Gumbel-softmax
        at temperature ``tau`` (training), or the argmax when ``tau`` is None (test time)."""
        if tau is None:
            return argmax_segments(logits)
        return gumbel_segments(logits, tau=tau, generator=generator)

    def hints_from_segments(
        self, segments: torch.Tensor, target: torch.Tensor, num_hints: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h(S, Y, N_h): see :func:`segment_hints`."""
        return segment_hints(segments, target, num_hints)

    def forward(
        self, sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor, segments: torch.Tensor
    ) -> torch.Tensor:
        """g: paint the sketch.

        sketch: (B, 1, H, W) in [0, 1]; hint_colors: (B, 3, H, W) in [0, 1], 0 where no hint;
        hint_mask: (B, 1, H, W) in {0, 1}; segments: (B, N_c, H, W).
        Returns RGB (B, 3, H, W) in [0, 1].
        """
        check_hints(sketch, hint_colors, hint_mask)
        if segments.shape != (sketch.shape[0], self.config.num_segments, *sketch.shape[-2:]):
            raise ValueError(
                f"segments must be (B, {self.config.num_segments}, H, W) matching the sketch, "
                f"got {tuple(segments.shape)}"
            )
        signed_hints = 2.0 * hint_colors - hint_mask  # signed colour inside hints, 0 outside
        inputs = torch.cat([to_signed(sketch), signed_hints, hint_mask, segments], dim=1)  # (B, 5 + N_c, H, W)
        return from_signed(torch.tanh(self.colorizer(inputs)))

    # -- training

    def temperature(self, progress: float) -> float:
        """τ at ``progress`` in [0, 1] (fraction of training done)."""
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress}")
        config = self.config
        annealed = max(0.0, progress - config.tau_hold) / (1.0 - config.tau_hold)
        return config.tau_start * (config.tau_end / config.tau_start) ** annealed

    def prior_weight(self, progress: float) -> float:
        """Weight of the region-prior term at ``progress``: linear from
        ``config.region_prior_weight`` to 0 at ``config.region_prior_until``."""
        config = self.config
        return config.region_prior_weight * max(0.0, 1.0 - progress / config.region_prior_until)

    def generator_step(
        self, batch: dict, *, progress: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """One generator loss.

        batch: ``"sketch"`` (B, 1, H, W) and ``"color"`` (B, 3, H, W), both in [0, 1].
        progress: fraction of training done, for τ. generator: seeds N_h and the Gumbel noise
        (it may live on the CPU while the batch is on a GPU).

        Returns ``(loss, logs, carry)``: the weighted total; the unweighted terms ``rec`` (L1
        in [-1, 1]), ``adv``, ``tv``, ``smooth`` (and ``prior`` while it is on), plus ``loss_g``
        and ``tau`` as floats; ``{"fake": (B, 3, H, W) in [0, 1], NOT detached, "real": the
        target}`` for :meth:`discriminator_step`.
        """
        sketch, target = check_batch(batch)
        config = self.config
        tau = self.temperature(progress)
        logits = self.segment_logits(sketch)
        segments = self.segments(logits, tau=tau, generator=generator)
        num_hints = geometric_count(
            (sketch.shape[0],),
            p=config.hint_p,
            max_count=config.num_segments,
            generator=generator,
            device=generator.device if generator is not None else sketch.device,
        ).to(sketch.device)
        hint_colors, hint_mask = segment_hints(segments, target, num_hints)
        fake = self(sketch, hint_colors, hint_mask, segments)

        signed_fake, signed_target = to_signed(fake), to_signed(target)
        rec = l1_loss(signed_fake, signed_target)
        adv = lsgan_generator_loss(self.discriminator(torch.cat([to_signed(sketch), signed_fake], dim=1)))
        tv = total_variance_loss(segments, signed_target)
        smooth = smoothness_loss(logits)
        loss = config.weight_rec * rec + config.weight_adv * adv + config.weight_tv * tv + config.weight_smooth * smooth
        logs = {"rec": float(rec.detach()), "adv": float(adv.detach()), "tv": float(tv.detach()),
                "smooth": float(smooth.detach()), "tau": float(tau)}
        prior_weight = self.prior_weight(progress)
        if prior_weight > 0:
            labels = ranked_region_labels(sketch, config.num_segments, background_last=config.prior_background_last,
                                          ignore_ink=config.prior_ignore_ink)
            prior = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE,
                                    label_smoothing=config.prior_smoothing)
            loss = loss + prior_weight * prior
            logs["prior"] = float(prior.detach())
        logs["loss_g"] = float(loss.detach())
        return loss, logs, {"fake": fake, "real": target}

    # -- inference

    @torch.no_grad()
    def rank_regions(self, sketch: torch.Tensor) -> torch.Tensor:
        """The regions the model asks about, in order: (B, 1, H, W) -> (B, N_c, H, W) one-hot;
        channel i is the (i+1)-th region to colour (``.argmax(1)`` gives a label map)."""
        return argmax_segments(self.segment_logits(sketch))

    @torch.no_grad()
    def colorize(
        self,
        sketch: torch.Tensor,
        region_colors: torch.Tensor | None = None,
        *,
        segments: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Paint the sketch with the user's colours for the first k ranked regions.

        sketch: (B, 1, H, W) in [0, 1]; region_colors: (B, k, 3) RGB in [0, 1], k in [0, N_c]
        (None = no hints); segments: the (B, N_c, H, W) ranking to colour (default
        :meth:`rank_regions`). Returns (B, 3, H, W) in [0, 1].
        """
        check_sketch(sketch)
        if segments is None:
            segments = self.rank_regions(sketch)
        if region_colors is None:
            region_colors = sketch.new_zeros(sketch.shape[0], 0, 3)
        hint_colors, hint_mask = fill_segments(segments, region_colors)
        return self(sketch, hint_colors, hint_mask, segments)

    @torch.no_grad()
    def prepare(self, sketch: torch.Tensor) -> dict:
        """The ranking f gives the sketch: ``{"segments": (B, N_c, S, S)}`` one-hot."""
        return {"segments": self.rank_regions(sketch)}

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """g on the sketch with the given hints (filled ranked regions, points) and the
        prepared ranking as its segment input. Returns (B, 3, S, S) in [0, 1]."""
        segments = inputs.prepared.get("segments")
        if segments is None:
            segments = self.rank_regions(inputs.sketch)
        return self(inputs.sketch, *inputs.hints_or_none(), segments)

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None):
        """The paper's evaluation protocol: ``hints(k)`` fills the first k ranked segments
        (``prepared["segments"]``) with their mean ground-truth colour from ``batch["color"]``.
        ``generator`` is unused (the ranking is deterministic)."""
        sketch, target = check_batch(batch)
        segments = prepared["segments"]

        def hints(count: int) -> tuple[torch.Tensor, torch.Tensor]:
            if not 0 <= count <= max_hints:
                raise ValueError(f"hint count must be in [0, {max_hints}], got {count}")
            num_hints = torch.full((sketch.shape[0],), count, dtype=torch.long, device=sketch.device)
            return segment_hints(segments, target, num_hints)

        return hints
