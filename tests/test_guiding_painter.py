import json

import pytest
import torch
import torch.nn.functional as F
from method_helpers import calibrated, check_gan_gradients, random_batch

from tinct.methods import METHODS
from tinct.methods.base import Inputs
from tinct.methods.guiding_painter import (
    IGNORE,
    Config,
    GuidingPainter,
    argmax_segments,
    fill_segments,
    gumbel_segments,
    ranked_region_labels,
    segment_hints,
)

NUM_SEGMENTS = 6


def _model(seed=0):
    torch.manual_seed(seed)
    return GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=8, disc_channels=8))


def _one_hot(labels, num=NUM_SEGMENTS):
    return F.one_hot(labels, num).permute(0, 3, 1, 2).float()


def test_config_defaults_are_the_papers():
    config = Config()
    assert (config.num_segments, config.hint_p, config.tau_start, config.tau_end) == (30, 0.125, 1.0, 0.1)
    assert (config.weight_rec, config.weight_adv, config.weight_tv, config.weight_smooth) == (30.0, 0.2, 5.0, 1.0)
    assert (config.lr, config.betas, config.depth, config.disc_layers) == (2e-4, (0.9, 0.999), 4, 3)
    model = GuidingPainter(Config(base_channels=4))
    assert model.colorizer.inc[0].in_channels == 1 + 3 + 1 + 30
    assert model.segmenter.outc.out_channels == 30


def test_forward_shapes_and_range():
    model, batch = _model(), random_batch()
    logits = model.segment_logits(batch["sketch"])
    assert logits.shape == (2, NUM_SEGMENTS, 32, 32)
    segments = model.segments(logits, tau=0.5, generator=torch.Generator().manual_seed(0))
    colors, mask = model.hints_from_segments(segments, batch["color"], torch.tensor([1, 3]))
    fake = model(batch["sketch"], colors, mask, segments)
    assert fake.shape == (2, 3, 32, 32) and fake.dtype == torch.float32
    assert fake.min() >= 0 and fake.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 6, H, W\)"):
        model(batch["sketch"], colors, mask, segments[:, :3])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model.segment_logits(batch["color"])


def test_every_parameter_gets_a_finite_gradient():
    model, batch = _model(), random_batch()
    loss, logs, carry = model.generator_step(batch, progress=0.5, generator=torch.Generator().manual_seed(0))
    fake = carry["fake"]
    assert carry["real"] is batch["color"]
    assert set(logs) == {"loss_g", "rec", "adv", "tv", "smooth", "tau"}
    assert logs["tau"] == pytest.approx(0.1**0.5)
    assert logs["loss_g"] == pytest.approx(30 * logs["rec"] + 0.2 * logs["adv"] + 5 * logs["tv"] + logs["smooth"],
                                           rel=1e-5)
    assert fake.requires_grad and fake.min() >= 0 and fake.max() <= 1
    assert len(model.generator_parameters()) == len(list(model.segmenter.parameters())) + len(
        list(model.colorizer.parameters()))
    check_gan_gradients(model, batch, loss, carry)


def test_generator_step_is_reproducible_with_a_generator():
    model, batch = _model(), random_batch()
    first = model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(3))[1]
    again = model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(3))[1]
    assert first == again
    with pytest.raises(ValueError, match="progress"):
        model.generator_step(batch, progress=1.5)


def test_temperature_schedule():
    model = _model()
    assert model.temperature(0.0) == pytest.approx(1.0)
    assert model.temperature(1.0) == pytest.approx(0.1)
    assert model.temperature(0.5) == pytest.approx(0.1**0.5)
    held = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4, tau_hold=0.5))
    assert held.temperature(0.0) == held.temperature(0.5) == pytest.approx(1.0)
    assert held.temperature(0.75) == pytest.approx(0.1**0.5) and held.temperature(1.0) == pytest.approx(0.1)


def test_bounded_logits_stay_within_the_bound():
    sketch = random_batch(2, 32)["sketch"]
    plain = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4))
    model = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4, logit_bound=0.01))
    model.load_state_dict(plain.state_dict())
    raw, logits = plain.segment_logits(sketch), model.segment_logits(sketch)
    assert raw.abs().max() > 0.02 and logits.abs().max() <= 0.01
    assert torch.allclose(logits, 0.01 * torch.tanh(raw / 0.01))
    with pytest.raises(ValueError, match="logit_bound"):
        Config(logit_bound=0.0)


