import json
import logging
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from kornia.geometry import create_meshgrid
from method_helpers import check_gan_gradients

from tinct.data.reference import correspondence_indices, make_reference
from tinct.methods import METHODS
from tinct.methods.base import Guidance, Inputs, Method
from tinct.methods.scft import (
    SCFT,
    Config,
    FeatureTransfer,
    gram_matrix,
    perceptual_and_style_losses,
    pool_to_last,
    similarity_triplet_loss,
    spatial_attention,
)
from tinct.metrics.attention import attention_near_truth
from tinct.regions import region_skeleton
from tinct.visual import attention_picture

TINY = dict(base_channels=4, depth=2, res_blocks=1, disc_channels=8)


@pytest.fixture(autouse=True)
def no_vgg_weights(tmp_path, monkeypatch):
    """No VGG19 file anywhere unless a test points at one."""
    monkeypatch.setenv("TINCT_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "no-cache"))


def _model(seed=0, **changes):
    torch.manual_seed(seed)
    return SCFT(Config(**{**TINY, **changes}))


def _batch(seed=0, size=32):
    generator = torch.Generator().manual_seed(seed)
    return {"sketch": torch.rand(2, 1, size, size, generator=generator),
            "color": torch.rand(2, 3, size, size, generator=generator)}


def _calibrated(model, sketch, reference):
    """Eval mode with the BatchNorm statistics of one pass (fresh statistics give a
    near-constant output in eval mode)."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(sketch, reference)
    return model.eval()


def test_config_defaults_are_the_papers():
    config = Config()
    assert (config.weight_adv, config.weight_rec, config.weight_triplet) == (1.0, 30.0, 1.0)
    assert (config.weight_perceptual, config.weight_style, config.margin) == (0.01, 50.0, 12.0)
    assert (config.lr, config.lr_d, config.betas) == (1e-4, 2e-4, (0.5, 0.999))
    assert config.skeleton is False
    assert config.feature_channels == 992  # d_v at the defaults
    assert METHODS["scft"] is SCFT


def test_feature_pooling_concatenates_every_layer_on_the_last_grid():
    model = _model(depth=4, base_channels=2)
    features = model.sketch_encoder(torch.rand(1, 1, 64, 64))
    assert len(features) == 2 * (4 + 1)  # L layers
    assert [f.shape[-1] for f in features] == [64, 64, 32, 32, 16, 16, 8, 8, 4, 4]
    pooled = pool_to_last(features)
    assert pooled.shape == (1, model.config.feature_channels, 4, 4)  # V on an H / 16 grid
    # φ is the average over each cell: the first channel of V is f^1 averaged over 16×16 blocks
    assert torch.allclose(pooled[0, 0, 1, 2], features[0][0, 0, 16:32, 32:48].mean(), atol=1e-6)


def test_attention_shape_and_rows_sum_to_one():
    model = _model()
    sketch, reference = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 48, 32)  # the reference may differ in size
    attention = model.attention_map(sketch, reference)
    assert attention.shape == (2, 8, 8, 12, 8)  # cells of 2**depth = 4 px
    assert (attention >= 0).all()
    assert torch.allclose(attention.flatten(3).sum(-1), torch.ones(2, 8, 8), atol=1e-5)
    out = model.generate(sketch, reference)
    assert out.fake.shape == (2, 3, 32, 32) and out.fake.min() >= 0 and out.fake.max() <= 1
    assert torch.allclose(out.attention, out.scores.softmax(-1))
    with pytest.raises(ValueError, match=r"\(B, 3, H', W'\)"):
        model(sketch, torch.rand(2, 1, 32, 32))


def test_scaling_is_applied_before_the_softmax():
    # by hand: d = 4, q = (2, 0, 0, 0), keys (2, 0, 0, 0) and 0: scores 4 / sqrt(4) = 2 and 0
    query = torch.tensor([[[2.0, 0, 0, 0]]])
    key = torch.tensor([[[2.0, 0, 0, 0], [0, 0, 0, 0]]])
    value = torch.tensor([[[1.0], [0.0]]])
    context, attention, scores = spatial_attention(query, key, value)
    expected = math.exp(2) / (math.exp(2) + 1)  # 0.8808; unscaled softmax(4, 0) would give 0.982
    assert scores.tolist() == [[[2.0, 0.0]]]
    assert attention[0, 0, 0].item() == pytest.approx(expected, rel=1e-6)
    assert context.item() == pytest.approx(expected, rel=1e-6)

    # the module: with W_q = W_k = W_v = I, A = softmax(v_s v_r^T / sqrt(d_v)) and c = v_s + A v_r
    channels = 16
    transfer = FeatureTransfer(channels=channels)
    for linear in (transfer.query, transfer.key, transfer.value):
        linear.weight.data = torch.eye(channels)
    v_sketch, v_reference = 3 * torch.randn(1, channels, 2, 3), 3 * torch.randn(1, channels, 3, 2)
    c, attention, _ = transfer(v_sketch, v_reference)
    rows_s, rows_r = v_sketch.flatten(2).transpose(1, 2), v_reference.flatten(2).transpose(1, 2)
    dots = rows_s @ rows_r.transpose(1, 2)
    assert torch.allclose(attention, (dots / channels**0.5).softmax(-1), atol=1e-6)
    assert not torch.allclose(attention, dots.softmax(-1), atol=1e-3)
    assert not torch.allclose(attention, dots.softmax(-1) / channels**0.5, atol=1e-3)
    expected_c = v_sketch + (attention @ rows_r).transpose(1, 2).reshape(1, channels, 2, 3)
    assert torch.allclose(c, expected_c, atol=1e-5)


def test_triplet_loss_by_hand():
    scores = torch.tensor([[[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]]], requires_grad=True)  # 2 queries x 3 keys
    anchor = torch.tensor([[0, 1, 1]])
    positive = torch.tensor([[1, 2, 0]])
    negative = torch.tensor([[2, 1, 2]])
    valid = torch.tensor([[True, True, False]])
    # triplet 0: -S[0,1] + S[0,2] + 12 = -5 + 2 + 12 = 9; triplet 1: -S[1,2] + S[1,1] + 12 = -3 - 1 + 12 = 8;
    # triplet 2 (invalid, would be 15) is left out: mean (9 + 8) / 2 = 8.5
    loss = similarity_triplet_loss(scores, anchor, positive, negative, valid, margin=12.0)
    assert loss.item() == pytest.approx(8.5)
    loss.backward()
    expected_grad = torch.tensor([[[0.0, -0.5, 0.5], [0.0, 0.5, -0.5]]])
    assert torch.equal(scores.grad, expected_grad)
    # the hinge: margin 4 leaves only triplet 0 (-5 + 2 + 4 = 1) -> 1 / 2; margin 2 -> 0
    assert similarity_triplet_loss(scores, anchor, positive, negative, valid, margin=4.0).item() == pytest.approx(0.5)
    assert similarity_triplet_loss(scores, anchor, positive, negative, valid, margin=2.0).item() == 0.0
    # all three valid, margin 0: triplets 0 and 1 are negative (-3, -4) -> 0; triplet 2: -0 + 3 = 3 -> mean 1
    assert similarity_triplet_loss(scores, anchor, positive, negative, margin=0.0).item() == pytest.approx(1.0)
    # a batch of two: the second image's scores doubled give triplets 6 and 4; mean of 9, 8, 6, 4
    pair = torch.cat([scores.detach(), 2 * scores.detach()])
    twice = lambda index: index.expand(2, -1)  # noqa: E731
    loss = similarity_triplet_loss(pair, twice(anchor), twice(positive), twice(negative), twice(valid), margin=12.0)
    assert loss.item() == pytest.approx(6.75)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        similarity_triplet_loss(scores, anchor[0], positive, negative)


def test_attention_near_truth_by_hand():
    # a 3×3 grid; reference cell j comes from sketch cell index[j]
    attention = torch.zeros(1, 9, 9)
    attention[0, 4, 0] = 0.5  # sketch cell 4 (centre): half on reference cell 0 (top-left), half on 8
    attention[0, 4, 8] = 0.5
    attention[0, 2, 2] = 1.0  # sketch cell 2: all on reference cell 2
    attention[0, [0, 1, 3, 5, 6, 7, 8]] = 1 / 9  # the rest uniform
    index = torch.tensor([[4, 0, 2, 0, 0, 0, 0, 0, 0]])
    valid = torch.tensor([[True, False, True, False, False, False, False, False, False]])
    # j = 0 (from sketch cell 4): cells within 1 of 0 are {0, 1, 3, 4}: mass 0.5; j = 2: mass 1
    assert attention_near_truth(attention, index, valid, (3, 3)).tolist() == [pytest.approx(0.75)]
    assert attention_near_truth(attention, index, valid, (3, 3), radius=0).tolist() == [pytest.approx(0.75)]
    valid[0, 2] = False
    assert attention_near_truth(attention, index, valid, (3, 3), radius=2).tolist() == [pytest.approx(1.0)]
    assert attention_near_truth(attention, index, torch.zeros_like(valid), (3, 3)).isnan().all()
    with pytest.raises(ValueError, match="grid"):
        attention_near_truth(attention, index, valid, (2, 4))


def test_tps_correspondence_one_hot_lands_where_the_grid_says():
    size, seed = 32, 4
    # the warp depends on the generator only: read it from a first draw
    grid = make_reference(torch.zeros(1, 3, size, size), generator=torch.Generator().manual_seed(seed),
                          shift_strength=0.0, warp_scale=0.15)["grid"]
    x_pix = ((grid[0, ..., 0] + 1) * size - 1) / 2  # align_corners=False
    y_pix = ((grid[0, ..., 1] + 1) * size - 1) / 2
    ref_row, ref_col = 12, 21
    row, col = int(y_pix[ref_row, ref_col].round()), int(x_pix[ref_row, ref_col].round())
    source = torch.zeros(1, 3, size, size)
    source[0, :, row, col] = 1.0
    pair = make_reference(source, generator=torch.Generator().manual_seed(seed), shift_strength=0.0,
                          warp_scale=0.15)
    assert torch.equal(pair["grid"], grid) and torch.equal(pair["target"], source)
    warped = pair["reference"][0, 0]
    # bilinear: reference pixel q receives hat(x_pix[q] - col) * hat(y_pix[q] - row)
    expected = (1 - (x_pix - col).abs()).clamp(min=0) * (1 - (y_pix - row).abs()).clamp(min=0)
    assert torch.allclose(warped, expected, atol=1e-5)
    assert warped[ref_row, ref_col] >= 0.25
    assert warped.flatten().argmax() == ((x_pix - col) ** 2 + (y_pix - row) ** 2).flatten().argmin()

    # the triplet positives: each valid reference cell j samples its content from the sketch
    # cell index[j]: a hot source cell lights the centre of j, a non-adjacent one does not
    cells, cell = 4, size // 4
    index, valid = correspondence_indices(grid, pair["valid"], cells)
    assert valid.sum() >= 8
    for j in torch.nonzero(valid[0]).flatten().tolist():
        src_row, src_col = divmod(int(index[0, j]), cells)
        far_row, far_col = (src_row + 2) % cells, (src_col + 2) % cells
        ref_r, ref_c = divmod(j, cells)
        centre = (slice(ref_r * cell + cell // 2 - 1, ref_r * cell + cell // 2 + 1),
                  slice(ref_c * cell + cell // 2 - 1, ref_c * cell + cell // 2 + 1))
        for (r, c), lit in (((src_row, src_col), True), ((far_row, far_col), False)):
            block = torch.zeros(1, 1, size, size)
            block[..., r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = 1.0
            reference = F.grid_sample(block, grid, mode="bilinear", padding_mode="border", align_corners=False)
            assert bool((reference[0, 0][centre] > 0).all()) == lit


def test_every_parameter_gets_a_finite_gradient_and_vgg_is_off_with_a_reason(caplog):
    model, batch = _model(), _batch()
    with caplog.at_level(logging.WARNING, logger="tinct.methods.scft"):
        loss, logs, carry = model.generator_step(batch, progress=0.3, generator=torch.Generator().manual_seed(0))
        model.generator_step(batch, progress=0.3, generator=torch.Generator().manual_seed(0))
    disabled = [r for r in caplog.records if "perceptual and style losses disabled" in r.getMessage()]
    assert len(disabled) == 1 and "vgg19-dcbb9e9d.pth' not found" in disabled[0].getMessage()  # logged once
    assert set(logs) == {"adv", "rec", "triplet", "loss_g"}
    assert logs["loss_g"] == pytest.approx(logs["adv"] + 30 * logs["rec"] + logs["triplet"], rel=1e-5)
    assert logs["triplet"] == pytest.approx(12.0, abs=0.5)  # near-zero scores at initialisation: about the margin
    fake = carry["fake"]
    assert fake.requires_grad and fake.shape == (2, 3, 32, 32)
    assert torch.all(carry["real"] != batch["color"])  # D's real image is the shifted target
    assert set(batch) == {"sketch", "color"}  # the batch is never written to
    assert len(model.generator_parameters()) + len(model.discriminator_parameters()) == len(list(model.parameters()))
    check_gan_gradients(model, batch, loss, carry, discriminator_nonzero=False)
    again = model.generator_step(batch, progress=0.3, generator=torch.Generator().manual_seed(0))[1]
    assert again["triplet"] == pytest.approx(logs["triplet"])  # same generator, same references
    with pytest.raises(ValueError, match="multiples of 4"):
        model.generator_step(_batch(size=30), progress=0.0)


def test_perceptual_and_style_with_a_local_vgg19_file(tmp_path):
    from safetensors.torch import save_file

    from tinct.metrics.weights import WeightsUnavailable
    from tinct.nn.vgg import VGG19Features, load_vgg19

    features = [torch.arange(8.0).reshape(1, 2, 2, 2)]
    # Gram by hand: rows (0, 1, 2, 3) and (4, 5, 6, 7): [[14, 38], [38, 126]] / (2 * 2 * 2)
    assert torch.allclose(gram_matrix(features[0]), torch.tensor([[[14.0, 38.0], [38.0, 126.0]]]) / 8)
    assert [loss.item() for loss in perceptual_and_style_losses(features, features)] == [0.0, 0.0]
    perceptual, style = perceptual_and_style_losses([features[0] + 1], features)
    assert perceptual.item() == 1.0 and style.item() > 0

    with pytest.raises(WeightsUnavailable):
        load_vgg19()
    # a stand-in file with the torchvision layout (the test's own random numbers, named as such)
    torch.manual_seed(0)
    state = {key: value.contiguous() for key, value in VGG19Features().state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(1000)  # the parts of the real file that are not used
    state["features.34.bias"] = torch.zeros(512)
    file = tmp_path / "vgg19-dcbb9e9d.safetensors"
    save_file(state, str(file))
    network = load_vgg19(tmp_path)
    assert all(not p.requires_grad for p in network.parameters()) and not network.training
    assert [f.shape[1] for f in network(torch.rand(1, 3, 32, 32))] == [64, 128, 256, 512, 512]

    model, batch = _model(vgg_weights=str(file)), _batch()
    loss, logs, _ = model.generator_step(batch, progress=0.0, generator=torch.Generator().manual_seed(1))
    assert logs["perceptual"] > 0 and logs["style"] > 0
    assert logs["loss_g"] == pytest.approx(logs["adv"] + 30 * logs["rec"] + logs["triplet"]
                                           + 0.01 * logs["perceptual"] + 50 * logs["style"], rel=1e-5)
    assert not any(key.startswith(("_perceptual", "features")) for key in model.state_dict())  # not saved


def test_save_load_round_trip_gives_identical_output(tmp_path):
    sketch, reference = torch.rand(2, 1, 27, 27), torch.rand(2, 3, 32, 32)  # odd sizes: padded inside
    for name, changes in (("plain", {}), ("skeleton", {"skeleton": True})):
        model = _calibrated(_model(**changes), sketch, reference)
        folder = model.save_pretrained(tmp_path / name)
        config = json.loads((folder / "config.json").read_text())
        assert config["method"] == "scft" and config["skeleton"] == bool(changes)
        loaded = SCFT.from_pretrained(folder)
        assert not loaded.training and loaded.config == model.config
        output = model.colorize(sketch, reference)
        assert output.shape == (2, 3, 27, 27) and output.std() > 0
        assert torch.equal(loaded.colorize(sketch, reference), output)
        assert torch.equal(loaded.attention_map(sketch, reference), model.attention_map(sketch, reference))


def test_skeleton_switch_changes_the_sketch_input():
    plain, variant = _model(), _model(skeleton=True)
    assert plain.sketch_encoder.layers[0][0].in_channels == 1
    assert variant.sketch_encoder.layers[0][0].in_channels == 2
    differing = [k for k, v in variant.state_dict().items() if plain.state_dict()[k].shape != v.shape]
    assert differing == ["sketch_encoder.layers.0.0.weight"]  # nothing else changes
    assert variant.display_name == "scft+skeleton" and plain.display_name == "scft"
    assert _model(weight_triplet=0.0).display_name == "scft-triplet"

    sketch = torch.ones(2, 1, 32, 32)
    sketch[..., 15:17] = 0  # a vertical line splits the page into two regions
    skeleton = region_skeleton(sketch)
    assert skeleton.shape == (2, 1, 32, 32)
    assert skeleton[..., 15].eq(1).all() and skeleton.sum() == 2 * 32  # the 1-px boundary inside the line

    reference = torch.rand(2, 3, 32, 32)
    variant = _calibrated(variant, sketch, reference)
    default = variant.colorize(sketch, reference)
    assert torch.equal(default, variant.colorize(sketch, reference, skeleton=skeleton))
    assert not torch.allclose(default, variant.colorize(sketch, reference, skeleton=torch.zeros_like(skeleton)))
    with pytest.raises(ValueError, match="without the skeleton"):
        plain(sketch, reference, skeleton)
    loss, logs, _ = variant.train().generator_step({"sketch": sketch, "color": reference}, progress=0.0)
    assert math.isfinite(logs["loss_g"])


def test_top_reference_locations_and_visualisation():
    sketch, reference = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 40)
    model = _calibrated(_model(), sketch, reference)
    locations, weights = model.top_reference_locations(sketch, reference, (13, 5), k=3)
    attention = model.attention_map(sketch, reference)  # (2, 8, 8, 8, 10), 4 px cells
    row = attention[:, 13 // 4, 5 // 4].reshape(2, -1)
    expected_weights, expected_index = row.topk(3, dim=1)
    assert torch.equal(weights, expected_weights) and (weights[:, :-1] >= weights[:, 1:]).all()
    expected = torch.stack([expected_index // 10 * 4 + 1.5, expected_index % 10 * 4 + 1.5], dim=-1)
    assert torch.equal(locations, expected)
    _, details = model.paint_details(Inputs(sketch, reference=reference))
    shown_sketch, shown_reference = attention_picture(sketch, reference, details, (13, 5), k=3)
    assert shown_sketch.shape == (2, 3, 32, 32) and shown_reference.shape == (2, 3, 32, 40)
    red = torch.tensor([1.0, 0.0, 0.0])
    assert torch.equal(shown_sketch[0, :, 12, 4], red)  # corner of the query cell (rows 12-15, cols 4-7)
    top_y, top_x = (int(v - 1.5) for v in locations[1, 0])
    assert torch.equal(shown_reference[1, :, top_y, top_x], red)  # corner of the most attended cell
    with pytest.raises(ValueError, match="inside"):
        model.top_reference_locations(sketch, reference, (40, 5))
    with pytest.raises(ValueError, match="inside"):
        attention_picture(sketch, reference, details, (40, 5))
    with pytest.raises(ValueError, match="k must be"):
        model.top_reference_locations(sketch, reference, (1, 1), k=81)


def test_optimizers_use_the_papers_learning_rates():
    from tinct.train import MethodModule, TrainConfig, build_method

    module = MethodModule(build_method("scft", TINY), TrainConfig())
    module._trainer = SimpleNamespace(estimated_stepping_batches=1, num_training_batches=1, max_epochs=1,
                                      max_steps=-1)
    (opt_g, opt_d), _ = module.configure_optimizers()
    assert opt_g.param_groups[0]["initial_lr"] == 1e-4 and opt_d.param_groups[0]["initial_lr"] == 2e-4
    assert opt_g.param_groups[0]["betas"] == opt_d.param_groups[0]["betas"] == (0.5, 0.999)


def test_fast_dev_run_trains_and_exports(tmp_path):
    from PIL import Image

    from tinct.train import TrainConfig, fit, read_overrides

    config = TrainConfig(size=32, batch_size=2, limit=4, epochs=1, samples=2, checkpoint_every=2,
                         accelerator="cpu", out=str(tmp_path / "run"))
    folder = fit("scft", config, {**TINY, "skeleton": True}, fast_dev_run=True)
    model = METHODS["scft"].from_pretrained(folder)
    assert model.config.skeleton and model.config.base_channels == 4
    assert model.colorize(torch.ones(1, 1, 32, 32), torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    grid = Image.open(tmp_path / "run" / "samples" / "epoch_000.png")
    # sketch | self reference | its result | other reference | its result | ground truth
    assert grid.size == (6 * 32, 2 * 32)
    overrides = read_overrides("configs/scft_cpu.yaml")
    assert overrides["train"]["size"] == 128 and Config(**overrides["model"]).feature_channels == 240


def test_evaluate_reference_settings(tmp_path, capsys):
    from tinct.cli import main
    from tinct.evaluate import EvalConfig, evaluate, write_report
    from tinct.evaluate.reference import warp_points

    class CopyReference(Method):
        """Returns the reference: right in the family setting (same drawing), wrong in the self one."""

        name = "copy"
        guidance = Guidance(reference=True, required=("reference",))
        protocol = "reference"

        def paint(self, inputs):
            return inputs.reference

    # the first 70 test images hold one skin-tone family of six (1F449)
    config = EvalConfig(size=32, limit=70, batch_size=35, samples=4, weights=str(tmp_path / "no-weights"))
    copied = evaluate(CopyReference(), config, progress=False)
    family, own = copied["by_reference"]["family"], copied["by_reference"]["self"]
    assert family["pairs"] == 6 and own["pairs"] == 70
    assert family["psnr"]["mean"] == pytest.approx(100.0) and family["sc_psnr"]["mean"] == pytest.approx(100.0)
    assert own["psnr"]["mean"] < 40 and own["fid"]["value"] is None and "not found" in own["fid"]["reason"]

    sketch, reference = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 32)
    model = _calibrated(_model(), sketch, reference)
    result = evaluate(model, EvalConfig(size=32, limit=70, batch_size=35, samples=4), progress=False)
    assert result["model"] == "scft" and set(result["by_reference"]) == {"self", "family"}
    assert 0 < result["by_reference"]["self"]["sc_psnr"]["mean"] < 100
    for setting in ("self", "family"):  # attention on the true correspondence: a share of the mass
        assert 0 < result["by_reference"][setting]["attention"]["mean"] < 1
    assert "attention" not in copied["by_reference"]["self"]  # a model without attention has none
    assert result["samples"].shape == (4, 4, 3, 32, 32)  # 2 self + 2 family rows: sketch | reference | output | truth
    red = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    assert (result["samples"][:, 1] == red).all(1).any()  # the attended reference cells are outlined
    table = (write_report(result, tmp_path / "report") / "results.md").read_text()
    assert "| scft | closed | self | 70 |" in table and "| scft | closed | family | 6 |" in table and "SC-PSNR" in table
    assert "attn↑" in table

    # points of the self setting: a warp that samples 4 px to the right and 2 px down
    grid = create_meshgrid(32, 32, normalized_coordinates=True, align_corners=False)
    grid = grid + torch.tensor([4 * 2 / 32, 2 * 2 / 32])
    valid = torch.zeros(1, 1, 32, 32)
    valid[..., :30, :28] = 1
    source_points, reference_points = warp_points(grid, valid, 64, torch.Generator().manual_seed(0))
    assert reference_points.shape == (1, 64, 2) and len({tuple(p) for p in reference_points[0].tolist()}) == 64
    assert (reference_points[..., 0] < 28).all() and (reference_points[..., 1] < 30).all()
    assert torch.allclose(source_points, reference_points + torch.tensor([4.0, 2.0]), atol=1e-4)

    # tinct evaluate on a checkpoint folder; without skin-tone pairs the family row says why
    folder = model.save_pretrained(tmp_path / "scft")
    code = main(["evaluate", "--model", str(folder), "--size", "32", "--limit", "3", "--out", str(tmp_path / "ev")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| scft | closed | self | 3 |" in out and "| scft | closed | family | 0 |" in out and "skin tones" in out
