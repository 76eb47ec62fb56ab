import math

import pytest
import torch
from method_helpers import calibrated

from tinct.color import to_signed
from tinct.data.tags import TAGS, tags_to_vector
from tinct.losses import l1_loss
from tinct.methods import METHODS, load_model
from tinct.methods.base import Guidance, Inputs
from tinct.methods.cwr import CWR, Config, tag_classification_loss
from tinct.regions import region_skeleton

TINY = dict(base_channels=8, depth=3, disc_channels=8, disc_layers=3, tag_grid=4)
SIZE = 32


def _model(seed=0, **changes):
    torch.manual_seed(seed)
    return CWR(Config(**{**TINY, **changes}))


def _sketch(batch=2, size=SIZE):
    """Two lines crossing: four regions."""
    sketch = torch.ones(batch, 1, size, size)
    sketch[:, :, :, size // 2 - 1:size // 2 + 1] = 0.0
    sketch[:, :, size // 4:size // 4 + 2, :] = 0.0
    return sketch


def _batch(seed=0, size=SIZE):
    generator = torch.Generator().manual_seed(seed)
    tags = torch.stack([tags_to_vector(["red", "hair_black"]), tags_to_vector(["blue", "skin_light"])])
    return {"sketch": _sketch(size=size), "color": torch.rand(2, 3, size, size, generator=generator), "tags": tags}


# ----------------------------------------------------------------------------- declarations and config


def test_registered_with_the_papers_defaults():
    assert METHODS["cwr"] is CWR
    config = Config()
    assert (config.weight_adv, config.weight_rec, config.guide_beta, config.weight_cls, config.weight_seg) == (
        1.0, 1000.0, 0.9, 40.0, 0.9)
    assert (config.segmentation_until, config.lr, config.betas, config.depth) == (0.125, 2e-4, (0.5, 0.999), 4)
    assert config.fusion == "none" and config.tags == tuple(TAGS)


@pytest.mark.parametrize("changes, match", [
    ({"fusion": "late"}, "fusion must be one of none, concat, dual"),
    ({"tags": ("red", "hair_purplish")}, r"unknown tags \['hair_purplish'\]"),
    ({"tags": ("red", "red")}, "must not repeat"),
    ({"tags": ()}, "at least one tag"),
    ({"tags": "red"}, "list of tags"),
    ({"segmentation_until": 1.5}, r"in \[0, 1\]"),
    ({"weight_seg": -1.0}, "weight_seg=-1.0"),
    ({"base_channels": 0}, "base_channels=0"),
])
def test_bad_configs_say_what_is_wrong(changes, match):
    with pytest.raises(ValueError, match=match):
        Config(**changes)


@pytest.mark.parametrize("fusion, keys, shown", [
    ("none", ("sketch", "color", "tags"), "cwr"),
    ("concat", ("sketch", "color", "tags"), "cwr+concat"),
    ("dual", ("sketch", "color", "tags", "skeleton_target"), "cwr+dual"),
])
def test_declarations(fusion, keys, shown):
    model = _model(fusion=fusion, tags=("hair_black", "red"))
    assert model.guidance == Guidance(tags=("hair_black", "red"))
    assert model.protocol == "tags" and model.batch_keys == keys and model.display_name == shown
    assert model.encoder.in_channels == (2 if fusion == "concat" else 1)
    assert hasattr(model, "skeleton_blocks") == (fusion == "dual")


# ----------------------------------------------------------------------------- generator


@pytest.mark.parametrize("fusion", ["none", "concat", "dual"])
def test_outputs_at_any_size(fusion):
    model = _model(fusion=fusion).eval()
    sketch = _sketch(1, 37)  # not a multiple of 2**depth: padded and cropped back
    out = model.generate(sketch, torch.zeros(1, len(TAGS)))
    assert out.fake.shape == out.guide.shape == (1, 3, 37, 37)
    assert out.fake.min() >= 0 and out.fake.max() <= 1
    assert (out.skeleton is not None) == (fusion == "dual")
    if out.skeleton is not None:
        assert out.skeleton.shape == (1, 1, 37, 37) and out.skeleton.min() >= 0 and out.skeleton.max() <= 1
    with pytest.raises(ValueError, match=r"tags must be \(B, T\) = \(1, 41\)"):
        model.generate(sketch, torch.zeros(1, 5))


def test_dual_branch_feeds_every_colour_block_its_levels_skeleton_features():
    model = _model(fusion="dual")
    depth, widths = model.config.depth, model.config.widths
    skeleton_out, color_in = {}, {}
    hooks = [block.register_forward_hook(lambda m, a, out, k=k: skeleton_out.__setitem__(k, out))
             for k, block in enumerate(model.skeleton_blocks)]
    hooks += [block.register_forward_pre_hook(lambda m, args, k=k: color_in.__setitem__(k, args[0]))
              for k, block in enumerate([*model.color_blocks, model.color_head])]
    out = model.generate(_sketch(), torch.zeros(2, len(TAGS)))
    for hook in hooks:
        hook.remove()
    assert color_in[0].shape[1] == widths[depth] + model.config.tag_features  # the first block reads the bottleneck
    for k in range(1, depth + 1):  # blocks 1..depth-1 and the output head: colour, encoder skip, skeleton
        level = depth - k
        side = SIZE >> level
        features = skeleton_out[k - 1]
        assert features.shape == (2, widths[level + 1], side, side)
        assert color_in[k].shape == (2, widths[level + 1] + widths[level] + widths[level + 1], side, side)
        assert torch.equal(color_in[k][:, -widths[level + 1]:], features)  # the same-level skeleton features
    # the colour output depends on the skeleton decoder: a gradient path to all its parameters
    model.zero_grad(set_to_none=True)
    out.fake.sum().backward()
    for name, parameter in model.skeleton_blocks.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in model.skeleton_head.parameters())  # the head only gives G_s


def test_other_fusions_have_no_skeleton_features_in_the_colour_decoder():
    widths = Config(**TINY).widths
    for fusion in ("none", "concat"):
        model = _model(fusion=fusion)
        assert [block.in_channels for block in model.color_blocks[1:]] == [widths[3] + widths[2], widths[2] + widths[1]]


def test_concat_input_is_the_sketch_and_its_region_skeleton():
    model = _model(fusion="concat").eval()
    sketch = _sketch()
    seen = []
    hook = model.encoder.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    first = model.colorize(sketch)
    hook.remove()
    skeleton = region_skeleton(sketch)
    assert skeleton.sum() > 0
    assert seen[0].shape == (2, 2, SIZE, SIZE)
    assert torch.equal(seen[0][:, :1], to_signed(sketch)) and torch.equal(seen[0][:, 1:], to_signed(1 - skeleton))
    prepared = model.prepare(sketch)
    assert torch.equal(prepared["skeleton"], skeleton)
    assert torch.equal(model.paint(Inputs(sketch=sketch, prepared=prepared)), first)
    assert not torch.equal(model.colorize(sketch, skeleton=torch.zeros_like(skeleton)), first)
    assert _model().prepare(sketch) == {}
    with pytest.raises(ValueError, match="only fusion 'concat' takes a skeleton"):
        _model().colorize(sketch, skeleton=skeleton)


# ----------------------------------------------------------------------------- tags


def test_tag_encoder_maps_tags_to_the_bottleneck():
    model = _model()
    tag_map = []
    hook = model.tag_encoder.register_forward_hook(lambda m, args, out: tag_map.append(out[0]))
    sketch = _sketch(1)
    red, blue = tags_to_vector(["red"])[None], tags_to_vector(["blue"])[None]
    model.generate(sketch, red)
    model.generate(sketch, blue)
    model.generate(sketch, torch.zeros(1, len(TAGS)))
    hook.remove()
    side = SIZE >> model.config.depth  # 4 = tag_grid: no resize
    assert tag_map[0].shape == (1, model.config.tag_features, side, side)
    assert not torch.allclose(tag_map[0], tag_map[1]) and not torch.allclose(tag_map[0], tag_map[2])
    # at another size the grid is resized to the bottleneck (fully convolutional)
    resized, _ = model.tag_encoder(red, (6, 6))
    assert resized.shape == (1, model.config.tag_features, 6, 6)


def test_no_tags_is_the_zero_vector():
    model = calibrated(_model(), {"sketch": _sketch()})
    sketch = _sketch()
    none = model.paint(Inputs(sketch=sketch))
    assert torch.equal(none, model.paint(Inputs(sketch=sketch, tags=torch.zeros(2, len(TAGS)))))
    assert not torch.equal(none, model.paint(Inputs(sketch=sketch, tags=torch.ones(2, len(TAGS)))))
    batch = _batch()
    del batch["tags"]
    assert torch.equal(model.batch_tags(batch), torch.zeros(2, len(TAGS)))


def test_the_model_takes_its_own_columns_of_a_full_tags_vector():
    model = _model(tags=("skin_light", "red", "hair_black"))
    batch = _batch()  # rows: red + hair_black, blue + skin_light
    assert model.batch_tags(batch).tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    assert model.tag_encoder.to_map.in_features == 3 and model.discriminator.classifier.out_features == 3
    with pytest.raises(ValueError, match=r"must be \(B, 41\)"):
        model.select_tags(torch.zeros(2, 3))
    loss, logs, carry = model.generator_step(batch, progress=0.5)
    assert carry["tags"].shape == (2, 3) and math.isfinite(logs["cls"])


# ----------------------------------------------------------------------------- losses and steps


def test_tag_loss_is_binary_cross_entropy_per_tag():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    tags = torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    by_hand = -(math.log(sigmoid(0.0)) + math.log(1 - sigmoid(2.0)) + math.log(1 - sigmoid(-1.0))
                + math.log(sigmoid(0.5))) / 4
    assert float(tag_classification_loss(logits, tags)) == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        tag_classification_loss(logits, tags[:, :1])


def _d_loss(model, batch, progress):
    loss, logs, carry = model.generator_step(batch, progress=progress)
    model.zero_grad(set_to_none=True)
    carry = {**carry, "fake": carry["fake"].detach()}
    loss_d, logs_d = model.discriminator_step(batch, carry, progress=progress)
    loss_d.backward()
    return logs, logs_d


@pytest.mark.parametrize("fusion", ["none", "dual"])
def test_two_steps_add_the_tag_loss_after_segmentation_until(fusion):
    model, batch = _model(fusion=fusion), _batch()
    classifier = model.discriminator.classifier.weight
    for progress, weight in ((0.0, 0.0), (0.124, 0.0), (0.125, 40.0), (1.0, 40.0)):
        logs, logs_d = _d_loss(model, batch, progress)
        seg = 0.9 * logs["seg"] if fusion == "dual" else 0.0
        assert logs["loss_g"] == pytest.approx(logs["adv"] + weight * logs["cls"] + 1000 * logs["rec"] + seg, rel=1e-5)
        assert logs["rec"] == pytest.approx(logs["rec_color"] + 0.9 * logs["rec_guide"], rel=1e-5)
        assert logs_d["loss_d"] == pytest.approx(logs_d["adv_d"] + weight * logs_d["cls_d"], rel=1e-5)
        assert (classifier.grad.abs().sum() > 0) == (weight > 0)  # D's tag head learns from L_cls only
    assert _model(segmentation_until=0.0).colorization_step(0.0)
    with pytest.raises(ValueError, match="progress"):
        model.colorization_step(1.5)


def test_the_tag_loss_reaches_the_generator_in_the_colorization_step():
    model, batch = _model(), _batch()
    grads = []
    for progress in (0.0, 0.5):
        model.zero_grad(set_to_none=True)
        loss, logs, _ = model.generator_step(batch, progress=progress)
        loss.backward()
        grads.append(model.tag_encoder.embedding.weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


def test_dual_skeleton_loss_uses_the_batch_target_else_the_sketchs_skeleton():
    model, batch = _model(fusion="dual"), _batch()
    torch.manual_seed(1)
    with torch.no_grad():
        predicted = model.generate(batch["sketch"], model.batch_tags(batch)).skeleton
    target = torch.zeros(2, 1, SIZE, SIZE)
    target[:, :, 3] = 1.0
    given = model.generator_step({**batch, "skeleton_target": target}, progress=0.5)[1]
    assert given["seg"] == pytest.approx(float(l1_loss(to_signed(predicted), to_signed(target))), rel=1e-5)
    fallback = model.generator_step(batch, progress=0.5)[1]
    expected = l1_loss(to_signed(predicted), to_signed(region_skeleton(batch["sketch"])))
    assert fallback["seg"] == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="skeleton_target"):
        model.generator_step({**batch, "skeleton_target": target[:, :, :8]}, progress=0.5)


@pytest.mark.parametrize("fusion", ["none", "concat", "dual"])
def test_a_few_training_steps_lower_the_reconstruction(fusion):
    model, batch = _model(fusion=fusion).train(), _batch()
    steps = model.training_steps()
    assert [step.name for step in steps] == ["generator", "discriminator"]
    assert all(step.lr == 2e-4 and step.betas == (0.5, 0.999) and step.active == (0.0, 1.0) for step in steps)
    optimizers = [torch.optim.Adam(step.parameters, lr=1e-3, betas=step.betas) for step in steps]
    history = []
    for i in range(8):
        carry = {}
        for step, optimizer in zip(steps, optimizers):
            optimizer.zero_grad(set_to_none=True)
            loss, logs, passed_on = step.run(batch, carry, progress=i / 8, generator=None)
            assert torch.isfinite(loss) and all(math.isfinite(v) for v in logs.values())
            loss.backward()
            optimizer.step()
            carry = {**carry, **passed_on}
            history.append(logs)
    rec = [logs["rec"] for logs in history if "rec" in logs]
    assert rec[-1] < rec[0]
    if fusion == "dual":
        seg = [logs["seg"] for logs in history if "seg" in logs]
        assert seg[-1] < seg[0]
    assert set(batch) == {"sketch", "color", "tags"}  # never written to


# ----------------------------------------------------------------------------- checkpoints


def test_save_and_load_keep_the_vocabulary_and_the_outputs(tmp_path):
    vocabulary = ("hair_black", "red", "skin_light")
    model = calibrated(_model(fusion="dual", tags=vocabulary), {"sketch": _sketch()})
    model.save_pretrained(tmp_path / "cwr")
    loaded = load_model(tmp_path / "cwr")
    assert type(loaded) is CWR and not loaded.training
    assert loaded.config.tags == vocabulary and loaded.guidance.tags == vocabulary
    assert loaded.config.fusion == "dual" and loaded.display_name == "cwr+dual"
    inputs = Inputs(sketch=_sketch(), tags=torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    first, details = model.paint_details(inputs)
    second, details_again = loaded.paint_details(inputs)
    assert torch.equal(first, second) and torch.equal(details["skeleton"], details_again["skeleton"])


def test_shipping_size_stays_under_25_mb():
    for fusion in ("none", "concat", "dual"):
        model = CWR(Config(fusion=fusion))
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        assert size <= 25e6, (fusion, size)
