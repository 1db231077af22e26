"""The on-disk format of a run: file names, schema version, validation rules.

Everything that names a file or a field of the store lives here, once; the reader
and the writer in :mod:`artifacts.store` both take their names from this module.
"""

from __future__ import annotations

import re

SCHEMA_VERSION = 1

MANIFEST = "manifest.json"
HISTORY = "history.jsonl"
PROGRESS = "progress.json"
HEARTBEAT = "heartbeat.json"
CLASS_METRICS = "class_metrics.csv"
CONFUSION = "confusion.npy"
PREDICTIONS = "predictions.npz"
PROBES = "probes.npz"
MODEL = "model.keras"
STDERR_LOG = "stderr.log"
SNAPSHOT_DIR = "snapshots"
SNAPSHOT_PATTERN = re.compile(r"^epoch_(\d{3,4})\.npz$")

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
STATUS_CANCELLED = "cancelled"
STATUSES = (STATUS_RUNNING, STATUS_COMPLETE, STATUS_FAILED, STATUS_CANCELLED)
FINISHED_STATUSES = (STATUS_COMPLETE, STATUS_FAILED, STATUS_CANCELLED)

# Columns of one history row, in order; per-class validation accuracy follows as
# val_class_0 ... val_class_9.
HISTORY_EPOCH = "epoch"
HISTORY_COLUMNS = (
    HISTORY_EPOCH,
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "epoch_seconds",
)
NUM_CLASSES = 10
CLASS_ACCURACY_COLUMNS = tuple(f"val_class_{k}" for k in range(NUM_CLASSES))
CLASS_METRICS_COLUMNS = ("class", "precision", "recall", "f1", "support")

# Snapshot npz keys: KERNEL_PREFIX + layer name holds that conv layer's kernel
# (kh, kw, in, out); ACTIVATION_PREFIX + layer name holds (probes, ...) activations.
KERNEL_PREFIX = "kernel__"
ACTIVATION_PREFIX = "act__"
SNAPSHOT_PROBE_INDEX = "probe_index"
SNAPSHOT_SALIENCY = "saliency"
SNAPSHOT_PROBABILITIES = "probabilities"

# The network's weights after each epoch (0 = the random initialisation), one npz per epoch:
# WEIGHTS_DIR/epoch_NNN.npz (named like snapshots), keys weight_key(layer, WEIGHT_KERNEL or WEIGHT_BIAS)
# for every Conv2D and Dense layer of the run's layer plan, in Keras' shapes: conv kernels
# (kh, kw, in, out), dense kernels (in, out), biases (out,). Every epoch but the last is stored in
# WEIGHTS_DTYPE (compact: a default run stays under 50 MB); the last in FINAL_WEIGHTS_DTYPE, so it
# answers as model.keras does.
WEIGHTS_DIR = "weights"
WEIGHT_KERNEL = "kernel"
WEIGHT_BIAS = "bias"
WEIGHT_ROLES = (WEIGHT_KERNEL, WEIGHT_BIAS)
WEIGHTS_DTYPE = "float16"
FINAL_WEIGHTS_DTYPE = "float32"


# What each conv filter looks for (issue 14), computed once at the end of training: MAXIMISED holds,
# for every conv layer L of the run's plan with F filters, MAXIMISED_IMAGE + L (F, 28, 28) in
# MAXIMISED_DTYPE, the input that excites each filter most in raw pixels 0-PIXEL_MAX;
# MAXIMISED_REACHED + L (F,) the activation each image reached and MAXIMISED_PROBE_MEAN + L (F,) the
# filter's mean activation over the probe digits (both the spatial mean of the filter's output map);
# MAXIMISED_SECONDS () how long the maximisation took. Runs written before it have no such file.
MAXIMISED = "maximised.npz"
MAXIMISED_IMAGE = "image__"
MAXIMISED_REACHED = "reached__"
MAXIMISED_PROBE_MEAN = "probe_mean__"
MAXIMISED_SECONDS = "seconds"
MAXIMISED_DTYPE = "float16"
PIXEL_MAX = 255.0

# Every test digit after each epoch (0 = the random initialisation), one npz per epoch:
# TEST_EPOCHS_DIR/epoch_NNN.npz (named like snapshots). TEST_PREDICTED: uint8 (n,) the class each
# of the run's n test digits is given; TEST_TRUE_PROBABILITY: float16 (n,) its true class's
# probability; TEST_FEATURE_INDEX: int32 (k,) ascending test indices of the digits whose
# EMBEDDING_LAYER activations TEST_FEATURES (float16 (k, dense units)) holds, k = min(n,
# EMBEDDING_MAX_DIGITS) (a seeded choice when n is larger; the same digits every epoch).
TEST_EPOCHS_DIR = "test_epochs"
TEST_PREDICTED = "predicted"
TEST_TRUE_PROBABILITY = "true_probability"
TEST_FEATURE_INDEX = "feature_index"
TEST_FEATURES = "features"
TEST_EPOCH_KEYS = (TEST_PREDICTED, TEST_TRUE_PROBABILITY, TEST_FEATURE_INDEX, TEST_FEATURES)
EMBEDDING_LAYER = "dense"  # the layer before the output
EMBEDDING_MAX_DIGITS = 2_000  # 2,000 x 128 float16 = 0.5 MB a full-MNIST epoch; a scatter stays readable


