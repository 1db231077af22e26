"""Models no one here wrote the architecture of (issue 16), built, briefly trained and saved as ``.keras`` files.

Run as ``python -m tests.support.foreign_models FOLDER [NAME ...]`` so that a test process which must not
import TensorFlow (the dashboard's) gets the files from a subprocess; pipeline tests may call
:func:`save_models` directly.

The four models, each from a public source's architecture:

- ``convnet``: keras-io's ``mnist_convnet`` (Sequential, inputs scaled to [0, 1]).
- ``lenet5``: LeCun et al.'s LeNet-5 (tanh, 5x5 kernels, 2x2 average pooling; inputs scaled to [0, 1]).
- ``residual``: a small residual CNN on (28, 28) raw pixels: Reshape, Rescaling, Conv2D, BatchNormalization,
  Activation, a residual Add, DepthwiseConv2D, MaxPooling2D of size 3, Dense.
- ``mlp``: an MLP on flat (784,) raw pixels ending in logits (no softmax).
"""

from __future__ import annotations

import sys
from pathlib import Path

# name -> the input scale the model takes (``--input-scale``: 255 raw pixels, 1 pixels / 255)
INPUT_SCALES = {"convnet": 1, "lenet5": 1, "residual": 255, "mlp": 255}
TRAIN_DIGITS = 500
DATASET = "mnist-sample"


def build(name: str):
    """Return the untrained model called ``name`` (a key of :data:`INPUT_SCALES`).

    Raises:
        KeyError: an unknown name.
    """
    import keras
    from keras import layers

    if name == "convnet":  # https://keras.io/examples/vision/mnist_convnet/
        return keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ])
    if name == "lenet5":  # LeCun et al. 1998: C1 S2 C3 S4 C5(F) F6 output
        return keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="tanh"),
            layers.Dense(84, activation="tanh"),
            layers.Dense(10, activation="softmax"),
        ])
    if name == "residual":
        inputs = keras.Input(shape=(28, 28))
        x = layers.Rescaling(1 / 255)(layers.Reshape((28, 28, 1))(inputs))
        x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        y = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(x))
        x = layers.Add()([x, layers.Activation("relu")(y)])
        x = layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(3)(x)
        outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
        return keras.Model(inputs, outputs, name="residual")
    if name == "mlp":
        inputs = keras.Input(shape=(784,))
        hidden = layers.Dense(32, activation="relu")(layers.Rescaling(1 / 255)(inputs))
        return keras.Model(inputs, layers.Dense(10)(hidden), name="mlp")
    raise KeyError(name)


def save_models(folder: Path, names=tuple(INPUT_SCALES), epochs: int = 3) -> dict[str, Path]:
    """Build, train ``epochs`` on about :data:`TRAIN_DIGITS` digits of every class, and save each model.

    Returns:
        name -> the saved ``.keras`` file in ``folder``.
    """
    import keras
    import numpy as np

    from pipeline.data import load_dataset

    data = load_dataset(DATASET)
    every = slice(None, None, max(1, len(data.y_train) // TRAIN_DIGITS))  # mnist-sample is sorted by class
    pixels, labels = data.x_train[every].astype(np.float32), data.y_train[every]
    folder.mkdir(parents=True, exist_ok=True)
    saved = {}
    for name in names:
        keras.utils.set_random_seed(3)
        model = build(name)
        shape = tuple(model.inputs[0].shape[1:])
        inputs = (pixels / 255.0 if INPUT_SCALES[name] == 1 else pixels).reshape((-1, *shape))
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=name == "mlp"),
                      optimizer="adam", metrics=["accuracy"])
        model.fit(inputs, labels, epochs=epochs, batch_size=32, verbose=0)
        saved[name] = folder / f"{name}.keras"
        model.save(saved[name])
    return saved


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for path in save_models(target, tuple(sys.argv[2:]) or tuple(INPUT_SCALES)).values():
        print(path)
