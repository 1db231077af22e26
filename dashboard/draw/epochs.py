"""The Draw page across training: a run's network at any stored epoch, and test digits by number.

Every epoch's weights are stored (:meth:`artifacts.Run.weights`; epoch 0 is the random
initialisation, float16, the last epoch float32). The numpy engine of :mod:`dashboard.inference`
answers from any of them: this module keeps the engines a process has built (bounded by count
and by bytes of weights), computes one digit's class probabilities at every stored epoch, and
reads a test digit by the number the URL gives (``/draw?run=ID&test=42``), with a message for
a number that is not one of the run's test digits. No TensorFlow: runs without stored weights
have no epochs here, and the page says so.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qs

import numpy as np

from artifacts import ArtifactError, Run
from artifacts import format as fmt
from artifacts.config import captured_layers
from dashboard.draw.live_model import NUMPY, Analysis, LiveModel, ModelUnavailable, get_live_model

CACHE_MAX_ENGINES = 64  # engines kept per process: four default runs' 16 epochs
CACHE_MAX_BYTES = 96 * 2**20  # their float32 weights; a default run's 16 epochs take 14 MB
TEST_NUMBER = re.compile(r"[0-9]{1,9}")

_LOADING = threading.Lock()  # held while an engine is read (never inside _LOCK)
_ENGINES: OrderedDict[tuple, tuple[LiveModel, int]] = OrderedDict()
_LOCK = threading.Lock()


def stored_epochs(run: Run) -> list[int]:
    """Return the epochs whose weights the run stored, ascending (empty for runs from before they were).

    Raises:
        ModelUnavailable: the weights folder cannot be listed.
    """
    try:
        return run.weight_epochs()
    except OSError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' cannot be listed ({error.strerror}).") from None


def final_epoch(run: Run) -> int:
    """Return the run's last epoch (its config's epoch count).

    Raises:
        ModelUnavailable: the manifest cannot be read.
    """
    try:
        return run.info().config.epochs
    except (ArtifactError, TypeError, ValueError) as error:
        raise ModelUnavailable(f"Run '{run.run_id}' has a config this version cannot read ({error}).") from None


def model_at(run: Run, epoch: object) -> LiveModel:
    """Return the run's network after ``epoch``: the page's live model for None or the last epoch.

    Args:
        epoch: a stored epoch, or None (the last). Any other value (a client may send anything) is refused.

    Raises:
        ModelUnavailable: not a stored epoch, or its weights cannot be read or do not fit the network.
    """
    if epoch is None:
        return get_live_model(run)
    number = whole_number(epoch)
    if _is_imported(run):  # one network, as imported
        if number != fmt.IMPORTED_WEIGHTS_EPOCH:
            raise ModelUnavailable(f"Run '{run.run_id}' is an imported model: it has no epoch {str(epoch)[:20]}.")
        return get_live_model(run)
    if number is not None and number == final_epoch(run):
        return get_live_model(run)
    if number is None or number not in stored_epochs(run):
        raise ModelUnavailable(f"Run '{run.run_id}' has no stored weights of epoch {str(epoch)[:20]}.")
    return _engine(run, number)


def _is_imported(run: Run) -> bool:
    try:
        return run.info().is_imported
    except ArtifactError:
        return False  # the trained run's path says why


def whole_number(value: object) -> int | None:
    """Return ``value`` as a whole number (an int, or a float with no fraction), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _engine(run: Run, epoch: int) -> LiveModel:
    path = run.weights_path(epoch)
    try:
        stat = path.stat()
    except OSError:
        raise ModelUnavailable(f"Run '{run.run_id}' has no stored weights of epoch {epoch}.") from None
    # A rewritten file (another run under the same id, a retrained run) changes the inode or the time.
    key = (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _LOCK:
        if key in _ENGINES:
            _ENGINES.move_to_end(key)
            return _ENGINES[key][0]
    # One load at a time: a stroke's card asking while the page's warm-up reads the same epochs waits
    # for the engine instead of reading the file a second time.
    with _LOADING:
        with _LOCK:
            if key in _ENGINES:
                _ENGINES.move_to_end(key)
                return _ENGINES[key][0]
        try:
            config = run.info().config
            layer_names = captured_layers(config)
        except (ArtifactError, TypeError, ValueError) as error:
            raise ModelUnavailable(f"Run '{run.run_id}' has a config this version cannot read ({error}).") from None
        return _load(run, epoch, key, config, layer_names)


def _load(run: Run, epoch: int, key: tuple, config, layer_names: list[str]) -> LiveModel:
    """Read one epoch's weights into a new engine and keep it in the cache under ``key``.

    Raises:
        ModelUnavailable: the weights cannot be read or do not fit the network.
    """
    from dashboard.inference import Network

    try:
        weights = run.weights(epoch)
        network = Network(config, weights)
    except ArtifactError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' after epoch {epoch} cannot be read: "
                               f"{error.reason}.") from None
    except ValueError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' after epoch {epoch} do not fit its network "
                               f"({error}).") from None
    live = LiveModel(network.analyse, layer_names, NUMPY)
    size = sum(4 * array.size for array in weights.values())  # the engine computes in float32
    with _LOCK:
        _ENGINES[key] = (live, size)
        while len(_ENGINES) > CACHE_MAX_ENGINES or sum(kept for _, kept in _ENGINES.values()) > CACHE_MAX_BYTES:
            _ENGINES.popitem(last=False)
    return live


