import logging
import math

import pytest
import torch
import torch.nn.functional as F
from method_helpers import check_gan_gradients

from tinct.color import to_signed
from tinct.guidance import style_code
from tinct.hintfile import StyleMix
from tinct.methods import METHODS, load_model
from tinct.methods.base import DEFAULT_STYLE_SEED, Guidance, Inputs, style_from_seed
from tinct.methods.rasc import (
    RASC,
    Config,
    ModulatedConv2d,
    RegionFormulation,
    broadcast_regions,
    masked_attention,
    modulated_conv2d,
    modulated_weight,
    normalize_style,
    region_boundaries,
    region_map,
    region_max_pool,
    resize_labels,
)
from tinct.regions import skeleton

TINY = dict(base_channels=8, max_channels=32, depth=2, style_dim=16, disc_channels=8, disc_layers=3)
SIZE = 32


def _model(seed=0, **changes):
    torch.manual_seed(seed)
    return RASC(Config(**{**TINY, **changes}))


def _sketch(batch=2, size=SIZE):
    """Two lines crossing: four regions."""
    sketch = torch.ones(batch, 1, size, size)
    sketch[:, :, :, size // 2 - 1:size // 2 + 1] = 0.0
    sketch[:, :, size // 4:size // 4 + 2, :] = 0.0
    return sketch


def _batch(seed=0, size=SIZE):
    generator = torch.Generator().manual_seed(seed)
    return {"sketch": _sketch(size=size), "color": torch.rand(2, 3, size, size, generator=generator)}


# ----------------------------------------------------------------------------- declarations and config


def test_registered_with_the_papers_settings():
    assert METHODS["rasc"] is RASC
    config = Config()
    assert (config.lr, config.betas, config.variant, config.depth) == (0.002, (0.0, 0.99), "full", 3)
    assert (config.random_style, config.conditional, config.r1_gamma) == (0.0, False, 0.0)  # the paper's training
    model = _model()
    assert model.guidance == Guidance(style_dim=16) and model.protocol == "styles"
    assert model.batch_keys == ("sketch", "color")
    steps = model.training_steps()
    assert [(s.name, s.lr, s.betas) for s in steps] == [("generator", 0.002, (0.0, 0.99)),
                                                        ("discriminator", 0.002, (0.0, 0.99))]


@pytest.mark.parametrize("changes, match", [
    ({"variant": "half"}, "variant must be one of full, no_formulation, no_regions"),
    ({"style_dim": 0}, "style_dim=0"),
    ({"random_style": 1.5}, r"random_style is a probability in \[0, 1\]"),
    ({"r1_gamma": -1.0}, "r1_gamma=-1.0"),
])
def test_bad_configs_say_what_is_wrong(changes, match):
    with pytest.raises(ValueError, match=match):
        Config(**changes)


def test_the_shipped_size_fits_a_cpu():
    model = RASC(Config())
    megabytes = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    assert megabytes < 25


# ----------------------------------------------------------------------------- region formulation


def test_region_max_pool_against_a_hand_computed_case():
    # image 0: channel 0 / channel 1 over a 2 x 3 map; regions 0, 1, 2 (region 2 a single pixel)
    features = torch.tensor([[[[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]],
                              [[-1.0, 0.5, -3.0], [7.0, -5.0, -0.5]]],
                             # image 1: all in regions 0 and 1 (region 2 absent: padding)
                             [[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
                              [[-3.0, -3.0, -3.0], [-1.0, -2.0, -9.0]]]])
    labels = torch.tensor([[[0, 0, 1], [2, 1, 1]],
                           [[0, 0, 0], [1, 1, 1]]])
    pooled, present = region_max_pool(features, labels)
    expected = torch.tensor([[[1.0, 0.5], [5.0, -0.5], [-4.0, 7.0]],  # (K, C) per image
                             [[1.0, -3.0], [2.0, -1.0], [0.0, 0.0]]])
    assert torch.equal(pooled, expected)  # the max over each region's own pixels (negative maxima kept)
    assert present.tolist() == [[True, True, True], [True, True, False]]
    padded, more = region_max_pool(features, labels, num_regions=5)  # pad the batch further
    assert torch.equal(padded[:, :3], pooled) and not more[:, 3:].any()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        region_max_pool(features, labels, num_regions=2)


def test_max_pool_gradient_reaches_the_maximum_pixels_only():
    features = torch.tensor([[[[1.0, 3.0], [2.0, 0.0]]]], requires_grad=True)
    labels = torch.tensor([[[0, 0], [1, 1]]])
    pooled, _ = region_max_pool(features, labels)
    pooled.sum().backward()
    assert features.grad.tolist() == [[[[0.0, 1.0], [1.0, 0.0]]]]


def test_padded_regions_never_receive_attention():
    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(1, 3, 4, generator=generator) for _ in range(3))
    present = torch.ones(1, 3, dtype=torch.bool)
    out, weights = masked_attention(query, key, value, present)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 3))
    manual = torch.softmax(query @ key.transpose(1, 2) / 2.0, dim=-1) @ value  # scale 1 / sqrt(4)
    assert torch.allclose(out, manual, atol=1e-6)
    # the same regions padded with two absent ones holding large (garbage) values
    pad = torch.full((1, 2, 4), 50.0)
    padded_out, padded_weights = masked_attention(torch.cat([query, pad], 1), torch.cat([key, pad], 1),
                                                  torch.cat([value, pad], 1),
                                                  torch.tensor([[True, True, True, False, False]]))
    assert torch.equal(padded_weights[:, :, 3:], torch.zeros(1, 5, 2))  # no weight on padded keys
    assert torch.equal(padded_out[:, 3:], torch.zeros(1, 2, 4))  # padded queries: no output
    assert torch.allclose(padded_out[:, :3], out, atol=1e-6)  # the real regions are unchanged


