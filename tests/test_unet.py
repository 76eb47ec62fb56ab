import pytest
import torch
from torch import nn

from tinct.nn import NLayerDiscriminator, UNet, pix2pix_init_


@pytest.mark.parametrize("height, width", [(32, 32), (40, 40), (27, 27), (27, 40)])
def test_unet_output_shape_at_any_size(height, width):
    torch.manual_seed(0)
    unet = UNet(in_channels=5, out_channels=3, base_channels=8, depth=4)
    out = unet(torch.randn(2, 5, height, width))
    assert out.shape == (2, 3, height, width)
    assert torch.isfinite(out).all()


def test_unet_channel_widths_follow_the_official_layout():
    unet = UNet(in_channels=1, out_channels=30, base_channels=64, depth=4)
    assert unet.inc[0].out_channels == 64
    assert [down[1][3].out_channels for down in unet.downs] == [128, 256, 512, 512]
    assert [(up.conv[0].in_channels, up.conv[0].out_channels, up.conv[3].out_channels) for up in unet.ups] == [
        (1024, 512, 256), (512, 256, 128), (256, 128, 64), (128, 64, 64)
    ]
    assert unet.outc.out_channels == 30


def test_unet_padding_is_cropped_back_exactly():
    # a size that needs padding gives the same top-left output as the padded input itself
    torch.manual_seed(0)
    unet = UNet(in_channels=1, out_channels=2, base_channels=4, depth=2).eval()
    image = torch.rand(1, 1, 6, 7)
    padded = torch.nn.functional.pad(image, (0, 1, 0, 2), mode="replicate")  # 8 x 8
    with torch.no_grad():
        assert torch.allclose(unet(image), unet(padded)[..., :6, :7], atol=1e-6)


def test_unet_rejects_wrong_channels():
    unet = UNet(in_channels=3, out_channels=1, base_channels=4, depth=2)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        unet(torch.rand(1, 2, 8, 8))
    with pytest.raises(ValueError):
        UNet(in_channels=3, out_channels=1, depth=0)


def test_patch_discriminator_shape_and_layout():
    torch.manual_seed(0)
    disc = NLayerDiscriminator(in_channels=4, base_channels=8, num_layers=3)
    assert disc(torch.randn(2, 4, 32, 32)).shape == (2, 1, 2, 2)  # 32 / 8 - 2
    assert disc(torch.randn(2, 4, 64, 48)).shape == (2, 1, 6, 4)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        disc(torch.randn(2, 3, 32, 32))


def test_pix2pix_init():
    torch.manual_seed(0)
    net = pix2pix_init_(UNet(in_channels=1, out_channels=1, base_channels=16, depth=2))
    conv = net.inc[0]
    assert abs(conv.weight.std().item() - 0.02) < 0.005
    assert abs(net.inc[1].weight.mean().item() - 1.0) < 0.01 and (net.inc[1].bias == 0).all()
    assert (net.outc.bias == 0).all()


def test_deterministic_pad_and_upsample_match_torch():
    import torch.nn.functional as F

    from tinct.nn.unet import pad_replicate, upsample_bilinear

    image = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pad_replicate(image, bottom=3, right=1), F.pad(image, (0, 1, 0, 3), mode="replicate"))
    for size in [(10, 14), (5, 7), (9, 3), (1, 4)]:
        expected = F.interpolate(image, size=size, mode="bilinear", align_corners=True)
        assert torch.allclose(upsample_bilinear(image, size), expected, atol=1e-6)
    single = torch.randn(1, 2, 1, 1)
    assert torch.allclose(upsample_bilinear(single, (4, 4)), single.expand(-1, -1, 4, 4))
