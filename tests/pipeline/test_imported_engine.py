"""The numpy engine runs an imported model's recorded layer graph as Keras and GradientTape do (issue 16).

Each model is imported by the real importer into a store; the engine is built from what the run
recorded (its layer graph and its stored weights) and compared on real test digits with the Keras
model: every layer's output, the probabilities, the saliency, and the gradient of a class's score at
every layer's output and at the pixels.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.inference import attribution as attr
from dashboard.inference.graph import GraphNetwork, UnsupportedModel, imported_network
from dashboard.inference.network import LOGIT, PROBABILITY
from pipeline.data import load_dataset
from pipeline.importer import import_model
from tests.support import foreign_models

DATASET = foreign_models.DATASET
CLASS = 3  # the class whose score's gradients are compared


def options_model() -> keras.Model:
    """A model of the layer options the four models do not use: non-square kernels and strides, "same"
    pooling of odd windows, average pooling with padding, activations beyond relu, layers as activations,
    batch norm without centre, dense on feature maps, global pooling."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(6, (5, 3), strides=(2, 1), padding="same", activation="elu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.1)(x)
    y = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, activation="gelu")(x)
    y = keras.layers.BatchNormalization(center=False, epsilon=0.01)(y)
    x = keras.layers.Add()([x, keras.layers.ReLU(max_value=0.8)(y)])
    x = keras.layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.DepthwiseConv2D((3, 2), depth_multiplier=2, activation="sigmoid")(x)
    x = keras.layers.Dense(5, activation="selu")(x)
    x = keras.layers.Activation("tanh")(keras.layers.GlobalAveragePooling2D()(x))
    x = keras.layers.Dropout(0.3)(keras.layers.Dense(12, activation="silu")(x))
    return keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(10)(x)), name="options")


@pytest.fixture(scope="module")
def data():
    return load_dataset(DATASET)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, tuple[keras.Model, int, object]]:
    """name -> (the Keras model, its input scale, its imported run), for the four models and the options one."""
    folder = tmp_path_factory.mktemp("foreign")
    paths = foreign_models.save_models(folder / "models", epochs=1)
    keras.utils.set_random_seed(4)
    paths["options"] = folder / "models" / "options.keras"
    options = options_model()
    for layer in options.layers:  # untrained but not trivial: batch norm's statistics away from 0 and 1
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(2)
            layer.moving_mean.assign(rng.normal(0, 0.3, layer.moving_mean.shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2, layer.moving_variance.shape).astype(np.float32))
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape).astype(np.float32))
    options.save(paths["options"])
    scales = {**foreign_models.INPUT_SCALES, "options": 255}
    store = ArtifactStore(folder / "store")
    result = {}
    for name, path in paths.items():
        import_model(path, store, DATASET, name, scales[name])
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
        result[name] = (model, scales[name], store.run(name))
    return result


def model_inputs(images: tf.Tensor, model: keras.Model, scale: int) -> tf.Tensor:
    scaled = images / 255.0 if scale == 1 else images
    return tf.reshape(scaled, (-1, *model.inputs[0].shape[1:]))


