"""build_model matches layer_plan; the per-class accuracy metric and evaluation are right."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from artifacts.config import TrainConfig, captured_layers, layer_plan
from pipeline.evaluate import class_metrics, confusion_matrix
from pipeline.model import ClassAccuracies, build_model, compile_model, load_model

CONFIGS = {
    "default": {},
    "same-5x5-leaky": {"conv_blocks": [{"filters": 16, "kernel_size": 5, "padding": "same",
                                        "activation": "leaky_relu"}], "dense_units": 64},
    "strided-unpooled": {"conv_blocks": [{"filters": 8, "strides": 2, "pooling": False},
                                         {"filters": 16, "kernel_size": 5, "strides": 2, "padding": "same"}]},
    "three-blocks": {"conv_blocks": [{"filters": 4, "padding": "same"}, {"filters": 8, "kernel_size": 5},
                                     {"filters": 12, "padding": "same", "pooling": False}], "dense_units": 7},
    "augmented": {"augmentation": True, "conv_blocks": [{"filters": 6, "kernel_size": 5, "strides": 2}]},
}


@pytest.mark.parametrize("name", CONFIGS)
def test_layer_plan_matches_the_keras_model(name):
    config = TrainConfig.from_dict(CONFIGS[name])
    model = build_model(config)
    plan = layer_plan(config)
    for spec in plan:
        layer = model.get_layer(spec.name)
        assert tuple(layer.output.shape[1:]) == spec.output_shape, spec.name
        assert layer.count_params() == spec.params, spec.name
    assert model.count_params() == sum(spec.params for spec in plan)
    expected_kinds = {spec.name: spec.kind for spec in plan if spec.kind != "Input"}
    assert {n: type(model.get_layer(n)).__name__ for n in expected_kinds} == expected_kinds
    assert captured_layers(config)[-1] == "output"


def test_model_scales_raw_pixels_itself():
    model = build_model(TrainConfig())
    assert model.input_shape == (None, 28, 28, 1)
    assert model.get_layer("rescaling").scale == pytest.approx(1 / 255)


def test_class_accuracies_metric():
    labels = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    predicted = np.array([0, 1, 1, 1, 0, 2, 2, 3])
    metric = ClassAccuracies()
    metric.update_state(labels[:5], keras.ops.one_hot(predicted[:5], 10))
    metric.update_state(labels[5:], keras.ops.one_hot(predicted[5:], 10))
    result = np.asarray(metric.result())
    assert result.shape == (10,)
    np.testing.assert_allclose(result[:4], [1 / 2, 2 / 3, 1.0, 1 / 2])
    assert np.isnan(result[4:]).all()  # classes with no digits are not measured
    metric.reset_state()
    assert np.isnan(np.asarray(metric.result())).all()


def test_compiled_model_logs_per_class_validation_accuracy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(64, 28, 28, 1)).astype(np.float32)
    y = np.arange(64) % 10
    config = TrainConfig(conv_blocks=[{"filters": 2, "strides": 2}], dense_units=4)
    model = compile_model(build_model(config), config)
    history = model.fit(x, y, batch_size=32, epochs=1, validation_data=(x, y), verbose=0)
    per_class = np.asarray(history.history["val_class_accuracy"][0])
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    expected = [(predicted[y == k] == k).mean() for k in range(10)]
    np.testing.assert_allclose(per_class, expected, atol=1e-6)


def test_confusion_and_class_metrics_by_hand():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    confusion = confusion_matrix(labels, predicted)
    assert confusion[0, 0] == 1 and confusion[0, 1] == 1 and confusion[2, 0] == 1 and confusion.sum() == 6
    frame = class_metrics(confusion)
    np.testing.assert_allclose(frame["precision"][:3], [1 / 2, 1 / 2, 1.0])
    np.testing.assert_allclose(frame["recall"][:3], [1 / 2, 1.0, 2 / 3])
    np.testing.assert_allclose(frame["f1"][2], 2 * (1.0 * 2 / 3) / (1.0 + 2 / 3))
    assert list(frame["support"][:4]) == [2, 1, 3, 0] and frame["precision"][5] == 0


def test_saved_model_loads_in_safe_mode_and_predicts_raw_pixels(tmp_path):
    config = TrainConfig(conv_blocks=[{"filters": 4}], dense_units=8)
    model = compile_model(build_model(config), config)
    x = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28, 1)).astype(np.float32)
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
