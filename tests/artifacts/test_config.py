"""TrainConfig validation and the layer_plan arithmetic, without TensorFlow."""

from __future__ import annotations

import json

import pytest

from artifacts.config import ConvBlock, TrainConfig, captured_layers, conv_layers, conv_output_size, layer_plan


def shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    return {spec.name: spec.output_shape for spec in layer_plan(config)}


def test_default_is_the_classic_mnist_convnet():
    plan = layer_plan(TrainConfig())
    assert [(s.name, s.kind, s.output_shape, s.params) for s in plan] == [
        ("pixels", "Input", (28, 28, 1), 0),
        ("conv_1", "Conv2D", (26, 26, 32), 320),
        ("pool_1", "MaxPooling2D", (13, 13, 32), 0),
        ("conv_2", "Conv2D", (11, 11, 64), 18_496),
        ("pool_2", "MaxPooling2D", (5, 5, 64), 0),
        ("flatten", "Flatten", (1600,), 0),
        ("dense", "Dense", (128,), 204_928),
        ("dropout", "Dropout", (128,), 0),
        ("output", "Dense", (10,), 1290),
    ]
    assert sum(s.params for s in plan) == 225_034
    assert captured_layers(TrainConfig()) == ["conv_1", "pool_1", "conv_2", "pool_2", "dense", "output"]
    assert conv_layers(TrainConfig()) == ["conv_1", "conv_2"]


@pytest.mark.parametrize(
    ("block", "side"),
    [
        (ConvBlock(padding="same", pooling=False), 28),
        (ConvBlock(padding="valid", pooling=False), 26),
        (ConvBlock(kernel_size=5, pooling=False), 24),
        (ConvBlock(kernel_size=5, padding="same", pooling=False), 28),
        (ConvBlock(strides=2, pooling=False), 13),  # (28 - 3) // 2 + 1
        (ConvBlock(strides=2, padding="same", pooling=False), 14),  # ceil(28 / 2)
        (ConvBlock(kernel_size=5, strides=2, pooling=False), 12),  # (28 - 5) // 2 + 1
        (ConvBlock(kernel_size=5, strides=2, padding="same", pooling=False), 14),
        (ConvBlock(kernel_size=5), 12),  # 24, pooled
        (ConvBlock(strides=2), 6),  # 13, pooled (floor)
    ],
)
def test_one_block_shapes(block, side):
    plan = shapes(TrainConfig(conv_blocks=(block,), dense_units=16))
    assert plan["conv_1"][-1] == block.filters
    assert (plan.get("pool_1") or plan["conv_1"])[:2] == (side, side)
    assert plan["flatten"] == (side * side * block.filters,)


def test_params_of_a_three_block_net():
    blocks = (
        ConvBlock(filters=8, kernel_size=5, padding="same"),  # 28 -> 28 -> 14
        ConvBlock(filters=16, strides=2, pooling=False),  # 14 -> 6
        ConvBlock(filters=4, padding="same"),  # 6 -> 6 -> 3
    )
    plan = {s.name: s for s in layer_plan(TrainConfig(conv_blocks=blocks, dense_units=32))}
    assert plan["conv_1"].params == 5 * 5 * 1 * 8 + 8
    assert plan["conv_2"].params == 3 * 3 * 8 * 16 + 16 and plan["conv_2"].output_shape == (6, 6, 16)
    assert plan["conv_3"].params == 3 * 3 * 16 * 4 + 4 and plan["pool_3"].output_shape == (3, 3, 4)
    assert plan["dense"].params == 36 * 32 + 32 and plan["output"].params == 32 * 10 + 10
    assert "pool_2" not in plan and plan["conv_2"].detail == "3x3, stride 1, valid".replace("1", "2", 1)


def test_conv_output_size_matches_keras_formulas():
    assert conv_output_size(28, 3, 1, "valid") == 26
    assert conv_output_size(27, 3, 2, "same") == 14
    assert conv_output_size(2, 3, 1, "valid") == 0


def test_map_shrinking_below_one_pixel_is_explained():
    blocks = [{"kernel_size": 5}] * 3  # 28 -> 24 -> 12 -> 8 -> 4 -> 0
    with pytest.raises(ValueError, match=r"conv block 3: a 5x5 'valid' convolution cannot shrink a 4x4 map below 1x1"):
        TrainConfig(conv_blocks=blocks)
    with pytest.raises(ValueError, match="conv block 3: its 1x1 output is too small for 2x2 pooling"):
        # 28 -> 13 -> 6 -> 3 -> 1, then pooling
        TrainConfig(conv_blocks=[{"strides": 2}, {"strides": 2, "padding": "same", "pooling": False}, {}])
    TrainConfig(conv_blocks=[{"kernel_size": 5, "padding": "same"}] * 3)  # 28 -> 14 -> 7 -> 3: fine


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conv_blocks": []}, "1 to 3 blocks"),
        ({"conv_blocks": [{}] * 4}, "1 to 3 blocks"),
        ({"conv_blocks": [{"filters": 0}]}, "conv block 1: filters"),
        ({"conv_blocks": [{}, {"filters": True}]}, "conv block 2: filters"),
        ({"conv_blocks": [{"kernel_size": 4}]}, "kernel_size must be 3 or 5"),
        ({"conv_blocks": [{"kernel_size": 3.0}]}, "kernel_size must be 3 or 5"),
        ({"conv_blocks": [{"strides": 3}]}, "strides must be 1 or 2"),
        ({"conv_blocks": [{"padding": "full"}]}, "padding must be"),
        ({"conv_blocks": [{"activation": "tanh"}]}, "activation must be"),
        ({"conv_blocks": [{"pooling": "yes"}]}, "pooling must be"),
        ({"conv_blocks": [{"dilation": 2}]}, "conv block 1: unknown option"),
        ({"conv_blocks": ["big"]}, "conv block 1 must be an object"),
        ({"conv_blocks": "big"}, "conv_blocks must be a list"),
        ({"dense_units": 0}, "dense_units"),
        ({"epochs": 0}, "epochs must be an integer from 1"),
        ({"epochs": 2.5}, "epochs"),
        ({"batch_size": True}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"probe_per_class": 0}, "probe_per_class"),
        ({"snapshot_probe_per_class": -1}, "snapshot_probe_per_class"),
        ({"augmentation": 1}, "augmentation"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"dropout_rate": float("nan")}, "dropout_rate"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"validation_fraction": 0.5}, "validation_fraction"),
        ({"learnin_rate": 0.1}, "unknown config option"),
    ],
)
def test_invalid_values_raise_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(changes)


def test_from_dict_needs_an_object():
    with pytest.raises(ValueError, match="JSON object"):
        TrainConfig.from_dict([1, 2])


def test_json_round_trip_and_replace():
    config = TrainConfig(conv_blocks=[{"filters": 16, "kernel_size": 5, "activation": "leaky_relu"}], epochs=3)
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config
    assert {"batch_size", "epochs", "learning_rate", "dropout_rate", "seed"} <= set(data)
    assert config.replace(epochs=4).epochs == 4
    with pytest.raises(ValueError, match="epochs"):
        config.replace(epochs=0)