def test_region_formulation_of_an_image_does_not_depend_on_its_batch_mates():
    torch.manual_seed(0)
    module = RegionFormulation(channels=4)
    features = torch.randn(2, 4, 6, 6)
    labels = torch.zeros(2, 6, 6, dtype=torch.long)
    labels[0, :, 3:] = 1  # image 0: two regions
    labels[1] = torch.arange(36).reshape(6, 6) % 9  # image 1: nine regions, so image 0 is padded by seven
    alone, weights_alone = module(features[:1], labels[:1])
    batched, weights = module(features, labels)
    assert weights.shape == (2, 9, 9) and weights_alone.shape == (1, 2, 2)
    assert torch.allclose(batched[:1], alone, atol=1e-6)
    assert torch.equal(weights[0, :, 2:], torch.zeros(9, 7))
    # broadcast: every pixel of a region carries the same vector
    assert torch.equal(batched[0, :, :, 0], batched[0, :, :, 2]) and not torch.equal(batched[0, :, 0, 0],
                                                                                     batched[0, :, 0, 5])


def test_broadcast_and_nearest_resizing_by_hand():
    rows = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])  # (B=1, K=3, C=2)
    labels = torch.tensor([[[2, 0], [1, 1]]])
    assert broadcast_regions(rows, labels).tolist() == [[[[5.0, 1.0], [3.0, 3.0]], [[6.0, 2.0], [4.0, 4.0]]]]
    big = torch.tensor([[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 9]]])
    assert resize_labels(big, (2, 2)).tolist() == [[[1, 2], [3, 4]]]  # nearest: the top-left pixel of each cell
    with pytest.raises(ValueError, match="integer"):
        resize_labels(big.float(), (2, 2))


def test_region_boundaries_match_the_region_skeleton():
    labels = region_map(_sketch())
    assert labels.dtype == torch.int64 and labels.shape == (2, SIZE, SIZE) and int(labels.max()) >= 4
    assert torch.equal(region_boundaries(labels), torch.from_numpy(skeleton(labels.numpy())))


# ----------------------------------------------------------------------------- modulated convolution