def test_hints_use_exactly_the_first_num_hints_segments():
    labels = torch.randint(0, NUM_SEGMENTS, (2, 16, 16), generator=torch.Generator().manual_seed(0))
    segments = _one_hot(labels)
    target = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    num_hints = torch.tensor([2, 5])
    colors, mask = segment_hints(segments, target, num_hints)
    expected_mask = (labels < num_hints[:, None, None]).float()[:, None]
    assert torch.equal(mask, expected_mask)  # M = union of the first N_h segments
    assert (colors * (1 - mask) == 0).all()  # segments >= N_h contribute nothing to C
    for b in range(2):
        for i in range(int(num_hints[b])):
            inside = labels[b] == i
            mean = target[b][:, inside].mean(dim=1)
            assert torch.allclose(colors[b][:, inside], mean[:, None].expand(-1, int(inside.sum())), atol=1e-6)


def test_hint_colours_by_hand():
    labels = torch.tensor([[[0, 0], [1, 2]]])
    target = torch.tensor([[[[0.0, 1.0], [0.2, 0.3]], [[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.4, 0.4]]]])
    colors, mask = segment_hints(_one_hot(labels), target, torch.tensor([2]))
    expected = torch.tensor([[[[0.5, 0.5], [0.2, 0.0]], [[0.5, 0.5], [0.0, 0.0]], [[0.5, 0.5], [0.4, 0.0]]]])
    assert torch.allclose(colors, expected)
    assert torch.equal(mask, torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]]))
    # N_h beyond the occupied segments: empty segments add nothing
    colors, mask = segment_hints(_one_hot(labels), target, torch.tensor([NUM_SEGMENTS]))
    assert mask.sum() == 4 and torch.allclose(colors[0, :, 1, 1], target[0, :, 1, 1])


def test_zero_hints_give_empty_colours_and_mask():
    labels = torch.randint(0, NUM_SEGMENTS, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    colors, mask = segment_hints(_one_hot(labels), torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.long))
    assert colors.abs().sum() == 0 and mask.sum() == 0


def test_hints_are_differentiable_with_respect_to_segments():
    logits = torch.randn(2, NUM_SEGMENTS, 8, 8, requires_grad=True)
    segments = gumbel_segments(logits, tau=1.0, generator=torch.Generator().manual_seed(0))
    colors, mask = segment_hints(segments, torch.rand(2, 3, 8, 8), torch.tensor([3, 6]))
    (colors.sum() + mask.sum()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"\(B,\)"):
        segment_hints(segments, torch.rand(2, 3, 8, 8), torch.tensor([1.0, 2.0]))


def test_straight_through_gumbel():
    logits = torch.randn(2, NUM_SEGMENTS, 8, 8, requires_grad=True)
    segments = gumbel_segments(logits, tau=0.5, generator=torch.Generator().manual_seed(0))
    assert set(segments.unique().tolist()) == {0.0, 1.0}  # exactly one-hot, no rounding residue
    assert torch.equal(segments.sum(dim=1), torch.ones(2, 8, 8))
    weights = torch.randn(2, NUM_SEGMENTS, 8, 8)
    (segments * weights).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    again = gumbel_segments(logits, tau=0.5, generator=torch.Generator().manual_seed(0))
    other = gumbel_segments(logits, tau=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(segments, again) and not torch.equal(segments, other)
    # a very peaked distribution is (almost surely) sampled at its mode
    peaked = torch.zeros(1, NUM_SEGMENTS, 4, 4)
    peaked[:, 2] = 50.0
    assert torch.equal(gumbel_segments(peaked, tau=1.0).argmax(1), torch.full((1, 4, 4), 2))


def test_tau_none_is_the_argmax():
    model = _model()
    logits = torch.randn(2, NUM_SEGMENTS, 5, 7)
    segments = model.segments(logits, tau=None)
    assert torch.equal(segments, argmax_segments(logits))
    assert torch.equal(segments.argmax(1), logits.argmax(1)) and torch.equal(segments.sum(1), torch.ones(2, 5, 7))


def test_rank_regions_and_colorize_with_k_colours():
    batch = random_batch(size=27)  # also a size not divisible by 2**depth
    model = calibrated(_model(), batch)
    ranked = model.rank_regions(batch["sketch"])
    assert ranked.shape == (2, NUM_SEGMENTS, 27, 27)
    assert torch.equal(ranked.sum(1), torch.ones(2, 27, 27)) and set(ranked.unique().tolist()) <= {0.0, 1.0}
    none = model.colorize(batch["sketch"])
    zero = model.colorize(batch["sketch"], torch.zeros(2, 0, 3))
    assert none.shape == (2, 3, 27, 27) and torch.equal(none, zero)
    region_colors = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]).expand(2, -1, -1)
    two = model.colorize(batch["sketch"], region_colors)
    assert two.shape == (2, 3, 27, 27) and two.min() >= 0 and two.max() <= 1
    assert not torch.allclose(two, none)
    colors, mask = fill_segments(ranked, region_colors)
    assert torch.equal(mask[:, 0], ranked[:, :2].sum(1))
    with torch.no_grad():
        assert torch.allclose(two, model(batch["sketch"], colors, mask, ranked))
    with pytest.raises(ValueError, match="at most 6"):
        model.colorize(batch["sketch"], torch.rand(2, NUM_SEGMENTS + 1, 3))


