import json

import pytest
import torch
from method_helpers import calibrated, check_gan_gradients, random_batch

from tinct.data.hints import sample_point_hints
from tinct.methods import METHODS
from tinct.methods.base import Inputs
from tinct.methods.point_hints import Config, PointHints


def _model(seed=0):
    torch.manual_seed(seed)
    return PointHints(Config(base_channels=8, disc_channels=8))


def test_config_defaults_match_guiding_painter():
    config = Config()
    assert (config.hint_p, config.weight_rec, config.weight_adv, config.lr, config.betas) == (
        0.125, 30.0, 0.2, 2e-4, (0.9, 0.999))
    assert PointHints(Config(base_channels=4)).colorizer.inc[0].in_channels == 5


def test_forward_shapes_and_range():
    model, batch = _model(), random_batch()
    colors, mask = sample_point_hints(batch["color"], generator=torch.Generator().manual_seed(0))
    fake = model(batch["sketch"], colors, mask)
    assert fake.shape == (2, 3, 32, 32) and fake.min() >= 0 and fake.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(batch["sketch"], colors, mask[:, :, :16])


def test_every_parameter_gets_a_finite_gradient():
    model, batch = _model(), random_batch()
    loss, logs, carry = model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(0))
    assert set(logs) == {"loss_g", "rec", "adv"}
    assert logs["loss_g"] == pytest.approx(30 * logs["rec"] + 0.2 * logs["adv"], rel=1e-5)
    check_gan_gradients(model, batch, loss, carry)
    first = model.generator_step(batch, progress=1.0, generator=torch.Generator().manual_seed(5))[1]
    assert first == model.generator_step(batch, progress=1.0, generator=torch.Generator().manual_seed(5))[1]


def test_colorize_hint_policy_and_paint():
    batch = random_batch(size=27)
    model = calibrated(_model(), batch)
    none = model.colorize(batch["sketch"])
    assert none.shape == (2, 3, 27, 27)
    hints = model.hint_policy(batch, model.prepare(batch["sketch"]), max_hints=5,
                              generator=torch.Generator().manual_seed(0))
    colors, mask = hints(0)
    assert mask.sum() == 0
    assert torch.equal(model.paint(Inputs(batch["sketch"], colors, mask)), none)
    assert torch.equal(model.paint(Inputs(batch["sketch"])), none)
    colors, mask = hints(2)
    assert 0 < mask[0].sum() <= 2 * 9
    two = model.colorize(batch["sketch"], colors, mask)
    assert torch.equal(model.paint(Inputs(batch["sketch"], colors, mask)), two) and not torch.allclose(two, none)
    with pytest.raises(ValueError, match="both"):
        model.colorize(batch["sketch"], colors)


def test_save_and_load_round_trip(tmp_path):
    batch = random_batch()
    model = calibrated(_model(), batch)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["method"] == "point_hints"
    loaded = PointHints.from_pretrained(tmp_path)
    assert not loaded.training and loaded.config == model.config
    colors, mask = sample_point_hints(batch["color"], generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.colorize(batch["sketch"], colors, mask), model.colorize(batch["sketch"], colors, mask))
    assert METHODS["point_hints"] is PointHints
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_segments": 30}))
    with pytest.raises(ValueError, match="num_segments"):
        PointHints.from_pretrained(tmp_path)