def test_modulated_conv_shapes_and_demodulation():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 9, generator=generator)
    weight = torch.randn(6, 4, 3, 3, generator=generator)
    styles = torch.rand(2, 4, generator=generator) + 0.5
    out = modulated_conv2d(x, weight, styles, padding=1)
    assert out.shape == (2, 6, 9, 9)
    # demodulated: every output channel's modulated weights have unit norm (StyleGAN2 eq. 3)
    effective = modulated_weight(weight, styles)
    assert torch.allclose(effective.pow(2).sum(dim=(2, 3, 4)), torch.ones(2, 6), atol=1e-5)
    # the same as convolving each sample with its own weights (a grouped convolution)
    grouped = F.conv2d(x.reshape(1, 8, 9, 9), effective.reshape(12, 4, 3, 3), padding=1, groups=2).reshape(2, 6, 9, 9)
    assert torch.allclose(out, grouped, atol=1e-4)
    # the output does not depend on the styles' overall scale, only on their ratios
    assert torch.allclose(modulated_conv2d(x, weight, 7.0 * styles, padding=1), out, atol=1e-4)
    assert not torch.allclose(modulated_conv2d(x, weight, styles * torch.tensor([1.0, 2.0, 1.0, 1.0]), padding=1),
                              out, atol=1e-2)
    # without demodulation the scale comes through
    plain = modulated_conv2d(x, weight, styles, padding=1, demodulate=False)
    assert torch.allclose(modulated_conv2d(x, weight, 2 * styles, padding=1, demodulate=False), 2 * plain, atol=1e-4)
    with pytest.raises(ValueError, match=r"styles must be \(B, I\)"):
        modulated_conv2d(x, weight, styles[:, :3])


def test_a_modulated_layer_keeps_unit_variance_for_any_code_scale():
    torch.manual_seed(0)
    layer = ModulatedConv2d(in_channels=32, out_channels=32, kernel_size=3, style_dim=16)
    x = torch.randn(4, 32, 16, 16)
    w = normalize_style(torch.randn(4, 16))
    assert torch.allclose(normalize_style(5.0 * w), w, atol=1e-5)  # codes of any scale modulate alike
    std = layer(x, w).std().item()
    assert 0.5 < std < 2.0  # demodulated: about the input's unit variance


# ----------------------------------------------------------------------------- the generator


def test_the_same_seed_gives_the_same_picture_and_another_seed_another():
    model = _model().eval()
    sketch = _sketch()
    prepared = model.prepare(sketch)

    def paint(style):
        return model.paint(Inputs(sketch, style=style, prepared=prepared))

    three = paint(style_from_seed(3, 16))
    assert torch.equal(three, paint(style_from_seed(3, 16)))
    assert (three - paint(style_from_seed(4, 16))).abs().max() > 1e-3
    assert torch.equal(paint(None), paint(style_from_seed(DEFAULT_STYLE_SEED, 16)))  # no style: seed 0
    assert torch.equal(model.colorize(sketch), paint(None))
    # one code for the batch, or one per image
    two = torch.cat([style_from_seed(3, 16), style_from_seed(4, 16)])
    both = paint(two)
    assert torch.equal(both[0], three[0]) and not torch.equal(both[1], three[1])
    # "a,b@t": linear in the code
    middle = style_code(StyleMix(3, 4, 0.5), 16)
    assert torch.allclose(middle, 0.5 * (style_from_seed(3, 16) + style_from_seed(4, 16)))
    assert torch.equal(style_code(StyleMix(3, 4, 0.0), 16), style_from_seed(3, 16))
    assert torch.equal(style_code(None, 16), style_from_seed(0, 16))
    with pytest.raises(ValueError, match=r"style must be \(B, 16\) or \(1, 16\)"):
        paint(torch.zeros(1, 8))