def test_hint_policy_follows_the_ranking_and_paint():
    batch = random_batch()
    model = calibrated(_model(), batch)
    prepared = model.prepare(batch["sketch"])
    hints = model.hint_policy(batch, prepared, max_hints=NUM_SEGMENTS, generator=torch.Generator().manual_seed(0))
    ranked = model.rank_regions(batch["sketch"])
    assert torch.equal(prepared["segments"], ranked)
    colors, mask = hints(0)
    assert mask.sum() == 0 and colors.abs().sum() == 0
    colors, mask = hints(3)
    assert torch.equal(mask[:, 0], ranked[:, :3].sum(1))
    output = model.paint(Inputs(batch["sketch"], colors, mask, prepared=prepared))
    assert output.shape == (2, 3, 32, 32) and output.min() >= 0 and output.max() <= 1
    assert torch.equal(output, model(batch["sketch"], colors, mask, ranked))
    with pytest.raises(ValueError):
        hints(NUM_SEGMENTS + 1)


def test_save_and_load_round_trip(tmp_path):
    batch = random_batch()
    model = calibrated(_model(), batch)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["method"] == "guiding_painter" and config["num_segments"] == NUM_SEGMENTS
    assert config["betas"] == [0.9, 0.999]
    loaded = GuidingPainter.from_pretrained(tmp_path)
    assert not loaded.training and loaded.config == model.config
    region_colors = torch.rand(2, 2, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.colorize(batch["sketch"], region_colors), model.colorize(batch["sketch"], region_colors))
    assert torch.equal(loaded.rank_regions(batch["sketch"]), model.rank_regions(batch["sketch"]))
    # the checkpoint loads through the method registry and the one loader too
    from tinct.methods import load_model

    assert METHODS["guiding_painter"] is GuidingPainter
    assert isinstance(load_model(str(tmp_path)), GuidingPainter)


def test_load_rejects_bad_folders(tmp_path):
    _model().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_heads": 4}))
    with pytest.raises(ValueError, match="num_heads"):
        GuidingPainter.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "method": "point_hints"}))
    with pytest.raises(ValueError, match="point_hints"):
        GuidingPainter.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GuidingPainter.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        GuidingPainter.from_pretrained(tmp_path / "missing")


def test_region_prior_is_off_by_default_and_fades_linearly():
    assert Config().region_prior_weight == 0.0
    model = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4,
                                  region_prior_weight=2.0, region_prior_until=0.5))
    assert [model.prior_weight(p) for p in (0.0, 0.25, 0.5, 0.9)] == [2.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="region_prior"):
        Config(region_prior_until=0.0)


def test_ranked_region_labels_order_regions_by_area():
    # three boxes separated by 2-px lines: left 20 columns, middle 10, right 28
    sketch = torch.ones(1, 1, 32, 64)
    sketch[..., :, 20:22] = 0.0
    sketch[..., :, 32:34] = 0.0
    labels = ranked_region_labels(sketch, num_segments=NUM_SEGMENTS)
    assert labels.shape == (1, 32, 64) and labels.dtype == torch.long
    assert labels[0, 16, 50] == 0 and labels[0, 16, 5] == 1 and labels[0, 16, 26] == 2
    assert ranked_region_labels(sketch, num_segments=2)[0, 16, 26] == 1  # ranks past N - 1 share the last
    # the reworked warm start: the background (along most of the border: the right box here,
    # which is also the largest) goes last, the others move up; ink is not labelled
    reworked = ranked_region_labels(sketch, num_segments=NUM_SEGMENTS, background_last=True, ignore_ink=True)
    assert reworked[0, 16, 50] == NUM_SEGMENTS - 1 and reworked[0, 16, 5] == 0 and reworked[0, 16, 26] == 1
    assert (reworked[0][sketch[0, 0] < 0.5] == IGNORE).all() and (reworked[0][sketch[0, 0] >= 0.5] >= 0).all()


def test_region_prior_adds_its_cross_entropy_to_the_generator_loss():
    batch = random_batch(2, 32)
    plain = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4))
    prior = GuidingPainter(Config(num_segments=NUM_SEGMENTS, base_channels=4, disc_channels=4, region_prior_weight=1.0))
    prior.load_state_dict(plain.state_dict())
    loss, logs, _ = plain.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(1))
    loss_prior, logs_prior, _ = prior.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(1))
    expected = F.cross_entropy(prior.segment_logits(batch["sketch"]).detach(), ranked_region_labels(batch["sketch"], NUM_SEGMENTS))
    assert "prior" not in logs
    assert logs_prior["prior"] == pytest.approx(float(expected), rel=1e-5)
    assert float(loss_prior - loss) == pytest.approx(float(expected), rel=1e-4)
