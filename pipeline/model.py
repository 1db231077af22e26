"""Build the CNN a :class:`~artifacts.config.TrainConfig` describes (Keras Functional API)."""

from __future__ import annotations

import keras
from keras import layers

from artifacts.config import IMAGE_SHAPE, NUM_CLASSES, TrainConfig

ROTATION_FACTOR = 0.05  # +-5% of a full turn, about +-18 degrees
TRANSLATION_FACTOR = 0.1  # +-10% of the image side, about +-3 pixels


def build_model(config: TrainConfig) -> keras.Model:
    """Return the uncompiled model for ``config``.

    The model takes raw pixels (0-255, float32, shape (28, 28, 1)) and scales them
    itself, so any reader of ``model.keras`` can feed it MNIST images as they are.
    Layer names match :func:`artifacts.config.layer_plan`.
    """
    inputs = keras.Input(shape=IMAGE_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    if config.augmentation:
        # Only active in training; identity at inference and in captures.
        x = layers.RandomRotation(ROTATION_FACTOR, fill_mode="constant", seed=config.seed, name="random_rotation")(x)
        x = layers.RandomTranslation(
            TRANSLATION_FACTOR, TRANSLATION_FACTOR, fill_mode="constant", seed=config.seed, name="random_translation"
        )(x)
    for index, block in enumerate(config.conv_blocks, start=1):
        x = layers.Conv2D(
            block.filters,
            block.kernel_size,
            strides=block.strides,
            padding=block.padding,
            activation=block.activation,
            name=f"conv_{index}",
        )(x)
        if block.pooling:
            x = layers.MaxPooling2D(pool_size=2, name=f"pool_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(config.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(config.dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="mnist_convnet")


CLASS_ACCURACY_METRIC = "class_accuracy"  # logs key: a (10,) vector; "val_" + it in fit's epoch logs


class ClassAccuracies(keras.metrics.Metric):
    """Accuracy per true class, as one (10,) vector: of the digits labelled k, the share predicted k.

    Computed inside ``fit``'s own validation pass, so per-class validation
    accuracy costs no second pass over the data. One vector metric rather than
    ten scalar ones: one argmax and two updates per step instead of ten and
    twenty, and one log value to convert after each batch instead of ten.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, name: str = CLASS_ACCURACY_METRIC, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.correct = self.add_variable(shape=(num_classes,), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(num_classes,), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
        members = ops.one_hot(y_true, self.num_classes, dtype="float32")
        self.total.assign_add(ops.sum(members, axis=0))
        self.correct.assign_add(ops.matmul(hit[None, :], members)[0])

    def result(self):
        # NaN, not 0, for a class with no digits: "not measured" is not "all wrong".
        ops = keras.ops
        return ops.where(self.total > 0, self.correct / ops.maximum(self.total, 1.0), float("nan"))

    def reset_state(self):
        self.correct.assign(keras.ops.zeros((self.num_classes,)))
        self.total.assign(keras.ops.zeros((self.num_classes,)))

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}


def compile_model(model: keras.Model, config: TrainConfig, class_metrics: bool = True) -> keras.Model:
    """Compile with Adam, sparse cross-entropy, accuracy and (optionally) per-class accuracy.

    With ``class_metrics``, fit's logs hold ``class_accuracy`` and ``val_class_accuracy``:
    (10,) vectors of per-class accuracy.
    """
    metrics: list = ["accuracy"]
    if class_metrics:
        metrics.append(ClassAccuracies())
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=metrics,
    )
    return model


def save_model(model: keras.Model, path) -> None:
    """Save ``model`` to ``path`` (a ``.keras`` file) so that plain Keras loads it, in safe mode too.

    :class:`ClassAccuracies` exists only for ``fit``'s logs; left in the compile
    config it would make ``keras.saving.load_model`` fail without this project's
    code. So the model is recompiled first with the same optimizer (its state is
    kept and saved), the same loss and built-in accuracy only.
    """
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    model.save(path)


def load_model(path) -> keras.Model:
    """Load a saved ``model.keras`` for inference (safe mode, not compiled)."""
    return keras.models.load_model(path, compile=False, safe_mode=True)