def weight_key(layer: str, role: str) -> str:
    """Return the npz key of ``layer``'s ``role`` (:data:`WEIGHT_KERNEL` or :data:`WEIGHT_BIAS`) in a weights file."""
    return f"{layer}__{role}"

# Progress phases written to progress.json ("phase"), in order; "starting" is the
# dashboard's name for a job whose trainer has not written progress yet.
PHASE_STARTING = "starting"
PHASE_LOADING = "loading data"
PHASE_TRAINING = "training"
PHASE_EVALUATING = "evaluating"
PHASES = (PHASE_STARTING, PHASE_LOADING, PHASE_TRAINING, PHASE_EVALUATING)

# Manifest keys (the typed view is artifacts.records.Manifest).
KEY_SCHEMA_VERSION = "schema_version"
KEY_RUN_ID = "run_id"
KEY_STATUS = "status"
KEY_CREATED = "created"
KEY_UPDATED = "updated"
KEY_FINISHED = "finished"
KEY_CONFIG = "config"
KEY_DATASET = "dataset"
KEY_METRICS = "metrics"
KEY_VERSIONS = "versions"
KEY_ARCHITECTURE = "architecture"
KEY_ERROR = "error"
KEY_HOST = "host"
KEY_PID = "pid"
KEY_SIZE_BYTES = "size_bytes"
KEY_COMMAND = "command"
# Key of the dataset's ``split`` notes: how test digits were held out of a source without a test split.
SPLIT_TEST_NOTE = "test_split"

# Keys of progress.json (the typed view is artifacts.records.Progress).
PROGRESS_KEYS = ("phase", "epoch", "epochs", "batch", "batches", "loss", "accuracy", "pid", "updated")

# Manifest key: the dataset's class names, index k naming class k. Runs written
# before it existed are MNIST digits (DIGIT_CLASS_NAMES).
CLASS_NAMES = "class_names"
DIGIT_CLASS_NAMES = tuple(str(k) for k in range(NUM_CLASSES))
FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                       "Ankle boot")

PREDICTION_KEYS = ("labels", "predicted", "probabilities", "images")
PROBE_KEYS = ("ids", "labels", "images")

MANIFEST_REQUIRED = ("schema_version", "run_id", "status", "created", "config", "dataset")

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")


def snapshot_name(epoch: int) -> str:
    """Return the file name of the snapshot taken after ``epoch`` (0 = untrained)."""
    return f"epoch_{epoch:03d}.npz"


def test_epoch_name(epoch: int) -> str:
    """Return the file name (inside :data:`TEST_EPOCHS_DIR`) of the test digits after ``epoch`` (0 = untrained)."""
    return snapshot_name(epoch)


def weights_name(epoch: int) -> str:
    """Return the file name (inside :data:`WEIGHTS_DIR`) of the weights after ``epoch`` (0 = untrained)."""
    return snapshot_name(epoch)


def is_valid_run_id(run_id: object) -> bool:
    """Return True when ``run_id`` is a string the store accepts as a run id.

    Letters, digits, ``.``, ``_`` and ``-``; 1 to 64 characters; not starting with
    ``.`` (so ``.``, ``..`` and hidden folders are never runs).
    """
    return isinstance(run_id, str) and RUN_ID_PATTERN.fullmatch(run_id) is not None


# -- Limits a reader enforces (issue 10): a damaged or hostile file raises ArtifactError
# instead of costing the reader unbounded time or memory.
MANIFEST_MAX_BYTES = 1_000_000  # a real manifest is about 5 kB
JSON_MAX_BYTES = 1_000_000  # progress, heartbeat and every other JSON file of the store
JSON_MAX_INT = 2**53  # larger integers lose precision as floats and overflow formatting
IMAGE_SHAPE = (28, 28)
MAX_TEST_DIGITS = 100_000  # when the manifest does not say how many test digits a run has
MAX_PROBES = 1_000  # probe_per_class is at most 100
NPZ_MAX_MEMBERS = 256
NPZ_MAX_BYTES = 512 * 2**20  # decompressed, for a file whose shapes the manifest cannot bound
HEARTBEAT_STALE_SECONDS = 30.0  # six missed heartbeats (the pipeline beats every 5 s)
HEARTBEAT_TIME = "time"  # heartbeat.json: {KEY_PID, KEY_HOST, HEARTBEAT_TIME (seconds since the epoch)}
# Manifest fields and the JSON types they must have when present (required ones in MANIFEST_REQUIRED).
MANIFEST_TYPES = {
    "schema_version": int,
    "run_id": str,
    "status": str,
    "created": str,
    "updated": str,
    "finished": str,
    "config": dict,
    "dataset": dict,
    "metrics": dict,
    "versions": dict,
    "architecture": list,
    "error": str,
    "host": str,
    "pid": int,
    "size_bytes": int,
    "source": str,
    "layers": list,
    "import": dict,
}

