"""Network blocks shared by more than one method."""

from tinct.nn.discriminators import NLayerDiscriminator, pix2pix_init_
from tinct.nn.unet import UNet

__all__ = ["NLayerDiscriminator", "UNet", "pix2pix_init_"]
