"""Point-hint colorizer: the RTUG row of GuidingPainter's comparison (Zhang et al. 2017 hints).

The same colorization U-Net as GuidingPainter's g, on concat(sketch, C, M) (5 channels),
trained with RTUG's random point hints (:func:`tinct.data.hints.sample_point_hints`:
geometric number of hints, p = 1/8; square patches of 1-9 px filled with the patch's mean
ground-truth colour). It is not RTUG's own network (an ab-predicting colorization net on
L): it is the GuidingPainter pipeline with the segment guidance removed, so the two rows
differ only in where hints come from.

Losses: L1 ×30 and LSGAN ×0.2 with the same discriminator, weights and [-1, 1] working
range as :mod:`tinct.methods.guiding_painter`; its total-variance and smoothness terms are
dropped because they regularise the segmentation network, which this model has none of.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinct.color import from_signed, to_signed
from tinct.data.hints import random_points, sample_point_hints
from tinct.losses import l1_loss, lsgan_generator_loss
from tinct.methods.base import GANMethod, Guidance, Inputs, cpu_generator
from tinct.methods.checks import check_batch, check_hints
from tinct.nn import NLayerDiscriminator, UNet, pix2pix_init_
from tinct.nn.unet import EncoderHook


@dataclass
class Config:
    """Point-hint colorizer hyper-parameters; GuidingPainter's values where they apply."""

    method: str = "point_hints"
    base_channels: int = 64
    depth: int = 4
    hint_p: float = 0.125  # stop probability of the geometric number of point hints
    weight_rec: float = 30.0
    weight_adv: float = 0.2
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    disc_channels: int = 64
    disc_layers: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.hint_p <= 1.0:
            raise ValueError(f"hint_p must be in (0, 1], got {self.hint_p}")
        self.betas = tuple(self.betas)


class PointHints(GANMethod):
    """Colorization U-Net g on sketch + point hints, and its discriminator D (training only).

    Inference methods do not switch modes: call ``.eval()`` first (``from_pretrained``
    returns the model in eval mode).
    """

    name = "point_hints"
    config_class = Config
    guidance = Guidance(points=True)
    protocol = "hints"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else Config()
        self.colorizer = UNet(in_channels=1 + 3 + 1, out_channels=3, base_channels=config.base_channels,
                              depth=config.depth)
        self.discriminator = NLayerDiscriminator(
            in_channels=1 + 3, base_channels=config.disc_channels, num_layers=config.disc_layers
        )
        pix2pix_init_(self)

    def forward(self, sketch: torch.Tensor, hint_colors: torch.Tensor, hint_mask: torch.Tensor, *,
                encoder_hook: EncoderHook | None = None) -> torch.Tensor:
        """sketch (B, 1, H, W) in [0, 1]; hint_colors (B, 3, H, W) in [0, 1], 0 where no hint;
        hint_mask (B, 1, H, W) in {0, 1}. Returns RGB (B, 3, H, W) in [0, 1]. encoder_hook: see
        :meth:`tinct.nn.UNet.forward` (edge enhancement's add-ons; None: the plain model)."""
        check_hints(sketch, hint_colors, hint_mask)
        signed_hints = 2.0 * hint_colors - hint_mask  # signed colour inside hints, 0 outside
        inputs = torch.cat([to_signed(sketch), signed_hints, hint_mask], dim=1)  # (B, 5, H, W)
        return from_signed(torch.tanh(self.colorizer(inputs, encoder_hook=encoder_hook)))

    # -- training

    def generator_step(
        self, batch: dict, *, progress: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], dict[str, torch.Tensor]]:
        """One generator loss with fresh random point hints.

        batch: ``"sketch"`` (B, 1, H, W) and ``"color"`` (B, 3, H, W) in [0, 1]. ``progress``
        is accepted for the shared training loop and unused (no schedule); ``generator`` may
        live on any device. Returns
        ``(loss, logs, carry)``: logs ``loss_g`` and the unweighted ``rec`` (L1 in [-1, 1]) and
        ``adv``; ``{"fake": (B, 3, H, W) in [0, 1], not detached, "real": the target}``.
        """
        sketch, target = check_batch(batch)
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress}")
        config = self.config
        hint_colors, hint_mask = sample_point_hints(target, p=config.hint_p, generator=cpu_generator(generator))
        fake = self(sketch, hint_colors, hint_mask)
        signed_fake = to_signed(fake)
        rec = l1_loss(signed_fake, to_signed(target))
        adv = lsgan_generator_loss(self.discriminator(torch.cat([to_signed(sketch), signed_fake], dim=1)))
        loss = config.weight_rec * rec + config.weight_adv * adv
        logs = {"loss_g": float(loss.detach()), "rec": float(rec.detach()), "adv": float(adv.detach())}
        return loss, logs, {"fake": fake, "real": target}

    # -- inference

    @torch.no_grad()
    def colorize(
        self,
        sketch: torch.Tensor,
        hint_colors: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Paint the sketch (B, 1, H, W) from point hints (both None = no hints).
        Returns (B, 3, H, W) in [0, 1]."""
        if (hint_colors is None) != (hint_mask is None):
            raise ValueError("give both hint_colors and hint_mask, or neither")
        if hint_colors is None:
            batch, _, height, width = sketch.shape
            hint_colors = sketch.new_zeros(batch, 3, height, width)
            hint_mask = sketch.new_zeros(batch, 1, height, width)
        return self(sketch, hint_colors, hint_mask)

    @torch.no_grad()
    def paint(self, inputs: Inputs) -> torch.Tensor:
        """The sketch painted from its point hints (none: an unhinted colorization)."""
        return self(inputs.sketch, *inputs.hints_or_none())

    def hint_policy(self, batch: dict, prepared: dict, *, max_hints: int,
                    generator: torch.Generator | None = None):
        """Random points, RTUG's evaluation placement (:func:`tinct.data.hints.random_points`);
        ``hints(k)`` gives the first k of them."""
        _, target = check_batch(batch)
        return random_points(target, max_hints=max_hints, generator=cpu_generator(generator))
