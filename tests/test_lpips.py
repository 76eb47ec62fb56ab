import pytest
import torch
import torch.nn.functional as F

from tinct.metrics.lpips import (
    BACKBONE_WEIGHTS,
    HEAD_WEIGHTS,
    LPIPS,
    lpips_score,
)
from tinct.metrics.weights import MetricResult, WeightsError, WeightsUnavailable, find_weights

# (key, shape) of the published files: torchvision's backbone ``features`` and LPIPS v0.1 heads
ALEX_KEYS = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.6.weight": (384, 192, 3, 3),
    "features.8.weight": (256, 384, 3, 3),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
}
VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
HEAD_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def write_weights(folder, net, seed=0):
    """Random (but explicit) weights in the published layouts, as two files in ``folder``."""
    torch.manual_seed(seed)
    model = LPIPS(net=net, pretrained=False)
    backbone = model.backbone.state_dict()
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # torchvision files carry a classifier
    heads = {k: v.abs() for k, v in model.heads.state_dict().items()}  # published heads are >= 0
    torch.save(backbone, folder / BACKBONE_WEIGHTS[net].name)
    torch.save(heads, folder / HEAD_WEIGHTS[net].name)
    return backbone, heads


@pytest.fixture(scope="module")
def alex_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lpips_alex")
    write_weights(folder, "alex")
    return folder


@pytest.fixture(scope="module")
def alex(alex_dir):
    return LPIPS(net="alex", weights=alex_dir)


@pytest.fixture
def images():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=generator)
    b = (a + 0.3 * torch.randn(2, 3, 32, 32, generator=generator)).clamp(0, 1)
    return a, b


def test_published_key_layout():
    alex = LPIPS(net="alex", pretrained=False)
    state = alex.backbone.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items() if k in ALEX_KEYS} == ALEX_KEYS
    assert len(state) == 10  # five convolutions, weight and bias
    assert sum(v.numel() for v in state.values()) == 2_469_696  # AlexNet's convolutional part
    vgg = LPIPS(net="vgg", pretrained=False)
    assert set(vgg.backbone.state_dict()) == {f"features.{i}.{p}" for i in VGG_CONVS for p in ("weight", "bias")}
    assert sum(p.numel() for p in vgg.backbone.parameters()) == 14_714_688  # VGG16's convolutional part
    for model in (alex, vgg):
        heads = model.heads.state_dict()
        channels = HEAD_CHANNELS[model.net]
        assert {k: tuple(v.shape) for k, v in heads.items()} == {
            f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(channels)
        }


def test_identical_images_give_zero(alex, images):
    a, _ = images
    with torch.no_grad():
        distance = alex(a, a.clone())
    assert distance.shape == (2,)
    torch.testing.assert_close(distance, torch.zeros(2))


def test_symmetric_and_positive(alex, images):
    a, b = images
    with torch.no_grad():
        ab, ba = alex(a, b), alex(b, a)
    assert ab.shape == (2,) and ab.dtype == torch.float32
    torch.testing.assert_close(ab, ba)
    assert (ab > 1e-4).all()
    # more change, more distance
    with torch.no_grad():
        far = alex(a, 1.0 - a)
    assert (far > ab).all()


def test_matches_the_definition(alex, images):
    """Recompute LPIPS step by step from the published definition."""
    a, b = images
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    layers = alex.backbone.features
    slices = [range(0, 2), range(2, 5), range(5, 8), range(8, 10), range(10, 12)]  # relu1 … relu5

    def taps(image):
        x = ((2 * image - 1) - shift) / scale
        outputs = []
        for piece in slices:
            for index in piece:
                x = layers[index](x)
            outputs.append(x)
        return outputs

    heads = alex.heads.state_dict()
    expected = torch.zeros(2)
    with torch.no_grad():
        for i, (fa, fb) in enumerate(zip(taps(a), taps(b))):
            fa = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
            fb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
            weighted = F.conv2d((fa - fb) ** 2, heads[f"lin{i}.model.1.weight"])
            expected += weighted.mean(dim=(1, 2, 3))
        actual = alex(a, b)
    torch.testing.assert_close(actual, expected)


def test_vgg_backbone(tmp_path, images):
    write_weights(tmp_path, "vgg")
    vgg = LPIPS(net="vgg", weights=tmp_path)
    a, b = images
    with torch.no_grad():
        same, different = vgg(a, a), vgg(a, b)
    torch.testing.assert_close(same, torch.zeros(2))
    assert different.shape == (2,) and (different > 0).all()


def test_loaded_weights_equal_the_files(alex, alex_dir):
    backbone = torch.load(alex_dir / BACKBONE_WEIGHTS["alex"].name, weights_only=True)
    heads = torch.load(alex_dir / HEAD_WEIGHTS["alex"].name, weights_only=True)
    assert torch.equal(alex.backbone.state_dict()["features.10.weight"], backbone["features.10.weight"])
    assert torch.equal(alex.heads.state_dict()["lin4.model.1.weight"], heads["lin4.model.1.weight"])
    assert alex.weights_paths == (
        str(alex_dir / BACKBONE_WEIGHTS["alex"].name),
        str(alex_dir / HEAD_WEIGHTS["alex"].name),
    )