def keras_pass(model: keras.Model, scale: int, images: np.ndarray, softmaxed: bool, records):
    """Return Keras' every-layer outputs (by name), probabilities, the gradient of the top class's probability
    at the pixels, and the gradient of CLASS's probability at every layer's output and at the pixels.

    The outputs come from the Keras model's own graph; the gradients at layer outputs from calling its layers
    one by one under the tape, in the order and on the inputs ``records`` (the imported run's) say, checked to
    give the same outputs.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    everything = keras.Model(model.inputs[0], [layer.output for layer in layers])
    pixels = tf.convert_to_tensor(images.astype(np.float32))
    named = {layer.name: np.asarray(output) for layer, output in
             zip(layers, everything(model_inputs(pixels, model, scale), training=False), strict=True)}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(pixels)
        values = {records[0]["name"]: model_inputs(pixels, model, scale)}
        for record in records[1:]:
            inputs = [values[name] for name in record[fmt.LAYER_INBOUND]]
            values[record["name"]] = model.get_layer(record["name"])(inputs if len(inputs) > 1 else inputs[0],
                                                                     training=False)
        final = values[records[-1]["name"]]
        probabilities = tf.nn.softmax(final) if softmaxed else final
        top = tf.reduce_max(probabilities, axis=-1)
        chosen = probabilities[:, CLASS]
    for layer in layers:
        close(np.asarray(values[layer.name]), named[layer.name], f"{layer.name} called alone")
    saliency = tape.gradient(top, pixels).numpy()
    grads = {layer.name: np.asarray(tape.gradient(chosen, values[layer.name])) for layer in layers}
    at_pixels = tape.gradient(chosen, pixels).numpy()
    return named, np.asarray(probabilities), saliency, grads, at_pixels


def close(ours: np.ndarray, theirs: np.ndarray, what: str, rtol: float = 1e-4) -> None:
    assert ours.shape == theirs.shape, what
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=2e-5 * max(1e-3, float(np.abs(theirs).max())),
                               err_msg=what)


@pytest.mark.parametrize("name", [*foreign_models.INPUT_SCALES, "options"])
def test_engine_equals_keras_on_every_layer(name, imported, data):
    model, scale, run = imported[name]
    info = run.info()
    network = imported_network(info, run.weights(fmt.IMPORTED_WEIGHTS_EPOCH))
    digits = data.x_test[:24]
    softmaxed = bool(info.raw[fmt.KEY_IMPORT]["softmax_applied"])
    assert softmaxed == (name == "mlp")
    outputs, probabilities, saliency, grads, at_pixels = keras_pass(model, scale, digits, softmaxed,
                                                                     info.imported_layers)

    result = network.analyse(digits)
    recorded = [item["name"] for item in info.imported_layers[1:]]
    assert [layer for layer, _ in result.activations] == recorded
    assert sorted(recorded) == sorted(outputs)  # every layer of the model, each compared below
    for layer, ours in result.activations:
        close(ours, outputs[layer], layer)
    close(result.probabilities, probabilities, "probabilities")
    np.testing.assert_array_equal(result.probabilities.argmax(axis=1), probabilities.argmax(axis=1))
    close(result.saliency, attr.scaled(np.abs(saliency)), "saliency", rtol=1e-3)

    passed = network.gradients(digits, CLASS, layers=tuple(recorded), score=PROBABILITY)
    close(passed.pixels, at_pixels, "gradient at the pixels", rtol=1e-3)
    if network.final_softmax:  # at the output layer, the gradient is taken before its softmax, as a trained run's
        onehot = np.eye(10, dtype=np.float32)[CLASS]
        grads[network.output] = probabilities[:, CLASS, None] * (onehot - probabilities)
    assert network.final_softmax == (name != "mlp")
    for layer in recorded:
        close(passed.layers[layer][1], grads[layer], f"gradient at {layer}", rtol=1e-3)
    # The import's snapshot (Keras, float16) holds the same saliency: of the top class's probability, also for
    # a model that outputs logits.
    snapshot = run.snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH)
    probes = run.probes()["images"][snapshot[fmt.SNAPSHOT_PROBE_INDEX]]
    np.testing.assert_allclose(network.analyse(probes).saliency, snapshot[fmt.SNAPSHOT_SALIENCY].astype(np.float32),
                               atol=3e-3)
    # The stored answers come from Keras too: the engine gives every test digit its recorded class.
    stored = run.predictions()
    np.testing.assert_array_equal(network.analyse(stored["images"][:200]).probabilities.argmax(axis=1),
                                  stored["predicted"][:200])


def test_logit_gradient_and_gradcam_of_a_model_that_outputs_logits(imported, data):
    model, scale, run = imported["mlp"]
    network = imported_network(run.info(), run.weights(0))
    digits = data.x_test[:8]
    pixels = tf.convert_to_tensor(digits.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        logit = model(model_inputs(pixels, model, scale), training=False)[:, CLASS]
    close(network.gradients(digits, CLASS, score=LOGIT).pixels, tape.gradient(logit, pixels).numpy(), "logit")


def test_gradcam_runs_on_an_imported_conv_layer(imported, data):
    model, scale, run = imported["residual"]
    network = imported_network(run.info(), run.weights(0))
    conv = "conv2d" if "conv2d" in network.layer_names else next(
        name for name in network.layer_names if name.startswith("conv2d"))
    # The class's logit is the pre-softmax output of the last Dense: computed here from its Keras input.
    dense = model.layers[-1]
    inner = keras.Model(model.inputs[0], [model.get_layer(conv).output, dense.input])
    pixels = tf.convert_to_tensor(data.x_test[:4].astype(np.float32))
    with tf.GradientTape() as tape:
        feature, before = inner(model_inputs(pixels, model, scale), training=False)
        logit = (tf.matmul(before, dense.kernel) + dense.bias)[:, CLASS]
    expected = tape.gradient(logit, feature).numpy()
    maps, passed = attr.gradcam_maps(network, data.x_test[:4], conv, CLASS)
    close(passed.layers[conv][1], expected, "logit gradient at the conv layer", rtol=1e-3)
    weights = expected.mean(axis=(1, 2))
    close(maps, np.maximum(np.einsum("nhwk,nk->nhw", feature.numpy(), weights), 0), "grad-cam", rtol=1e-3)


def test_an_unsupported_layer_is_named(tmp_path):
    inputs = keras.Input(shape=(28, 28, 1))
    padded = keras.layers.ZeroPadding2D(2, name="pad")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(padded))
    path = tmp_path / "padded.keras"
    keras.Model(inputs, outputs).save(path)
    store = ArtifactStore(tmp_path / "store")
    import_model(path, store, DATASET, "padded", 255)
    run = store.run("padded")
    with pytest.raises(UnsupportedModel, match=r"layer pad \(class ZeroPadding2D\) is not supported by the "
                                               "in-browser engine"):
        imported_network(run.info(), run.weights(0))


def test_weights_stored_are_the_models(imported):
    model, _, run = imported["residual"]
    weights = run.weights(fmt.IMPORTED_WEIGHTS_EPOCH)
    expected = {fmt.weight_key(layer.name, variable.name): np.asarray(variable)
                for layer in model.layers for variable in layer.weights}
    assert sorted(weights) == sorted(expected)
    for key, value in expected.items():
        assert weights[key].dtype == np.float32
        np.testing.assert_array_equal(weights[key], value, err_msg=key)


def test_records_of_the_graph(imported):
    info = imported["residual"][2].info()
    layers = {item["name"]: item for item in info.imported_layers}
    adds = [item for item in info.imported_layers if item["class_name"] == "Add"]
    assert len(adds) == 1 and len(adds[0][fmt.LAYER_INBOUND]) == 2
    assert {layers[name]["class_name"] for name in adds[0][fmt.LAYER_INBOUND]} == {"Conv2D", "Activation"}
    specs = {spec.name: spec for spec in info.layers()}
    depthwise = next(spec for spec in specs.values() if spec.kind == "DepthwiseConv2D")
    assert (depthwise.activation, depthwise.detail) == ("relu", "3x3, stride 2, same")
    pool = next(spec for spec in specs.values() if spec.kind == "MaxPooling2D")
    assert pool.detail == "3x3"
    assert specs[info.imported_layers[0]["name"]].kind == "Input"
    assert specs[adds[0]["name"]].inbound == tuple(adds[0][fmt.LAYER_INBOUND])
    lenet = imported["lenet5"][2].info().layers()
    assert [spec.activation for spec in lenet if spec.kind == "Conv2D"] == ["tanh", "tanh"]
    assert [spec.detail for spec in lenet if spec.kind == "Conv2D"] == ["5x5, stride 1, same", "5x5, stride 1, valid"]


def test_a_run_imported_before_the_graph_was_recorded_says_so(imported):
    info = imported["convnet"][2].info()
    older = [{key: item[key] for key in fmt.LAYER_FIELDS} for item in info.imported_layers]
    with pytest.raises(UnsupportedModel, match="imported before its layer graph was recorded"):
        GraphNetwork(older, {}, 1, False)

