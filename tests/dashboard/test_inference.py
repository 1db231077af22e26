"""The numpy engine against what the pipeline stored with TensorFlow, for the session's tiny run (no TF here).

The pipeline's last snapshot holds, for every probe digit, what Keras and GradientTape computed
with the final weights (activations, probabilities, saliency) rounded to float16; its test
predictions are ``model.keras``'s answers. The engine, fed the stored final weights (float32),
must give the same numbers within that rounding.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.inference import Network
from tests.conftest import ROOT, TINY_RUN_ID, subprocess_env

FLOAT32_STEP = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


@pytest.fixture(scope="module")
def config(run):
    return run.info().config


@pytest.fixture(scope="module")
def final(run, config):
    return Network(config, run.weights(config.epochs))


def half_float16_steps(live: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """How far ``live`` (float32) is from ``stored`` (float16), in float16 steps at the stored value."""
    assert live.dtype == np.float32 and stored.dtype == np.float16 and live.shape == stored.shape
    step = np.maximum(np.spacing(np.abs(stored)), np.spacing(np.float16(np.abs(stored).max()))).astype(np.float32)
    return np.abs(live - stored.astype(np.float32)) / step


def test_the_run_stored_weights_for_every_epoch(run, config):
    assert run.weight_epochs() == list(range(config.epochs + 1))
    assert all(array.dtype == np.float16 for array in run.weights(0).values())
    assert all(array.dtype == np.float32 for array in run.weights(config.epochs).values())


def test_probe_digits_match_the_final_snapshot(run, config, final):
    """Probabilities and every layer's activations within float16 rounding; saliency too, see below."""
    snapshot = run.snapshot(config.epochs)
    images = run.probes()["images"][snapshot[fmt.SNAPSHOT_PROBE_INDEX]]
    result = final.analyse(images)
    assert [name for name, _ in result.activations] == ["conv_1", "pool_1", "conv_2", "pool_2", "dense", "output"]
    # Half a float16 step is the rounding; the rest is float32 summing in another order.
    assert half_float16_steps(result.probabilities, snapshot[fmt.SNAPSHOT_PROBABILITIES]).max() <= 0.51
    assert np.abs(result.probabilities - snapshot[fmt.SNAPSHOT_PROBABILITIES]).max() <= 5e-4
    for name, values in result.activations:
        assert half_float16_steps(values, snapshot[fmt.ACTIVATION_PREFIX + name]).max() <= 0.51, name
    # Saliency scales the gradient of p_top, whose last step is p_top * (1 - p_top): for a digit the
    # network is sure of, 1 - p_top is a few float32 steps and its rounding (in TensorFlow as here)
    # shifts the map by up to a float32 step over 1 - p_top. Elsewhere the maps agree within float16.
    stored = snapshot[fmt.SNAPSHOT_SALIENCY]
    doubt = np.sort(result.probabilities, axis=1)[:, :-1].sum(axis=1)  # 1 - p_top without its rounding
    allowed = 2e-3 + 2 * FLOAT32_STEP / doubt
    error = np.abs(result.saliency - stored.astype(np.float32)).reshape(len(stored), -1).max(axis=1)
    assert (error <= allowed).all(), (error, allowed)
    assert (error[doubt > 1e-3] <= 2e-3).all()
    assert result.saliency.shape == (len(images), 28, 28) and result.saliency.max(axis=(1, 2)).min() == 1


def test_the_final_weights_answer_as_model_keras_on_every_test_digit(run, final):
    """``predictions.npz`` holds model.keras's answers for the run's test digits (model.predict in the pipeline)."""
    predictions = run.predictions()
    result = final.analyse(predictions["images"])
    assert len(predictions["images"]) == 500
    np.testing.assert_array_equal(result.probabilities.argmax(axis=1), predictions["predicted"])
    assert half_float16_steps(result.probabilities, predictions["probabilities"]).max() <= 0.51


def test_the_random_initialisation_answers_near_chance(run, config, final):
    """Epoch 0 (the weights before training) is no better than guessing; the last epoch reads the digits.

    The tiny run trained 2 epochs on 600 digits: sure of little, but far from chance.
    """
    predictions = run.predictions()
    images, labels = predictions["images"][:200], predictions["labels"][:200]
    untrained = Network(config, run.weights(0)).analyse(images).probabilities
    trained = final.analyse(images).probabilities
    untrained_top, trained_top = untrained.max(axis=1).mean(), trained.max(axis=1).mean()
    print(f"mean top probability: epoch 0 {untrained_top:.3f}, epoch {config.epochs} {trained_top:.3f}")
    assert untrained_top < 0.15 and trained_top > 2 * untrained_top
    assert (untrained.argmax(axis=1) == labels).mean() < 0.25 < 0.5 < (trained.argmax(axis=1) == labels).mean()


@pytest.mark.slow
def test_the_default_run_learns_to_read_real_digits(default_run_store, mnist_test_set):
    """Issue 13: on 200 real MNIST test digits, epoch 0's mean top probability is well below the final epoch's."""
    images, labels = mnist_test_set
    picks = np.random.default_rng(13).choice(len(images), 200, replace=False)
    run = ArtifactStore(default_run_store).run("default")
    config = run.info().config
    untrained = Network(config, run.weights(0)).analyse(images[picks]).probabilities
    trained = Network(config, run.weights(config.epochs)).analyse(images[picks]).probabilities
    print(f"mean top probability: epoch 0 {untrained.max(axis=1).mean():.3f}, "
          f"epoch {config.epochs} {trained.max(axis=1).mean():.3f}")
    assert untrained.max(axis=1).mean() < 0.2 < 0.9 < trained.max(axis=1).mean()
    assert (untrained.argmax(axis=1) == labels[picks]).mean() < 0.25
    assert (trained.argmax(axis=1) == labels[picks]).mean() >= 0.95
    predictions = run.predictions()
    np.testing.assert_array_equal(Network(config, run.weights(config.epochs)).analyse(predictions["images"])
                                  .probabilities.argmax(axis=1), predictions["predicted"])


def test_every_epoch_between_gives_its_own_answers(run, config):
    images = run.predictions()["images"][:50]
    answers = [Network(config, run.weights(epoch)).analyse(images).probabilities for epoch in run.weight_epochs()]
    assert all(not np.allclose(before, after) for before, after in zip(answers, answers[1:], strict=False))


def test_a_wrong_image_shape_is_refused(final):
    for images in (np.zeros((28, 28)), np.zeros((1, 27, 28)), np.zeros((0, 28, 28))):
        with pytest.raises(ValueError, match="28, 28"):
            final.analyse(images)


def test_weights_that_do_not_fit_the_network_are_refused(run, config):
    weights = dict(run.weights(config.epochs))
    del weights["dense__bias"]
    with pytest.raises(ValueError, match="dense__bias"):
        Network(config, weights)


def test_the_engine_never_imports_tensorflow(tiny_store):
    code = ("import sys; from artifacts import ArtifactStore; from dashboard.inference import Network; "
            f"run = ArtifactStore({str(tiny_store)!r}).run({TINY_RUN_ID!r}); config = run.info().config; "
            "Network(config, run.weights(config.epochs)).analyse(run.probes()['images']); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=subprocess_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