def test_safetensors_copy_is_found(tmp_path):
    from safetensors.torch import save_file

    _, heads = write_weights(tmp_path, "alex")
    (tmp_path / HEAD_WEIGHTS["alex"].name).unlink()
    save_file(heads, str(tmp_path / "alex.safetensors"))
    model = LPIPS(weights=tmp_path)
    assert model.weights_paths[1] == str(tmp_path / "alex.safetensors")


def test_missing_files_are_reported_with_reason(tmp_path, alex_dir, images, monkeypatch):
    monkeypatch.setenv("TINCT_WEIGHTS_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(WeightsUnavailable) as error:
        LPIPS()
    assert BACKBONE_WEIGHTS["alex"].name in error.value.reason
    assert str(tmp_path / "env") in error.value.reason

    # the backbone alone is not enough: the reason names the head file
    only_backbone = tmp_path / "only_backbone"
    only_backbone.mkdir()
    backbone_file = BACKBONE_WEIGHTS["alex"].name
    (only_backbone / backbone_file).write_bytes((alex_dir / backbone_file).read_bytes())
    a, b = images
    result = lpips_score(a, b, weights=only_backbone)
    assert isinstance(result, MetricResult) and not result.available and result.value is None
    assert "'alex.pth' not found" in result.reason and str(only_backbone) in result.reason
    assert result.name == "lpips_alex"

    result = lpips_score(a, b, net="vgg", weights=alex_dir)
    assert not result.available and BACKBONE_WEIGHTS["vgg"].name in result.reason


def test_explicit_files_override_the_folder(alex_dir, tmp_path):
    head = tmp_path / "my_heads.pth"
    head.write_bytes((alex_dir / HEAD_WEIGHTS["alex"].name).read_bytes())
    model = LPIPS(backbone=alex_dir / BACKBONE_WEIGHTS["alex"].name, head=head)
    assert model.weights_paths[1] == str(head)


def test_wrong_keys_are_clear_errors(tmp_path, alex_dir):
    _, heads = write_weights(tmp_path, "alex")
    heads["lin5.model.1.weight"] = heads.pop("lin4.model.1.weight")
    torch.save(heads, tmp_path / HEAD_WEIGHTS["alex"].name)
    renamed = r"alex\.pth does not fit.*missing keys: lin4\.model\.1\.weight.*unexpected keys: lin5"
    with pytest.raises(WeightsError, match=renamed):
        LPIPS(weights=tmp_path)
    # VGG heads for an AlexNet backbone: same keys, wrong shapes
    vgg_heads = {f"lin{i}.model.1.weight": torch.ones(1, c, 1, 1) for i, c in enumerate(HEAD_CHANNELS["vgg"])}
    torch.save(vgg_heads, tmp_path / "vgg_heads.pth")
    reshaped = r"wrong shapes: lin1\.model\.1\.weight \(1, 128, 1, 1\) != \(1, 192, 1, 1\)"
    with pytest.raises(WeightsError, match=reshaped):
        LPIPS(backbone=alex_dir, head=tmp_path / "vgg_heads.pth")


def test_scores_and_refusals(alex, alex_dir, images):
    a, b = images
    result = lpips_score(a, b, weights=alex_dir, batch_size=1)
    assert result.available and result.reason is None
    with torch.no_grad():
        assert result.value == pytest.approx(float(alex(a, b).mean()), rel=1e-5)

    random = LPIPS(pretrained=False)
    with pytest.raises(RuntimeError, match="random weights"):
        random(a, b)
    with pytest.raises(ValueError, match="equal shape"):
        alex(a, b[:1])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        alex(a[:, :1], b[:, :1])
    with pytest.raises(ValueError, match="at least 31 px"):
        alex(a[..., :16, :16], b[..., :16, :16])
    with pytest.raises(ValueError, match="'alex' or 'vgg'"):
        LPIPS(net="squeeze", pretrained=False)


def test_gradient_reaches_the_input(alex, images):
    a, b = images
    a = a.clone().requires_grad_(True)
    alex(a, b).sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def _published_weights(net):
    try:
        return find_weights(BACKBONE_WEIGHTS[net]), find_weights(HEAD_WEIGHTS[net])
    except WeightsUnavailable:
        return None


@pytest.mark.skipif(_published_weights("alex") is None, reason="published LPIPS-alex weights not installed")
def test_published_weights_rank_distortions():
    backbone, head = _published_weights("alex")
    model = LPIPS(backbone=backbone, head=head)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    slightly = (image + 0.02).clamp(0, 1)
    with torch.no_grad():
        assert model(image, slightly) < model(image, 1.0 - image)