# Imported models (issue 16, ``python -m pipeline import``): a run whose manifest says
# KEY_SOURCE: SOURCE_IMPORTED holds a Keras model trained elsewhere. Its config is {} (it has no
# TrainConfig: readers must not derive layers from one), it has no history, and its weights folder
# holds one epoch (IMPORTED_WEIGHTS_EPOCH, below; imports before the layer graph have none);
# KEY_LAYERS lists the model's layers, each an object of LAYER_FIELDS: name, Keras class name, output
# shape without the batch axis (null for an unknown size), parameter count. KEY_IMPORT
# says how the model was imported (IMPORT_FIELDS). Its one snapshot (the model as imported) is
# IMPORTED_SNAPSHOT_EPOCH, with activations of every layer of spatial output and every Conv2D
# kernel. Runs without KEY_SOURCE were trained by this pipeline.
KEY_SOURCE = "source"
SOURCE_TRAINED = "trained"
SOURCE_IMPORTED = "imported"
SOURCES = (SOURCE_TRAINED, SOURCE_IMPORTED)
KEY_LAYERS = "layers"
LAYER_FIELDS = ("name", "class_name", "output_shape", "params")
MAX_LAYERS = 1_000
MAX_LAYER_NAME = 200
# The layer graph (imports since the numpy engine reads them; older imported runs lack both keys):
# LAYER_INBOUND, the names of the layers feeding this one in call order (earlier layers of the list;
# [] for the input, and for a layer whose inputs could not be told), and LAYER_CONFIG, a subset of
# Keras' get_config() of the keys LAYER_CONFIG_KEYS (JSON: tuples as lists). A layer of a recorded graph
# outputs at most MAX_LAYER_OUTPUT values a digit; its weights are at most MAX_IMPORTED_WEIGHTS values.
# IMPORTED_WEIGHTS_EPOCH's weights file holds, for every layer with weights,
# weight_key(layer name, role), the role being the Keras variable's name (IMPORTED_WEIGHT_ROLES), in
# Keras' shapes, float32: Conv2D kernel (kh, kw, in, filters) and bias; DepthwiseConv2D kernel
# (kh, kw, in, depth_multiplier) and bias (in * depth_multiplier,); Dense kernel (in, units) and bias;
# BatchNormalization gamma, beta, moving_mean, moving_variance (channels,). A bias exists when
# use_bias is true, gamma when scale is, beta when center is.
LAYER_INBOUND = "inbound"
LAYER_CONFIG = "config"
LAYER_OPTIONAL_FIELDS = (LAYER_INBOUND, LAYER_CONFIG)
MAX_INBOUND = 64
MAX_LAYER_OUTPUT = 2**22  # values of one layer's output for one digit, in a recorded graph (28x28x512 is 401,408)
MAX_IMPORTED_WEIGHTS = 2**26  # values of an imported model's weights file (256 MB in float32)
LAYER_CONFIG_KEYS = ("activation", "alpha", "axis", "center", "data_format", "depth_multiplier", "dilation_rate",
                     "epsilon", "filters", "keepdims", "kernel_size", "max_value", "negative_slope", "offset",
                     "padding", "pool_size", "rate", "scale", "strides", "target_shape", "threshold", "units",
                     "use_bias")
IMPORTED_WEIGHT_ROLES = {
    "Conv2D": ("kernel", "bias"),
    "DepthwiseConv2D": ("kernel", "bias"),
    "Dense": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}
IMPORTED_WEIGHTS_EPOCH = 0
KEY_IMPORT = "import"
IMPORT_FIELDS = ("file", "input_shape", "input_scale", "softmax_applied")
IMPORTED_SNAPSHOT_EPOCH = 0


def is_imported(manifest: object) -> bool:
    """Return True when a manifest (a dict) records an imported model rather than a trained run."""
    return isinstance(manifest, dict) and manifest.get(KEY_SOURCE) == SOURCE_IMPORTED


def class_names(manifest: object) -> tuple[str, ...]:
    """Return a run's class names from its manifest (``NUM_CLASSES`` strings, class k at index k).

    A manifest without the field (runs from before it existed), or with a malformed
    one, gives the MNIST digits "0".."9".
    """
    names = manifest.get(CLASS_NAMES) if isinstance(manifest, dict) else None
    if (isinstance(names, list) and len(names) == NUM_CLASSES
            and all(isinstance(name, str) and 0 < len(name) <= 40 for name in names)):
        return tuple(names)
    return DIGIT_CLASS_NAMES


def is_digit_names(names: tuple[str, ...] | list[str]) -> bool:
    """Return True when ``names`` are the MNIST digits (pages then say "digit" rather than "class")."""
    return tuple(names) == DIGIT_CLASS_NAMES
