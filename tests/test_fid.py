import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tinct.metrics import fid as fid_module
from tinct.metrics.fid import (
    FID,
    FID_WEIGHTS,
    FIDInceptionV3,
    activation_statistics,
    fid_score,
    frechet_distance,
)
from tinct.metrics.weights import (
    MetricResult,
    WeightsError,
    WeightsUnavailable,
    find_weights,
    load_into,
)

# ----------------------------------------------------------------------------- Fréchet distance


def test_frechet_distance_diagonal_known_answer():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # ||mu1 - mu2||² = 1 + 0 + 4 = 5; Σ (a + b - 2√(ab)) = (5 - 4) + (5 - 4) + (10 - 6) = 6
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(11.0, abs=1e-9)


def test_frechet_distance_one_dimensional():
    # for scalars: (m1 - m2)² + (s1 - s2)² with variances s²
    assert frechet_distance([0.5], [[4.0]], [-1.5], [[0.25]]) == pytest.approx(4.0 + 1.5**2, abs=1e-9)


def test_frechet_distance_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16))
    mu, sigma = activation_statistics(features)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_commuting_covariances():
    # Σ1 = Q diag(a) Qᵀ and Σ2 = Q diag(b) Qᵀ commute, so tr √(Σ1 Σ2) = Σ √(a b)
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a, b = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    result = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert result == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_non_commuting_2x2_closed_form():
    # for a 2×2 matrix M with non-negative eigenvalues, tr √M = √(tr M + 2 √det M)
    sigma1 = np.array([[2.0, 0.5], [0.5, 1.0]])
    sigma2 = np.array([[1.0, -0.3], [-0.3, 3.0]])
    m = sigma1 @ sigma2
    tr_sqrt = np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m)))
    expected = 0.0 + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_sqrt
    assert not np.allclose(m, sigma2 @ sigma1)  # really non-commuting
    assert frechet_distance([0, 0], sigma1, [0, 0], sigma2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_singular_covariances_from_few_samples():
    rng = np.random.default_rng(2)
    mu1, sigma1 = activation_statistics(rng.normal(size=(4, 10)))  # rank 3 of 10
    mu2, sigma2 = activation_statistics(rng.normal(size=(4, 10)) + 1.0)
    value = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert np.isfinite(value) and value > 5.0  # the means alone differ by ~√10
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-5)


def test_frechet_distance_retries_with_offset_when_sqrtm_fails(monkeypatch):
    calls = []
    real_sqrtm = fid_module.linalg.sqrtm

    def failing_once(matrix):
        calls.append(matrix.copy())
        return np.full_like(matrix, np.nan) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(fid_module.linalg, "sqrtm", failing_once)
    sigma = np.diag([1.0, 0.0])
    value = frechet_distance([0, 0], sigma, [0, 0], sigma, eps=1e-6)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sigma + 1e-6 * np.eye(2)) @ (sigma + 1e-6 * np.eye(2)))
    assert value == pytest.approx(0.0, abs=1e-5)


def test_frechet_distance_rejects_large_imaginary_part_and_bad_shapes():
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance([0, 0], np.eye(2), [0, 0], np.diag([-1.0, 1.0]))  # not a covariance
    with pytest.raises(ValueError, match="means"):
        frechet_distance([0, 0], np.eye(2), [0, 0, 0], np.eye(3))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance([0, 0], np.eye(2), [0, 0], np.eye(3))


