"""What each filter looks for, in the store: maximised.npz read back as written, a damaged one an ArtifactError,
and the dead and saturated flags checked against a direct loop."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore, Run
from artifacts import format as fmt
from artifacts.filters import LEAKY_DEAD_SHARE, SATURATED_SHARE, FilterMaxima, filter_health
from artifacts.io import write_npz
from artifacts.validate import maximised_shapes
from tests.artifacts import helpers

LAYERS = {"conv_1": 32, "conv_2": 64}  # helpers.CONFIG: the default network


def random_maxima(seed: int = 0) -> list[FilterMaxima]:
    rng = np.random.default_rng(seed)
    return [FilterMaxima(layer, rng.uniform(0, 255, size=(filters, 28, 28)).astype(np.float32),
                         rng.uniform(0, 2, size=filters).astype(np.float32),
                         rng.uniform(0, 1, size=filters).astype(np.float32))
            for layer, filters in LAYERS.items()]


@pytest.fixture
def run(tmp_path) -> Run:
    return helpers.make_run(ArtifactStore(tmp_path / "store"), "maxima-run")


def arrays_of(run: Run) -> dict[str, np.ndarray]:
    with np.load(run.path / fmt.MAXIMISED) as archive:
        return {key: archive[key] for key in archive.files}


def test_shapes_follow_the_config():
    shapes = maximised_shapes({fmt.KEY_CONFIG: helpers.CONFIG.to_dict()}, "r")
    assert shapes == {"seconds": (), "image__conv_1": (32, 28, 28), "reached__conv_1": (32,),
                      "probe_mean__conv_1": (32,), "image__conv_2": (64, 28, 28), "reached__conv_2": (64,),
                      "probe_mean__conv_2": (64,)}


def test_round_trip_keeps_float16_images_and_every_number(run):
    written = random_maxima()
    run.write_maximised(written, 2.5)
    maxima, seconds = run.maximised()
    assert seconds == 2.5 and [layer.layer for layer in maxima] == ["conv_1", "conv_2"]
    for stored, original in zip(maxima, written, strict=True):
        assert stored.images.dtype == np.float16
        np.testing.assert_array_equal(stored.images, original.images.astype(np.float16))
        np.testing.assert_array_equal(stored.reached, original.reached)
        np.testing.assert_array_equal(stored.probe_mean, original.probe_mean)


def test_a_run_without_the_file_has_none(run):
    assert run.maximised() is None


def test_maxima_that_do_not_fit_the_config_are_refused_on_write(run):
    maxima = random_maxima()
    with pytest.raises(ValueError, match="conv_2"):
        run.write_maximised(maxima[:1], 1.0)
    short = FilterMaxima("conv_1", maxima[0].images[:5], maxima[0].reached[:5], maxima[0].probe_mean[:5])
    with pytest.raises(ValueError, match="conv_1"):
        run.write_maximised([short, maxima[1]], 1.0)
    assert not (run.path / fmt.MAXIMISED).exists()


def test_a_truncated_file_is_an_artifact_error(run):
    run.write_maximised(random_maxima(), 1.0)
    path = run.path / fmt.MAXIMISED
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ArtifactError, match="corrupted"):
        run.maximised()


def test_an_oversized_array_is_refused_before_it_is_read(run):
    run.write_maximised(random_maxima(), 1.0)
    arrays = arrays_of(run)
    # A small file that declares a huge array: refused on its header, never decompressed.
    arrays["image__conv_1"] = np.zeros((100_000, 28, 28), dtype=np.float16)
    write_npz(run.path / fmt.MAXIMISED, arrays)
    with pytest.raises(ArtifactError, match="larger than the run's"):
        run.maximised()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("image__conv_2", np.full((64, 28, 28), np.nan, dtype=np.float16), "NaN"),
    ("image__conv_1", np.full((32, 28, 28), 300, dtype=np.float16), "pixel range"),
    ("image__conv_1", np.full((32, 28, 28), -1, dtype=np.float16), "pixel range"),
    ("reached__conv_1", np.zeros(31, dtype=np.float32), "expected floats of shape"),
    ("reached__conv_2", np.zeros(64, dtype=np.int64), "expected floats"),
    ("seconds", np.asarray(-1.0), "seconds"),
])
def test_damaged_values_are_artifact_errors(run, key, value, message):
    run.write_maximised(random_maxima(), 1.0)
    arrays = arrays_of(run)
    arrays[key] = value
    write_npz(run.path / fmt.MAXIMISED, arrays)
    with pytest.raises(ArtifactError, match=message):
        run.maximised()


def test_a_missing_array_is_an_artifact_error(run):
    run.write_maximised(random_maxima(), 1.0)
    arrays = arrays_of(run)
    del arrays["probe_mean__conv_2"]
    write_npz(run.path / fmt.MAXIMISED, arrays)
    with pytest.raises(ArtifactError, match="missing arrays"):
        run.maximised()


# -- dead and saturated filters ---------------------------------------------------------


def health_by_loop(activations: np.ndarray, activation: str) -> tuple[list[bool], list[bool]]:
    """The module's definitions, spelled out filter by filter, digit by digit, position by position."""
    digits, height, width, filters = activations.shape
    layer_peak = max(float(value) for value in activations.flat)
    dead, saturated = [], []
    for f in range(filters):
        peak = max(float(activations[d, y, x, f]) for d in range(digits) for y in range(height)
                   for x in range(width))
        threshold = 0.0 if activation == "relu" else LEAKY_DEAD_SHARE * max(layer_peak, 0.0)
        dead.append(peak <= threshold)
        every_digit = True
        for d in range(digits):
            active = sum(1 for y in range(height) for x in range(width) if activations[d, y, x, f] > 0)
            every_digit &= active / (height * width) > SATURATED_SHARE
        saturated.append(every_digit)
    return dead, saturated


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_dead_and_saturated_filters_match_a_direct_loop(activation):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(6, 9, 9, 12)).astype(np.float16)
    values[..., 0] = np.minimum(values[..., 0], 0)  # never positive: dead either way
    values[..., 1] = np.abs(values[..., 1]) + 0.1  # positive everywhere: saturated
    values[..., 2] = np.abs(values[..., 2]) + 0.1
    values[3, 0, :5, 2] = 0  # 5 of 81 positions off on one digit: 94% active, not saturated
    values[..., 3] = np.abs(values[..., 3]) + 0.1
    values[3, 0, :4, 3] = 0  # 4 of 81 off: 95.06% active, still saturated
    values[..., 4] = np.minimum(values[..., 4], 0)
    values[0, 0, 0, 4] = 0.001  # one tiny spark: alive after ReLU, dead after LeakyReLU (below 1% of the peak)
    values[..., 5] = np.minimum(values[..., 5], 0)
    values[0, 0, 0, 5] = 0.2  # a real spark: alive either way
    if activation == "relu":
        values = np.maximum(values, 0)
    health = filter_health("conv_1", values, activation)
    dead, saturated = health_by_loop(values.astype(np.float32), activation)
    assert health.dead.tolist() == dead and health.saturated.tolist() == saturated
    assert dead[:6] == [True, False, False, False, activation == "leaky_relu", False]
    assert saturated[:6] == [False, True, False, True, False, False]


def test_the_per_layer_line():
    values = np.ones((2, 3, 3, 32), dtype=np.float32)
    values[..., :2] = 0
    values[:, 0, 0, 2:] = 0  # 8 of 9 positions: 89%, not saturated
    values[:, :, :, 30:] = 1
    assert filter_health("conv_1", values, "relu").line() == "conv_1: 2 of 32 dead (6%), 2 saturated (6%)"
    values[:, :, :, 30:] = 0.5
    values[:, 0, 0, 30:] = 0
    assert filter_health("conv_1", values, "relu").line() == "conv_1: 2 of 32 dead (6%), 0 saturated"


def test_bad_activations_are_value_errors():
    with pytest.raises(ValueError, match="digits >= 1"):
        filter_health("conv_1", np.zeros((0, 3, 3, 2)), "relu")
    with pytest.raises(ValueError, match="unknown activation"):
        filter_health("conv_1", np.zeros((1, 3, 3, 2)), "tanh")