def test_seed_codes_are_the_colorizers_historical_draw():
    # the same formula tinct used before RASC: a seed keeps naming the same code
    assert torch.equal(style_from_seed(7, 32), torch.randn(1, 32, generator=torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match="whole number"):
        style_from_seed(-1, 8)


@pytest.mark.parametrize("variant, shown, inputs", [("full", "rasc", 1), ("no_formulation", "rasc-formulation", 2),
                                                    ("no_regions", "rasc-regions", 1)])
def test_the_three_variants_build_and_run(variant, shown, inputs):
    model = _model(variant=variant).eval()
    sketch = _sketch(1, 37)  # not a multiple of 2**depth: padded and cropped back
    assert model.display_name == shown and model.encoder[0].first.weight.shape[1] == inputs
    prepared = model.prepare(sketch)
    assert (set(prepared) == {"regions"}) == (variant != "no_regions")
    out, details = model.paint_details(Inputs(sketch, style=style_from_seed(1, 16), prepared=prepared))
    assert out.shape == (1, 3, 37, 37) and 0 <= out.min() and out.max() <= 1
    generated = model.generate(sketch, style_from_seed(1, 16))
    assert torch.equal(generated.fake, out) and torch.equal(details["code"], generated.code)
    assert all((weights is None) == (variant != "full") for weights in generated.attention)
    assert all(block.formulation is None and block.project is None for block in model.blocks) == (variant != "full")


def test_the_region_map_reaches_the_full_model_and_not_the_regionless_one():
    sketch = _sketch()
    regions = region_map(sketch)
    other = torch.ones_like(regions)  # one region: nothing to tell apart
    style = style_from_seed(2, 16)
    for variant in ("full", "no_formulation"):
        model = _model(variant=variant).eval()
        assert torch.equal(model(sketch, style), model(sketch, style, regions))  # default: the trapped-ball map
        assert not torch.allclose(model(sketch, style, regions), model(sketch, style, other), atol=1e-4)
    regionless = _model(variant="no_regions").eval()
    with pytest.raises(ValueError, match="without region maps"):
        regionless(sketch, style, regions)


def test_the_full_model_attends_over_each_levels_present_regions():
    model = _model().eval()
    sketch = _sketch()
    out = model.generate(sketch, style_from_seed(0, 16))
    levels = model.config.depth + 1
    assert len(out.attention) == levels
    regions = int(region_map(sketch).max()) + 1
    for weights in out.attention:  # coarse to fine: (B, K, K), K = the largest label + 1
        assert weights.shape == (2, regions, regions)
        sums = weights.sum(-1)
        assert torch.all(((sums - 1).abs() < 1e-5) | (sums == 0))  # rows of present regions sum to 1
        assert torch.equal(weights[:, :, 0], torch.zeros(2, regions))  # label 0 (unused: lines assigned) is padding


def test_the_no_formulation_input_is_the_sketch_and_its_region_boundaries():
    model = _model(variant="no_formulation").eval()
    sketch = _sketch()
    seen = []
    hook = model.encoder[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model(sketch, style_from_seed(0, 16))
    hook.remove()
    boundaries = region_boundaries(region_map(sketch))[:, None].float()
    assert torch.equal(seen[0][:, :1], to_signed(sketch)) and torch.equal(seen[0][:, 1:], to_signed(1 - boundaries))


# ----------------------------------------------------------------------------- training


def test_every_parameter_gets_a_gradient_and_vgg_is_off_with_a_reason(caplog):
    model, batch = _model(vgg_weights="/nonexistent/vgg19-dcbb9e9d.pth"), _batch()
    with caplog.at_level(logging.WARNING, logger="tinct.methods.rasc"):
        loss, logs, carry = model.generator_step(batch, progress=0.3, generator=torch.Generator().manual_seed(0))
        model.generator_step(batch, progress=0.3, generator=torch.Generator().manual_seed(0))
    disabled = [r for r in caplog.records if "perceptual loss disabled" in r.getMessage()]
    assert len(disabled) == 1  # logged once
    assert set(logs) == {"adv", "random", "loss_g"} and logs["random"] == 0.0
    assert logs["loss_g"] == pytest.approx(logs["adv"]) and logs["adv"] == pytest.approx(math.log(2), abs=0.5)
    assert carry["fake"].requires_grad and carry["fake"].shape == (2, 3, SIZE, SIZE)
    assert torch.equal(carry["real"], batch["color"]) and set(batch) == {"sketch", "color"}
    check_gan_gradients(model, batch, loss, carry)


class StandInFeatures(torch.nn.Module):
    """Instead of VGG19 in tests: the image and its 2x average pool."""

    def forward(self, image):
        return [image, F.avg_pool2d(image, 2)]


def test_perceptual_loss_applies_to_the_samples_with_the_sketchs_own_code():
    batch = _batch()
    model = _model()
    model._perceptual.append(StandInFeatures())
    _, logs, carry = model.generator_step(batch, progress=0.0)
    expected = sum((a - b).abs().mean() for a, b in zip(StandInFeatures()(carry["fake"]),
                                                        StandInFeatures()(batch["color"]))).detach()
    assert logs["perceptual"] == pytest.approx(float(expected), rel=1e-4)
    assert logs["loss_g"] == pytest.approx(logs["adv"] + logs["perceptual"], rel=1e-5)
    # random codes only: no ground truth to compare with, GAN loss only
    model = _model(random_style=1.0)
    model._perceptual.append(StandInFeatures())
    _, logs, _ = model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(0))
    assert logs["random"] == 1.0 and logs["perceptual"] == 0.0 and logs["loss_g"] == pytest.approx(logs["adv"])


def test_the_l1_stand_in_applies_to_the_samples_with_the_sketchs_own_code():
    """weight_l1 (the deviation for when VGG19 is absent): mean |fake - real| in [0, 1], weighted,
    on the sketch's-code samples only; random-code samples keep the GAN loss alone."""
    batch = _batch()
    model = _model(weight_l1=10.0)
    _, logs, carry = model.generator_step(batch, progress=0.0)
    expected = float((carry["fake"] - batch["color"]).abs().mean())
    assert logs["l1"] == pytest.approx(expected, rel=1e-4)
    assert logs["loss_g"] == pytest.approx(logs["adv"] + 10.0 * logs["l1"], rel=1e-5)
    _, logs, _ = _model(weight_l1=10.0, random_style=1.0).generator_step(
        batch, progress=0.0, generator=torch.Generator().manual_seed(0))
    assert logs["random"] == 1.0 and logs["l1"] == 0.0 and logs["loss_g"] == pytest.approx(logs["adv"])
    assert "l1" not in _model().generator_step(batch, progress=0.0)[1]  # the paper's setting: off


def test_random_styles_replace_the_sketchs_code_for_a_share_of_the_samples():
    batch = _batch()
    model = _model(random_style=0.5)
    shares = {model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(seed))[1]["random"]
              for seed in range(12)}
    assert shares == {0.0, 0.5, 1.0}
    again = [model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(3))[1]["loss_g"]
             for _ in range(2)]
    assert again[0] == again[1]  # the draws come from the step's generator