def test_activation_statistics():
    features = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, sigma = activation_statistics(features)
    np.testing.assert_allclose(mu, features.double().mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(features.double().numpy(), rowvar=False), rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        activation_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        activation_statistics(np.zeros(4))


# ----------------------------------------------------------------------------- network layout

# (key, shape) pairs of the published pt_inception-2015-12-05-6726825d.pth state dict
PUBLISHED_KEYS = [
    ("Conv2d_1a_3x3.conv.weight", (32, 3, 3, 3)),
    ("Conv2d_1a_3x3.bn.weight", (32,)),
    ("Conv2d_1a_3x3.bn.running_mean", (32,)),
    ("Conv2d_1a_3x3.bn.running_var", (32,)),
    ("Conv2d_2a_3x3.conv.weight", (32, 32, 3, 3)),
    ("Conv2d_2b_3x3.conv.weight", (64, 32, 3, 3)),
    ("Conv2d_3b_1x1.conv.weight", (80, 64, 1, 1)),
    ("Conv2d_4a_3x3.conv.weight", (192, 80, 3, 3)),
    ("Mixed_5b.branch1x1.conv.weight", (64, 192, 1, 1)),
    ("Mixed_5b.branch5x5_2.conv.weight", (64, 48, 5, 5)),
    ("Mixed_5b.branch_pool.conv.weight", (32, 192, 1, 1)),
    ("Mixed_5c.branch_pool.conv.weight", (64, 256, 1, 1)),
    ("Mixed_5d.branch3x3dbl_3.bn.bias", (96,)),
    ("Mixed_6a.branch3x3.conv.weight", (384, 288, 3, 3)),
    ("Mixed_6b.branch7x7_2.conv.weight", (128, 128, 1, 7)),
    ("Mixed_6c.branch7x7dbl_2.conv.weight", (160, 160, 7, 1)),
    ("Mixed_6e.branch7x7dbl_5.conv.weight", (192, 192, 1, 7)),
    ("Mixed_7a.branch3x3_2.conv.weight", (320, 192, 3, 3)),
    ("Mixed_7a.branch7x7x3_4.conv.weight", (192, 192, 3, 3)),
    ("Mixed_7b.branch1x1.conv.weight", (320, 1280, 1, 1)),
    ("Mixed_7b.branch3x3dbl_1.conv.weight", (448, 1280, 1, 1)),
    ("Mixed_7c.branch3x3_2b.conv.weight", (384, 384, 3, 1)),
    ("Mixed_7c.branch_pool.conv.weight", (192, 2048, 1, 1)),
    ("fc.weight", (1008, 2048)),
    ("fc.bias", (1008,)),
]


@pytest.fixture(scope="module")
def inception():
    """Random weights, explicitly; BN statistics randomised so eval-mode BN is not the identity."""
    torch.manual_seed(0)
    network = FIDInceptionV3(pretrained=False)
    for name, buffer in network.named_buffers():
        if name.endswith("running_mean"):
            buffer.copy_(0.1 * torch.randn(buffer.shape))
        elif name.endswith("running_var"):
            buffer.copy_(torch.rand(buffer.shape) + 0.5)
    return network


def test_inception_state_dict_matches_published_layout(inception):
    state = inception.state_dict()
    for key, shape in PUBLISHED_KEYS:
        assert tuple(state[key].shape) == shape, key
    # 94 conv+BN units × 6 entries (conv.weight, bn.weight/bias/running_mean/running_var/
    # num_batches_tracked) + fc.weight + fc.bias; no auxiliary classifier
    assert len(state) == 94 * 6 + 2
    assert not any(k.startswith("AuxLogits") for k in state)
    # torchvision documents 27,161,264 parameters for inception_v3 (1000 classes, with
    # aux classifier). Aux = conv 768→128 1×1 + BN (98,560) + conv 128→768 5×5 + BN
    # (2,459,136) + fc 768→1000 (769,000) = 3,326,696; 8 more classes add 8 × 2049.
    assert sum(p.numel() for p in inception.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_fid_variant_pooling(inception):
    # TensorFlow's average pool ignores the zero padding: a constant stays constant at borders
    ones = torch.ones(1, 1, 5, 5)
    assert torch.equal(fid_module._avg_pool_3x3(ones), ones)
    assert (inception.Mixed_7b.pool, inception.Mixed_7c.pool) == ("avg", "max")
    # the pool branch of Mixed_7c sees a max pool: with all other branches silenced, a
    # single bright pixel spreads to its 3×3 neighbourhood unchanged
    block = fid_module.InceptionE(1, pool="max")
    with torch.no_grad():
        for unit in block.modules():
            if isinstance(unit, fid_module.BasicConv2d):
                unit.conv.weight.zero_()
        block.branch_pool.conv.weight.fill_(1.0)
    block.eval()
    spike = torch.zeros(1, 1, 5, 5)
    spike[0, 0, 2, 2] = 4.0
    pooled = block(spike)[:, -192:]  # the pool branch's channels
    expected = torch.zeros(5, 5)
    expected[1:4, 1:4] = 4.0 / (1 + 1e-3) ** 0.5  # eval BN: x / sqrt(1 + eps)
    torch.testing.assert_close(pooled[0, 0], expected)


def test_inception_input_is_resized_to_299_and_scaled_to_signed_range(inception):
    seen = []
    hook = inception.Conv2d_1a_3x3.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    image = torch.zeros(1, 3, 40, 60)
    image[..., :, 30:] = 1.0  # left half black, right half white
    try:
        with torch.no_grad():
            inception(image, dims=64)
    finally:
        hook.remove()
    (x,) = seen
    assert x.shape == (1, 3, 299, 299)
    # bilinear weights sum to 1 only up to rounding: compare with a float tolerance
    assert torch.allclose(x[..., :, :100], torch.tensor(-1.0), atol=1e-6)
    assert torch.allclose(x[..., :, 200:], torch.tensor(1.0), atol=1e-6)
    expected = F.interpolate(image, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    torch.testing.assert_close(x, expected)


def test_inception_forward_shapes_and_validation(inception):
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = inception(image)  # resized to 299 px inside
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        inception(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="dims"):
        inception(image, dims=100)


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory, inception):
    """Random (but explicit) weights saved under the published file name."""
    folder = tmp_path_factory.mktemp("fid_weights")
    torch.save(inception.state_dict(), folder / FID_WEIGHTS.name)
    return folder


@pytest.fixture(scope="module")
def loaded(weights_dir):
    """The network loaded from ``weights_dir`` through the public loader (no 299-px resize)."""
    return FIDInceptionV3(weights=weights_dir, resize_input=False)  # folder → standard file name


def test_save_load_roundtrip_gives_identical_outputs(inception, weights_dir, loaded):
    source = FIDInceptionV3(pretrained=False, resize_input=False)
    source.load_state_dict(inception.state_dict())
    assert loaded.weights_path == str(weights_dir / FID_WEIGHTS.name)
    image = torch.rand(2, 3, 80, 80, generator=torch.Generator().manual_seed(3))  # 75 px is the least
    with torch.no_grad():
        expected, actual = source(image), loaded(image)
    assert expected.abs().sum() > 0
    assert torch.equal(expected, actual)


def test_loader_accepts_state_without_batchnorm_counters(inception):
    state = inception.state_dict()
    old_style = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    network = FIDInceptionV3(pretrained=False)
    load_into(network, old_style, source="old.pth")
    key = "Mixed_7c.branch_pool.bn.running_var"
    assert torch.equal(network.state_dict()[key], state[key])


def test_wrong_keys_and_shapes_are_clear_errors(inception, tmp_path):
    state = inception.state_dict()
    network = FIDInceptionV3(pretrained=False)
    renamed = dict(state)
    renamed["Mixed_5b.branch1x1.conv.kernel"] = renamed.pop("Mixed_5b.branch1x1.conv.weight")
    with pytest.raises(
        WeightsError,
        match=r"renamed\.pth does not fit FIDInceptionV3: missing keys: Mixed_5b\.branch1x1\.conv\.weight; "
        r"unexpected keys: Mixed_5b\.branch1x1\.conv\.kernel",
    ):
        load_into(network, renamed, source="renamed.pth")
    reshaped = dict(state, **{"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)})
    with pytest.raises(WeightsError, match=r"wrong shapes: fc\.bias \(1000,\) != \(1008,\)"):
        load_into(network, reshaped, source="reshaped.pth")
    # through a file: a small state dict under the published name is refused before any copy
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, tmp_path / FID_WEIGHTS.name)
    with pytest.raises(WeightsError, match=rf"{FID_WEIGHTS.name} does not fit.*missing keys: Conv2d_1a_3x3"):
        FIDInceptionV3(weights=tmp_path)


def test_unreadable_or_code_carrying_files_are_refused(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot read"):
        FIDInceptionV3(weights=tmp_path / "garbage.pth")  # an explicit file, any name
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "pickled.pth")  # a pickled module
    with pytest.raises(WeightsError, match="cannot read"):
        FIDInceptionV3(weights=tmp_path / "pickled.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(WeightsError, match="state dict"):
        FIDInceptionV3(weights=tmp_path / "list.pth")


# ----------------------------------------------------------------------------- availability


def test_missing_weights_are_reported_with_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_WEIGHTS_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(WeightsUnavailable) as error:
        FIDInceptionV3()
    reason = error.value.reason
    assert FID_WEIGHTS.name in reason
    assert str(tmp_path / "env") in reason and str(tmp_path / "cache" / "weights") in reason
    assert "TINCT_WEIGHTS_DIR" in reason

    images = torch.rand(2, 3, 32, 32)
    result = fid_score(images, images, weights=tmp_path / "nowhere")
    assert isinstance(result, MetricResult)
    assert not result.available and result.value is None
    assert FID_WEIGHTS.name in result.reason and str(tmp_path / "nowhere") in result.reason
    assert "unavailable" in str(result)


def test_lookup_order(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TINCT_WEIGHTS_DIR", raising=False)
    cached = tmp_path / "cache" / "weights" / FID_WEIGHTS.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert find_weights(FID_WEIGHTS) == cached  # the cache folder
    monkeypatch.setenv("TINCT_WEIGHTS_DIR", str(weights_dir))
    assert find_weights(FID_WEIGHTS) == weights_dir / FID_WEIGHTS.name  # the environment first
    converted = tmp_path / "converted" / "pt_inception-2015-12-05-6726825d.safetensors"
    converted.parent.mkdir()
    converted.write_bytes(b"")
    assert find_weights(FID_WEIGHTS, converted.parent) == converted  # a safetensors copy
    with pytest.raises(WeightsUnavailable):  # an explicit path is never second-guessed
        find_weights(FID_WEIGHTS, tmp_path / "empty")


def test_fid_refuses_random_network(inception):
    with pytest.raises(ValueError, match="random"):
        FID(network=inception)


# ----------------------------------------------------------------------------- the metric


def test_fid_accumulates_batches(weights_dir, loaded):
    generator = torch.Generator().manual_seed(4)
    real = torch.rand(6, 3, 32, 32, generator=generator)
    fake = (real * 0.5 + 0.4).clamp(0, 1)

    metric = FID(network=loaded, dims=64)  # the stem only, at 32 px: fast
    for start in range(0, 6, 2):  # batch by batch
        metric.update(real=real[start : start + 2], fake=fake[start : start + 2])
    assert (metric.num_real, metric.num_fake) == (6, 6)
    batched = metric.compute()

    with torch.no_grad():
        features_real = metric.network(real, dims=64)
        features_fake = metric.network(fake, dims=64)
    expected = frechet_distance(*activation_statistics(features_real), *activation_statistics(features_fake))
    assert batched == pytest.approx(expected, rel=1e-4)
    assert batched > 0

    metric.reset()
    metric.update(real=real, fake=real)
    assert metric.compute() == pytest.approx(0.0, abs=1e-6)
    metric.reset()
    metric.update(real=real[:1], fake=fake)
    with pytest.raises(ValueError, match="at least 2"):
        metric.compute()

    # the scoring function resizes to 299 px (bilinear, align_corners=False) first
    result = fid_score(real[:3], fake[:3], weights=weights_dir, dims=64, batch_size=2)
    assert result.available and result.reason is None
    with torch.no_grad():
        both = torch.cat([real[:3], fake[:3]])
        resized = F.interpolate(both, size=(299, 299), mode="bilinear", align_corners=False)
        features = loaded(resized, dims=64)
    expected = frechet_distance(*activation_statistics(features[:3]), *activation_statistics(features[3:]))
    assert result.value == pytest.approx(expected, rel=1e-5)


def test_metric_result_requires_value_or_reason():
    with pytest.raises(ValueError):
        MetricResult("fid", None)
    with pytest.raises(ValueError):
        MetricResult("fid", 1.0, reason="both")
    assert MetricResult("fid", 1.5).as_dict() == {"name": "fid", "value": 1.5, "reason": None}


def _published_weights():
    try:
        return find_weights(FID_WEIGHTS)
    except WeightsUnavailable:
        return None


@pytest.mark.skipif(_published_weights() is None, reason="published FID weights not installed")
def test_published_weights_load_and_separate_image_sets():
    network = FIDInceptionV3(weights=_published_weights())
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 3, 64, 64, generator=generator)
    flat = torch.rand(4, 3, 1, 1, generator=generator).expand(4, 3, 64, 64)
    with torch.no_grad():
        features = network(torch.cat([noise, flat]), dims=192)
    assert (features >= 0).all() and features.abs().sum() > 0  # post-ReLU average pool
    stats = [activation_statistics(features[:4]), activation_statistics(features[4:])]
    assert frechet_distance(*stats[0], *stats[1]) > 0
    assert frechet_distance(*stats[0], *stats[0]) == pytest.approx(0.0, abs=1e-6)
