"""A real run (the session's ``tiny`` run, trained by the CLI) holds every artifact in the shapes its model implies."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from artifacts.config import TrainConfig, captured_layers, conv_layers, layer_plan
from pipeline.model import load_model
from tests.conftest import TINY_RUN_ID


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


@pytest.fixture(scope="module")
def config(run) -> TrainConfig:
    return TrainConfig.from_dict(run.manifest()["config"])


def test_manifest(run, config):
    manifest = run.manifest()
    assert manifest["status"] == "complete" and manifest["schema_version"] == fmt.SCHEMA_VERSION
    assert (config.epochs, config.batch_size, config.probe_per_class, config.seed) == (2, 64, 3, 7)
    dataset = manifest["dataset"]
    assert dataset["name"] == "mnist-sample" and dataset["source"]
    assert 500 <= dataset["train_size"] + dataset["validation_size"] <= 700
    assert dataset["test_size"] == 500
    assert {"python", "numpy", "tensorflow", "keras"} <= set(manifest["versions"])
    metrics = manifest["metrics"]
    assert 0.5 < metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0
    assert manifest["architecture"] == [spec.to_dict() for spec in layer_plan(config)]
    assert manifest["size_bytes"] == pytest.approx(run.size_bytes(), rel=0.01)


def test_history(run, config):
    history = run.history()
    assert list(history["epoch"]) == list(range(1, config.epochs + 1))
    columns = [c for c in history.columns if c != "epoch"]
    assert history[columns].notna().all().all()
    assert (history["epoch_seconds"] > 0).all()
    assert history[list(fmt.CLASS_ACCURACY_COLUMNS)].to_numpy().min() >= 0
    assert history["learning_rate"].iloc[0] == pytest.approx(config.learning_rate)


def test_probes(run, config):
    probes = run.probes()
    assert list(np.bincount(probes["labels"], minlength=10)) == [config.probe_per_class] * 10
    predictions = run.predictions()
    np.testing.assert_array_equal(predictions["labels"][probes["ids"]], probes["labels"])
    np.testing.assert_array_equal(predictions["images"][probes["ids"]], probes["images"])


def test_snapshots(run, config):
    assert run.snapshot_epochs() == list(range(config.epochs + 1))
    plan = {spec.name: spec for spec in layer_plan(config)}
    probes = len(run.probes()["ids"])
    per_epoch = 10 * min(config.snapshot_probe_per_class, config.probe_per_class)
    for epoch in run.snapshot_epochs():
        snapshot = run.snapshot(epoch)
        n = probes if epoch == config.epochs else per_epoch
        assert snapshot[fmt.SNAPSHOT_PROBE_INDEX].shape == (n,)
        channels = 1
        for name, block in zip(conv_layers(config), config.conv_blocks, strict=True):
            kernel = snapshot[fmt.KERNEL_PREFIX + name]
            assert kernel.shape == (block.kernel_size, block.kernel_size, channels, block.filters)
            channels = block.filters
        for name in captured_layers(config):
            assert snapshot[fmt.ACTIVATION_PREFIX + name].shape == (n, *plan[name].output_shape), (epoch, name)
        saliency = snapshot[fmt.SNAPSHOT_SALIENCY].astype(np.float32)
        assert saliency.shape == (n, 28, 28) and saliency.min() >= 0 and saliency.max() <= 1
        assert np.allclose(saliency.reshape(n, -1).max(axis=1), 1, atol=1e-3)
        probabilities = snapshot[fmt.SNAPSHOT_PROBABILITIES].astype(np.float32)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-2)
        np.testing.assert_allclose(probabilities, snapshot[fmt.ACTIVATION_PREFIX + "output"].astype(np.float32))
    first, last = run.snapshot(0), run.snapshot(config.epochs)
    assert not np.array_equal(first[fmt.KERNEL_PREFIX + "conv_1"], last[fmt.KERNEL_PREFIX + "conv_1"])


def test_weights_of_every_epoch_and_the_last_as_model_keras_holds_them(run, config):
    assert run.weight_epochs() == list(range(config.epochs + 1))
    model = load_model(run.model_path)
    final = run.weights(config.epochs)
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            for role, variable in ((fmt.WEIGHT_KERNEL, layer.kernel), (fmt.WEIGHT_BIAS, layer.bias)):
                np.testing.assert_array_equal(final[fmt.weight_key(layer.name, role)], np.asarray(variable))
    assert {array.dtype for array in final.values()} == {np.dtype(fmt.FINAL_WEIGHTS_DTYPE)}
    for epoch in range(config.epochs):
        weights = run.weights(epoch)
        assert {array.dtype for array in weights.values()} == {np.dtype(fmt.WEIGHTS_DTYPE)}
        assert weights.keys() == final.keys()
    # Epoch 0 is the initialisation: snapshot 0's kernels are the same weights.
    np.testing.assert_array_equal(run.weights(0)["conv_1__kernel"], run.snapshot(0)[fmt.KERNEL_PREFIX + "conv_1"])
    assert not np.array_equal(run.weights(0)["dense__kernel"], run.weights(1)["dense__kernel"])


def test_predictions_sum_to_one(run):
    predictions = run.predictions()
    n = run.manifest()["dataset"]["test_size"]
    assert predictions["probabilities"].shape == (n, 10) and predictions["images"].shape == (n, 28, 28)
    np.testing.assert_allclose(predictions["probabilities"].astype(np.float32).sum(axis=1), 1, atol=1e-2)
    # Probabilities are stored as float16: the stored class (from float32) may differ only in near-ties.
    probabilities = predictions["probabilities"].astype(np.float32)
    rows = np.arange(len(probabilities))
    gap = probabilities.max(axis=1) - probabilities[rows, predictions["predicted"]]
    assert (gap <= 2e-3).all() and np.mean(gap == 0) >= 0.99


def test_class_metrics_and_confusion_agree_with_the_predictions(run):
    predictions = run.predictions()
    labels, predicted = predictions["labels"].astype(int), predictions["predicted"].astype(int)
    confusion = run.confusion()
    for true in range(10):
        for guess in range(10):
            assert confusion[true, guess] == np.sum((labels == true) & (predicted == guess))
    metrics = run.class_metrics().set_index("class")
    for k in range(10):
        tp = np.sum((labels == k) & (predicted == k))
        precision = tp / max(np.sum(predicted == k), 1)
        recall = tp / np.sum(labels == k)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert metrics.loc[k, "support"] == np.sum(labels == k)
        assert metrics.loc[k, ["precision", "recall", "f1"]].tolist() == pytest.approx([precision, recall, f1])
    assert run.manifest()["metrics"]["test_accuracy"] == pytest.approx(np.mean(labels == predicted))


def test_model_loads_safely_and_takes_raw_pixels(run):
    model = load_model(run.model_path)
    predictions = run.predictions()
    raw = predictions["images"][..., None].astype(np.float32)
    probabilities = model.predict(raw, verbose=0)
    agreement = np.mean(probabilities.argmax(axis=1) == predictions["predicted"])
    assert agreement >= 0.995
    np.testing.assert_allclose(probabilities, predictions["probabilities"].astype(np.float32), atol=5e-3)


def test_no_temporary_files_left(run):
    leftovers = [name for name in run.file_sizes() if name.split("/")[-1].startswith(".")]
    assert leftovers == []


def test_the_manifest_records_the_datasets_class_names(run):
    manifest = run.manifest()
    assert manifest[fmt.CLASS_NAMES] == [str(k) for k in range(10)]
    assert fmt.class_names(manifest) == tuple("0123456789")
    assert fmt.class_names({k: v for k, v in manifest.items() if k != fmt.CLASS_NAMES}) == tuple("0123456789")
    assert fmt.class_names({fmt.CLASS_NAMES: list(fmt.FASHION_CLASS_NAMES)})[9] == "Ankle boot"


def test_every_test_digit_is_recorded_at_every_epoch_from_the_untrained_one(run, config):
    assert run.test_epochs() == list(range(config.epochs + 1))
    predictions = run.predictions()
    n = len(predictions["labels"])
    for epoch in run.test_epochs():
        arrays = run.test_epoch(epoch)
        assert arrays[fmt.TEST_PREDICTED].shape == (n,) and arrays[fmt.TEST_PREDICTED].dtype == np.uint8
        assert arrays[fmt.TEST_TRUE_PROBABILITY].shape == (n,)
        assert arrays[fmt.TEST_TRUE_PROBABILITY].dtype == np.float16
        # The tiny run's 500 test digits are under the cap: every one is embedded.
        np.testing.assert_array_equal(arrays[fmt.TEST_FEATURE_INDEX], np.arange(n))
        assert arrays[fmt.TEST_FEATURES].shape == (n, config.dense_units)
        assert arrays[fmt.TEST_FEATURES].dtype == np.float16 and (arrays[fmt.TEST_FEATURES] >= 0).all()  # ReLU
    # The last epoch's network is the one evaluated: the same answers as predictions.npz.
    last = run.test_epoch(config.epochs)
    np.testing.assert_array_equal(last[fmt.TEST_PREDICTED], predictions["predicted"])
    picked = predictions["probabilities"][np.arange(n), predictions["labels"]]
    np.testing.assert_allclose(last[fmt.TEST_TRUE_PROBABILITY], picked, atol=1e-3)
    # The untrained network answers differently from the trained one.
    assert (run.test_epoch(0)[fmt.TEST_PREDICTED] != predictions["predicted"]).mean() > 0.3


def test_the_embedded_digits_are_a_seeded_subset_when_the_test_set_is_larger_than_the_cap():
    from pipeline.capture import embedding_index

    index = embedding_index(10_000, seed=3)
    assert len(index) == fmt.EMBEDDING_MAX_DIGITS and (np.diff(index) > 0).all() and index[-1] < 10_000
    np.testing.assert_array_equal(index, embedding_index(10_000, seed=3))
    np.testing.assert_array_equal(embedding_index(500, seed=3), np.arange(500))


def test_the_test_set_capture_matches_the_model_across_batches_and_a_capped_subset():
    import keras

    from pipeline.capture import TestSetCapture, embedding_index
    from pipeline.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(TrainConfig(epochs=1))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (1300, 28, 28)).astype(np.uint8)  # two batches of TestSetCapture.BATCH
    labels = rng.integers(0, 10, 1300)
    index = embedding_index(1300, seed=0, cap=300)
    arrays = TestSetCapture(model, images, labels, index)()
    direct = keras.Model(model.inputs[0], [model.get_layer("dense").output, model.outputs[0]])
    hidden, probabilities = direct.predict(images[..., None].astype(np.float32), verbose=0)
    np.testing.assert_array_equal(arrays[fmt.TEST_PREDICTED], probabilities.argmax(axis=1))
    np.testing.assert_allclose(arrays[fmt.TEST_TRUE_PROBABILITY], probabilities[np.arange(1300), labels], rtol=2e-3)
    np.testing.assert_array_equal(arrays[fmt.TEST_FEATURE_INDEX], index)
    np.testing.assert_allclose(arrays[fmt.TEST_FEATURES], hidden[index], rtol=2e-3, atol=1e-3)