@pytest.mark.parametrize("variant", ["full", "no_formulation", "no_regions"])
def test_a_few_training_steps_give_finite_losses(variant):
    model = _model(variant=variant, conditional=variant == "full", r1_gamma=1.0 if variant == "full" else 0.0)
    assert model.discriminator.in_channels == (4 if variant == "full" else 3)
    model.train()
    batch = _batch()
    steps = model.training_steps()
    optimizers = [torch.optim.Adam(step.parameters, lr=step.lr, betas=step.betas) for step in steps]
    before = [p.detach().clone() for p in model.parameters()]
    for index in range(3):
        carry = {}
        for step, optimizer in zip(steps, optimizers):
            optimizer.zero_grad(set_to_none=True)
            loss, logs, passed = step.run(batch, carry, progress=index / 3, generator=torch.Generator().manual_seed(index))
            assert torch.isfinite(loss) and all(math.isfinite(value) for value in logs.values())
            loss.backward()
            optimizer.step()
            carry = {**carry, **passed}
        if variant == "full":
            assert logs["r1"] >= 0  # D's logs, with the R1 penalty
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # everything trained


def test_save_load_round_trip_gives_identical_output(tmp_path):
    sketch = _sketch(2, 27)
    for variant in ("full", "no_formulation", "no_regions"):
        model = _model(variant=variant).eval()
        folder = model.save_pretrained(tmp_path / variant)
        loaded = load_model(folder)
        assert type(loaded) is RASC and loaded.config == model.config and not loaded.training
        style = style_from_seed(5, 16)
        assert torch.equal(model.colorize(sketch, style), loaded.colorize(sketch, style))
        assert not any(key.startswith("_perceptual") for key in model.state_dict())


def test_the_colorizer_takes_a_seed_a_mix_or_a_code():
    from tinct.colorizer import Colorizer
    from tinct.guidance import GuidanceError

    colorizer = Colorizer(_model(), size=SIZE)
    sketch = (_sketch(1, 40)[0] * 255).to(torch.uint8)
    seed = colorizer.colorize(sketch, style=3).network
    assert torch.equal(colorizer.colorize(sketch, style=style_from_seed(3, 16)).network, seed)  # (1, D)
    assert torch.equal(colorizer.colorize(sketch, style=style_from_seed(3, 16)[0]).network, seed)  # (D,)
    assert torch.equal(colorizer.colorize(sketch, style="3,5@0").network, seed)
    mix = colorizer.colorize(sketch, style="3,5@0.5").network
    assert torch.equal(colorizer.colorize(sketch, style=style_code(StyleMix(3, 5, 0.5), 16)).network, mix)
    assert not torch.equal(mix, seed)
    with pytest.raises(GuidanceError, match=r"model rasc takes style codes of 16 numbers"):
        colorizer.colorize(sketch, style=torch.zeros(8))
    with pytest.raises(ValueError, match=r"\(style_dim,\) or \(1, style_dim\) \(one picture\)"):
        colorizer.colorize(sketch, style=torch.zeros(2, 16))