@dataclass(frozen=True)
class AcrossEpochs:
    """One digit through the network after every stored epoch.

    Attributes:
        epochs: the stored epochs, ascending.
        probabilities: float32 (len(epochs), classes), the class probabilities after each.
        first: the first stored epoch's (epoch 0, the untrained network's) whole analysis.
        last: the last stored epoch's.
    """

    epochs: list[int]
    probabilities: np.ndarray
    first: Analysis
    last: Analysis


def across_epochs(run: Run, pixels: np.ndarray) -> AcrossEpochs:
    """Return one digit's answers after every stored epoch: one pass of each epoch's network.

    Args:
        pixels: (28, 28) raw pixels 0-255.

    Raises:
        ModelUnavailable: no stored weights, or an epoch's weights cannot be used.
        ValueError: ``pixels`` is not 28x28.
    """
    epochs = stored_epochs(run)
    if not epochs:
        raise ModelUnavailable(f"Run '{run.run_id}' stored no weights per epoch.")
    image = np.asarray(pixels, dtype=np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, not {image.shape}")
    # The probe's whole result (what LiveModel.analyse unpacks): the first and last epochs' saliency
    # and activations come from the same pass as their probabilities.
    last = final_epoch(run)  # read once: model_at would read the manifest again for every epoch
    results = [(get_live_model(run) if epoch == last else _engine(run, epoch)).probe(image[None]) for epoch in epochs]
    first, last = (Analysis(result.probabilities[0], [(name, values[0]) for name, values in result.activations],
                            result.saliency[0]) for result in (results[0], results[-1]))
    probabilities = np.stack([result.probabilities[0] for result in results]).astype(np.float32, copy=False)
    return AcrossEpochs(epochs, probabilities, first, last)


def settled_since(epochs: list[int], probabilities: np.ndarray) -> int:
    """Return the first epoch from which the answer (the top class) is the last epoch's at every later epoch.

    Args:
        epochs: ascending, not empty.
        probabilities: (len(epochs), classes).

    Returns:
        That epoch (the last one when the answer changed there).
    """
    answers = np.asarray(probabilities).argmax(axis=1)
    since = len(answers) - 1
    while since > 0 and answers[since - 1] == answers[-1]:
        since -= 1
    return epochs[since]


def epoch_choice(run: Run, raw: object) -> tuple[list[int], int | None, str | None]:
    """Return the stored epochs, the one a URL's ``epoch`` value asks for, and a message when it is not one.

    Args:
        raw: the URL's value (None when absent: the last stored epoch).

    Returns:
        (epochs, epoch, message); epoch is None when the run stored no weights per epoch.
    """
    from dashboard.ui.epochs import choose_epoch

    try:
        epochs = stored_epochs(run)
    except ModelUnavailable as error:
        return [], None, str(error)
    if not epochs:
        return [], None, None
    epoch, message = choose_epoch(raw, epochs)
    return epochs, epoch, message


def parse_test_number(raw: object) -> tuple[int | None, str | None]:
    """Parse a URL's ``test`` value: (number, None), (None, a message), or (None, None) when there is none."""
    if raw is None or raw == "":
        return None, None
    text = str(raw).strip()
    shown = text[:20] + ("…" if len(text) > 20 else "")
    if text.startswith("-") and TEST_NUMBER.fullmatch(text[1:]):
        return None, f"test={shown} in the address: test digits are numbered from 0, not below."
    if not TEST_NUMBER.fullmatch(text):
        if text.isdigit():
            return None, f"test={shown} in the address is far beyond this run's test digits."
        return None, f"test={shown} in the address is not a test digit's number (0, 1, 2, …)."
    return int(text), None


def read_test_digit(run: Run, raw: object) -> tuple[dict | None, str | None]:
    """Return the Draw page's digit (its ``DIGIT`` store value) for a URL's ``test`` value, or a message.

    Returns:
        (``{"pixels", "source": "test", "label", "index"}``, None); (None, a message for the page) for a
        value that is not a number, is negative or beyond the run's test digits, or unreadable predictions;
        (None, None) when there is no value.
    """
    index, message = parse_test_number(raw)
    if index is None:
        return None, message
    try:
        predictions = run.predictions()
    except ArtifactError as error:
        return None, f"The test digits of run '{run.run_id}' cannot be read: {error.reason}."
    count = len(predictions["images"])
    if count == 0:
        return None, f"Run '{run.run_id}' stored no test digits."
    if index >= count:
        return None, (f"test={index} in the address: run '{run.run_id}' has {count:,} test digits, "
                      f"numbered 0 to {count - 1:,}.")
    return {"pixels": predictions["images"][index].tolist(), "source": "test",
            "label": int(predictions["labels"][index]), "index": index}, None


def url_state(run: Run, digit: object, epoch: object, shown_query: object = None) -> dict:
    """Return the Draw page's URL parameters for the epoch (when not the last) and a test digit's number.

    Args:
        shown_query: the query the address bar shows: while there is no digit yet (the URL's test digit
            still loading, or refused with a message) its ``test`` stays.
    """
    state: dict = {"epoch": None, "test": None}
    if not isinstance(digit, dict) and isinstance(shown_query, str):
        raw = parse_qs(shown_query.lstrip("?")).get("test")
        state["test"] = parse_test_number(raw[0])[0] if raw else None
    try:
        number = whole_number(epoch)
        if number is not None and number != final_epoch(run):
            state["epoch"] = number
    except ModelUnavailable:
        pass  # the page shows why; the URL only loses the epoch
    if isinstance(digit, dict) and digit.get("source") == "test" and whole_number(digit.get("index")) is not None:
        state["test"] = whole_number(digit["index"])
    return state


def clear_cache() -> None:
    """Forget every engine built (tests, benchmarks)."""
    with _LOCK:
        _ENGINES.clear()
