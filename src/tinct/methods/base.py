"""What the hint-based GAN methods share: the sketch-conditioned discriminator step, the
discriminator's parameters and checkpoint I/O (``config.json`` + ``model.safetensors``).

A subclass sets ``name`` and ``config_class``, builds ``self.discriminator`` (scoring
concat(sketch, image) in [-1, 1]) and keeps its config, with a ``weight_adv``, in
``self.config``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tinct.color import to_signed
from tinct.losses import conditional_discriminator_loss
from tinct.methods.checks import check_batch
from tinct.methods.pretrained import load_pretrained, save_pretrained


def cpu_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """The data samplers (point hints, references) draw on the CPU; a generator on another
    device (the trainer's per-step CUDA generator) seeds a CPU one, so draws stay reproducible."""
    if generator is None or generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator().manual_seed(seed)


class GANMethod(nn.Module):
    name: str
    config_class: type

    def discriminator_step(self, batch: dict, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """LSGAN loss of D on real ``batch["color"]`` vs ``fake.detach()``, conditioned on the
        sketch, times ``weight_adv`` as in the GuidingPainter code. fake: (B, 3, H, W) in [0, 1]."""
        sketch, target = check_batch(batch)
        if fake.shape != target.shape:
            raise ValueError(f"fake must be (B, 3, H, W) = {tuple(target.shape)}, got {tuple(fake.shape)}")
        loss = self.config.weight_adv * conditional_discriminator_loss(
            self.discriminator, to_signed(sketch), to_signed(target), to_signed(fake)
        )
        return loss, {"loss_d": float(loss.detach())}

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        """Load a folder written by :meth:`save_pretrained`; the model is in eval mode."""
        return load_pretrained(cls, cls.config_class, folder)
