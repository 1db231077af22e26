"""``python -m pipeline import`` (issue 16): models written elsewhere import; hostile ones leave the store alone."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from pipeline.cli import main
from pipeline.data import load_dataset
from tests.conftest import run_pipeline

DATASET = "mnist-sample"


def mnist_convnet() -> keras.Model:
    """keras-io's ``mnist_convnet`` (https://keras.io/examples/vision/mnist_convnet/), inputs scaled to [0, 1]."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])


def mlp() -> keras.Model:
    """A functional MLP on flat (784,) raw pixels, ending in logits (no softmax)."""
    inputs = keras.Input(shape=(784,))
    hidden = keras.layers.Dense(32, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))


@pytest.fixture(scope="module")
def data():
    return load_dataset(DATASET)


@pytest.fixture(scope="module")
def models(tmp_path_factory, data) -> dict[str, tuple[Path, keras.Model]]:
    """Both models trained one epoch on about 500 digits of every class, saved as .keras files."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(3)
    every = slice(None, None, max(1, len(data.y_train) // 500))  # mnist-sample is sorted by class
    x, y = data.x_train[every].astype(np.float32), data.y_train[every]
    saved = {}
    for name, model, inputs in (("convnet", mnist_convnet(), x[..., None] / 255.0),
                                ("mlp", mlp(), x.reshape(-1, 784))):
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=name == "mlp"),
                      optimizer="adam", metrics=["accuracy"])
        model.fit(inputs, y, epochs=1, batch_size=32, verbose=0)
        path = folder / f"{name}.keras"
        model.save(path)
        saved[name] = (path, model)
    return saved


def import_run(capsys, store: Path, *args: str) -> tuple[int, str, str]:
    status = main(["import", *args, "--dataset", DATASET, "--store", str(store)])
    out, err = capsys.readouterr()
    return status, out, err


def store_files(store: Path) -> list[str]:
    return sorted(str(path.relative_to(store)) for path in store.rglob("*"))


def test_mnist_convnet_imports_and_its_accuracy_is_model_evaluate(tmp_path, models, data):
    path, model = models["convnet"]
    result = run_pipeline("import", str(path), "--dataset", DATASET, "--store", str(tmp_path),
                          "--run-id", "convnet", "--input-scale", "1")
    assert result.returncode == 0, result.stderr
    assert "run convnet imported: test accuracy" in result.stdout
    run = ArtifactStore(tmp_path).run("convnet")
    info = run.info()
    assert info.is_complete and info.is_imported and info.parsed_config is None
    x_test = data.x_test[..., None].astype(np.float32) / 255.0
    _loss, accuracy = model.evaluate(x_test, data.y_test, verbose=0)
    direct = float((model.predict(x_test, verbose=0).argmax(axis=1) == data.y_test).mean())
    assert info.metrics.test_accuracy == pytest.approx(direct, abs=1e-9)
    assert info.metrics.test_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert info.metrics.test_accuracy > 0.3  # trained: well above chance
    assert int(run.confusion().sum()) == len(data.y_test) and len(run.class_metrics()) == 10
    assert run.history().empty
    layers = [(item["class_name"], item["output_shape"], item["params"]) for item in info.imported_layers]
    assert layers == [("InputLayer", [28, 28, 1], 0), ("Conv2D", [26, 26, 32], 320), ("MaxPooling2D", [13, 13, 32], 0),
                      ("Conv2D", [11, 11, 64], 18496), ("MaxPooling2D", [5, 5, 64], 0), ("Flatten", [1600], 0),
                      ("Dropout", [1600], 0), ("Dense", [10], 16010)]
    snapshot = run.snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH)
    conv = model.layers[0]
    assert snapshot[fmt.ACTIVATION_PREFIX + conv.name].shape == (len(run.probes()["ids"]), 26, 26, 32)
    np.testing.assert_allclose(snapshot[fmt.KERNEL_PREFIX + conv.name].astype(np.float32),
                               np.asarray(conv.kernel), atol=2e-3)
    reloaded = keras.saving.load_model(run.model_path, safe_mode=True, compile=False)
    np.testing.assert_allclose(reloaded.predict(x_test[:20], verbose=0), model.predict(x_test[:20], verbose=0),
                               atol=1e-6)
    assert [path.name for path in tmp_path.iterdir()] == ["convnet"]  # no staging folder left


def test_an_mlp_on_flat_inputs_imports(tmp_path, models, data, capsys):
    path, model = models["mlp"]
    status, out, err = import_run(capsys, tmp_path, str(path), "--run-id", "mlp")
    assert status == 0, err
    assert "softmax applied" in out
    info = ArtifactStore(tmp_path).run("mlp").info()
    x_test = data.x_test.reshape(-1, 784).astype(np.float32)
    direct = float((model.predict(x_test, verbose=0).argmax(axis=1) == data.y_test).mean())
    assert info.metrics.test_accuracy == pytest.approx(direct, abs=1e-9)
    assert [item["class_name"] for item in info.imported_layers] == ["InputLayer", "Rescaling", "Dense", "Dense"]


def lambda_model(folder: Path) -> Path:
    inputs = keras.Input(shape=(28, 28, 1))
    flat = keras.layers.Flatten()(keras.layers.Lambda(lambda x: x / 255.0)(inputs))
    path = folder / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(flat)).save(path)
    return path


def truncated(folder: Path, models) -> Path:
    path = folder / "truncated.keras"
    content = models["convnet"][0].read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


def zip_bomb(folder: Path) -> Path:
    """A .keras-looking zip whose weights unpack to 600 MB of zeros (under a megabyte on disk)."""
    path = folder / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        with archive.open("model.weights.h5", "w", force_zip64=True) as member:
            block = bytes(2**20)
            for _ in range(600):
                member.write(block)
    return path


def wrong_input(folder: Path) -> Path:
    path = folder / "cifar.keras"
    keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(10, activation="softmax")]).save(path)
    return path


def wrong_output(folder: Path) -> Path:
    path = folder / "five.keras"
    keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                      keras.layers.Dense(5, activation="softmax")]).save(path)
    return path


def text_file(folder: Path) -> Path:
    path = folder / "notes.keras"
    path.write_text("not a model\n")
    return path


HOSTILE = {
    "lambda layer": (lambda folder, models: lambda_model(folder), "needs unsafe deserialisation"),
    "truncated file": (truncated, "is not a .keras archive"),
    "not a zip": (lambda folder, models: text_file(folder), "is not a .keras archive"),
    "zip bomb": (lambda folder, models: zip_bomb(folder), "unpacks to 600 MB, more than the 512 MB limit"),
    "missing file": (lambda folder, models: folder / "nowhere.keras", "does not exist"),
    "wrong input shape": (lambda folder, models: wrong_input(folder), "takes inputs of shape (32, 32, 3)"),
    "wrong number of outputs": (lambda folder, models: wrong_output(folder), "outputs shape (5,)"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_model_gets_one_line_and_the_store_is_unchanged(case, tmp_path, models, capsys):
    make, fragment = HOSTILE[case]
    folder = tmp_path / "in"
    folder.mkdir()
    path = make(folder, models)
    store = tmp_path / "store"
    ArtifactStore(store)
    store.mkdir()
    (store / "keep.txt").write_text("here before\n")
    before = store_files(store)
    status, out, err = import_run(capsys, store, str(path), "--run-id", "hostile")
    assert status == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err and out == ""
    assert store_files(store) == before


def test_a_lambda_model_is_refused_by_the_real_command(tmp_path, models):
    path = lambda_model(tmp_path)
    store = tmp_path / "store"
    result = run_pipeline("import", str(path), "--dataset", DATASET, "--store", str(store))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: model file")
    assert "needs unsafe deserialisation" in result.stderr and "Traceback" not in result.stderr
    assert os.listdir(store) == []


def test_a_failure_while_writing_publishes_nothing(tmp_path, models, capsys, monkeypatch):
    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    store = tmp_path / "store"
    store.mkdir()
    status, out, err = import_run(capsys, store, str(models["convnet"][0]), "--run-id", "full", "--input-scale", "1")
    assert status == 1 and out == ""
    assert err.strip().splitlines()[-1] == "error: import failed: OSError: [Errno 28] No space left on device"
    assert "Traceback" not in err and store_files(store) == []


def test_a_residual_cnn_with_batch_norm_imports_with_every_spatial_layer_captured(tmp_path, data, capsys):
    inputs = keras.Input(shape=(28, 28))
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    y = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same")(x)))
    x = keras.layers.Add()([x, y])
    x = keras.layers.AveragePooling2D(4)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "residual.keras"
    model.save(path)
    status, _out, err = import_run(capsys, tmp_path / "store", str(path), "--run-id", "residual")
    assert status == 0, err
    run = ArtifactStore(tmp_path / "store").run("residual")
    direct = float((model.predict(data.x_test.astype(np.float32), verbose=0).argmax(axis=1) == data.y_test).mean())
    assert run.info().metrics.test_accuracy == pytest.approx(direct, abs=1e-9)
    spatial = [layer.name for layer in model.layers if len(layer.output.shape) == 4]
    snapshot = run.snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH)
    assert sorted(key for key in snapshot if key.startswith(fmt.ACTIVATION_PREFIX)) == sorted(
        fmt.ACTIVATION_PREFIX + name for name in spatial)
    add = next(layer for layer in model.layers if isinstance(layer, keras.layers.Add))
    assert snapshot[fmt.ACTIVATION_PREFIX + add.name].shape == (len(run.probes()["ids"]), 28, 28, 8)


@pytest.mark.parametrize("args, fragment", [
    (["--input-scale", "100"], "argument --input-scale: invalid choice: 100"),
    (["--run-id", "../x"], "invalid run id '../x'"),
    (["--run-id", "taken"], "run 'taken' already exists"),
    (["--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["--class-names", "a" * 41], "class names must be 1-40 characters each"),
])
def test_bad_arguments_get_one_line_and_exit_2(args, fragment, tmp_path, models, capsys):
    store = tmp_path / "store"
    (store / "taken").mkdir(parents=True)
    before = store_files(store)
    status = main(["import", str(models["convnet"][0]), "--store", str(store), *args])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and fragment in err and len(err.splitlines()) == 1
    assert store_files(store) == before


def test_runs_lists_an_imported_model(tmp_path, models, capsys):
    status, _out, err = import_run(capsys, tmp_path, str(models["mlp"][0]), "--run-id", "listed")
    assert status == 0, err
    assert main(["runs", "--store", str(tmp_path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("listed"))
    assert row.split()[1:4] == ["complete", "mnist-sample", "import"]


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> dict[str, Path]:
    """The four models of issue 16 (tests/support/foreign_models.py), trained briefly and saved."""
    from tests.support.foreign_models import save_models

    return save_models(tmp_path_factory.mktemp("foreign"))


@pytest.mark.parametrize("name", ["convnet", "lenet5", "residual", "mlp"])
def test_each_foreign_model_imports_and_its_accuracy_is_model_evaluate(name, foreign, data, tmp_path, capsys):
    """Issue 16: keras-io's convnet, LeNet-5, a residual CNN with BatchNormalization and DepthwiseConv2D, an MLP."""
    from tests.support.foreign_models import INPUT_SCALES

    scale = INPUT_SCALES[name]
    status, out, err = import_run(capsys, tmp_path, str(foreign[name]), "--run-id", name, "--input-scale", str(scale))
    assert status == 0, err
    model = keras.saving.load_model(foreign[name], safe_mode=True, compile=False)
    pixels = data.x_test.astype(np.float32) / (255.0 if scale == 1 else 1.0)
    inputs = pixels.reshape((len(pixels), *model.inputs[0].shape[1:]))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=name == "mlp"), metrics=["accuracy"])
    _loss, accuracy = model.evaluate(inputs, data.y_test, verbose=0)
    info = ArtifactStore(tmp_path).run(name).info()
    assert info.is_complete and info.is_imported
    assert info.metrics.test_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert info.metrics.test_accuracy > 0.2, info.metrics  # trained: at least twice chance (0.1)
    # Every layer recorded with the layers feeding it, in an order where each comes after its inputs.
    names = [item["name"] for item in info.imported_layers]
    assert len(names) == len(model.layers) + (0 if any(type(layer).__name__ == "InputLayer" for layer in model.layers)
                                              else 1)
    for position, item in enumerate(info.imported_layers):
        assert set(item.get(fmt.LAYER_INBOUND, [])) <= set(names[:position]), item
