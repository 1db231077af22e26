"""The Activation explorer's pure logic: layers, channels, probes and the maps to show.

Imported by ``dashboard/pages/activations.py`` and directly by tests (no Dash page registration here).
"""

from __future__ import annotations

import numpy as np

from artifacts import Manifest
from artifacts.format import ACTIVATION_PREFIX, SNAPSHOT_PROBABILITIES, SNAPSHOT_PROBE_INDEX, SNAPSHOT_SALIENCY
from dashboard.figures.activations import mosaic_frame, probability_parts, typed_array
from dashboard.ui.epochs import nearest_epoch


class ViewError(Exception):
    """A view that cannot be drawn; the message is for the user."""


def spatial_layers(manifest: Manifest) -> list[str]:
    """Return the conv and pooling layers (those with feature maps), in network order.

    Raises:
        ArtifactError: the run's layers cannot be read.
    """
    return [spec.name for spec in manifest.layers() if spec.kind in ("Conv2D", "MaxPooling2D")]


def flat_layers(manifest: Manifest) -> list[str]:
    """Return the captured dense layers, in network order (the output layer last)."""
    return [spec.name for spec in manifest.layers() if spec.kind == "Dense"]


def layer_channels(manifest: Manifest, layer: str) -> int:
    """Return how many channels ``layer``'s feature maps have.

    Raises:
        ValueError: the layer is not in the run's network.
        ArtifactError: the run's layers cannot be read.
    """
    for spec in manifest.layers():
        if spec.name == layer:
            return int(spec.output_shape[-1])
    raise ValueError(f"run has no layer {layer!r}")


def choose_channel(raw: object, channels: int) -> tuple[int, str | None]:
    """Return the channel to show for a URL's ``channel`` value, and a message when it cannot be shown.

    Args:
        raw: the URL's value (None when absent: channel 0, no message).
        channels: the layer's channel count.
    """
    if raw is None or raw == "":
        return 0, None
    try:
        channel = int(str(raw).strip())
    except ValueError:
        channel = -1
    if not 0 <= channel < channels:
        return 0, f"channel={str(raw)[:20]} in the address is not a channel of this layer (0 to {channels - 1}): " \
                  "showing channel 0."
    return channel, None


def history_positions(run) -> set[int]:
    """Return the probe positions stored in every epoch's snapshot (the per-epoch subset)."""
    epochs = run.snapshot_epochs()
    if len(epochs) < 2:
        return set(range(len(run.probes()["labels"])))
    return {int(index) for index in run.snapshot(epochs[0])[SNAPSHOT_PROBE_INDEX]}


def default_probe(labels: np.ndarray, digit, with_history: set[int], near: int | None = None) -> int | None:
    """Return the probe to show for a class: the one nearest ``near`` with history, else any of the class."""
    candidates = [int(p) for p in range(len(labels)) if digit in (None, "all") or int(labels[p]) == digit]
    if not candidates:
        return None
    preferred = [p for p in candidates if p in with_history] or candidates
    return min(preferred, key=lambda p: abs(p - (near if near is not None else -1)))


def load_row(run, probe: int, epoch) -> tuple[dict, int, int]:
    """Return (snapshot, row of ``probe`` in it, epoch shown).

    ``epoch`` is snapped to the nearest stored epoch; the last epoch is shown when that one lacks the probe.

    Raises:
        ViewError: the probe is in no snapshot.
        ArtifactError: a snapshot cannot be read.
    """
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ViewError("This run stored no snapshots.")
    wanted = nearest_epoch(epochs, epoch)
    for shown in dict.fromkeys([epochs[-1] if wanted is None else wanted, epochs[-1]]):
        snapshot = run.snapshot(shown)
        rows = np.flatnonzero(snapshot[SNAPSHOT_PROBE_INDEX] == probe)
        if rows.size:
            return snapshot, int(rows[0]), shown
    raise ViewError(f"Probe {probe} is not stored in this run.")


def picker_positions(labels: np.ndarray, digit) -> np.ndarray:
    """Return the probe positions the picker shows for a digit filter."""
    return np.flatnonzero(labels == digit) if digit != "all" else np.arange(len(labels))


def layer_maps(run, layer: str, probe: int, epoch, average: bool, digit) -> tuple[np.ndarray, str]:
    """Return the (h, w, c) maps to show for a layer and a caption: one probe's, or the class mean.

    ``epoch`` is snapped to the nearest stored epoch.
    """
    if average:
        epochs = run.snapshot_epochs()
        if not epochs:
            raise ViewError("This run stored no snapshots.")
        wanted = nearest_epoch(epochs, epoch)
        epoch = epochs[-1] if wanted is None else wanted
        snapshot = run.snapshot(epoch)
        labels = run.probes()["labels"][snapshot[SNAPSHOT_PROBE_INDEX]]
        rows = np.flatnonzero(labels == digit) if digit != "all" else np.arange(len(labels))
        if not rows.size:
            raise ViewError(f"No probe digit of class {digit} is stored at epoch {epoch}.")
        maps = snapshot[ACTIVATION_PREFIX + layer][rows].astype(np.float32).mean(axis=0)
        which = f"class {digit}" if digit != "all" else "all classes"
        return maps, f"{layer}, mean of {rows.size} digits of {which}, epoch {epoch}"
    snapshot, row, shown = load_row(run, probe, epoch)
    return snapshot[ACTIVATION_PREFIX + layer][row], f"{layer}, probe {probe}, epoch {shown}"


def dense_layer(manifest: Manifest, snapshot: dict) -> str | None:
    """Return the first captured dense layer before the output (the one the dense bars show), or None."""
    names = [name for name in flat_layers(manifest) if name != "output" and ACTIVATION_PREFIX + name in snapshot]
    return names[0] if names else None


def surface_frame(maps: np.ndarray, channel, caption: str) -> dict:
    """Return one epoch's frame of the chosen channel's views: its map (typed array) and both titles."""
    chosen = channel if isinstance(channel, int) and 0 <= channel < maps.shape[2] else 0
    return {"z": typed_array(maps[:, :, chosen]), "title": f"Channel {chosen} in 3D: {caption}",
            "map_title": f"Channel {chosen}: {caption}"}


def layer_frames(run, probe: int, layer: str, channel, average: bool, digit,
                 mosaic: bool = True) -> dict[str, dict]:
    """Return every drawable epoch's ``{"surface": surface_frame, "mosaic": ...}`` (the mosaic only with ``mosaic``).

    What a layer or mode change resends of :func:`epoch_frames` (a channel change: the surface part).

    Raises:
        ArtifactError: a snapshot cannot be read.
    """
    frames = {}
    for epoch in run.snapshot_epochs():
        try:
            maps, caption = layer_maps(run, layer, probe, epoch, average, digit)
        except (ViewError, KeyError, IndexError, ValueError):
            continue
        frames[str(epoch)] = {"surface": surface_frame(maps, channel, caption)}
        if mosaic:
            frames[str(epoch)]["mosaic"] = {**mosaic_frame(maps), "title": f"Feature maps: {caption}"}
    return frames


def epoch_frames(run, manifest: Manifest, probe: int, layer: str, channel, average: bool, digit) -> dict:
    """Return every stored epoch's frame of the views that follow the epoch slider, for the browser to swap.

    Sent once per probe, layer, channel or mode; dashboard/assets/frames.js draws the dragged
    epoch's frame with no request to the server. A frame holds the feature-map mosaic (palette
    PNG and colour range), the chosen channel's map (its 2D map and 3D surface), the saliency map, the
    class probabilities (heights, colours, labels, title), the dense layer's outputs, the
    summary badges and the "only the final epoch" note; arrays are float32 typed-array specs.

    Returns:
        ``{"epochs": [...], "frames": {"<epoch>": frame}}``; an epoch that cannot be drawn has no frame.

    Raises:
        ViewError: the run stored no snapshots.
        ArtifactError: the probes cannot be read.
    """
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ViewError("This run stored no snapshots.")
    probes = run.probes()
    label = int(probes["labels"][probe])
    names = manifest.class_names
    frames = {}
    for epoch in epochs:
        try:
            snapshot, row, shown = load_row(run, probe, epoch)
            maps, caption = layer_maps(run, layer, probe, epoch, average, digit)
        except (ViewError, KeyError, IndexError, ValueError):
            continue
        probabilities = snapshot[SNAPSHOT_PROBABILITIES][row]
        parts = probability_parts(probabilities, label, names)
        dense = dense_layer(manifest, snapshot)
        values = snapshot[ACTIVATION_PREFIX + dense][row] if dense else None
        predicted = parts["predicted"]
        frames[str(epoch)] = {
            "mosaic": {**mosaic_frame(maps), "title": f"Feature maps: {caption}"},
            "surface": surface_frame(maps, channel, caption),
            "saliency": typed_array(snapshot[SNAPSHOT_SALIENCY][row]),
            "probabilities": {"y": typed_array(probabilities), "colors": parts["colors"], "text": parts["text"],
                              "title": parts["title"]},
            "dense": None if values is None else {
                "y": typed_array(values),
                "title": f"Dense layer '{dense}': {len(values)} units, probe {probe}, epoch {shown}"},
            "summary": {"label": f"label {names[label]}",
                        "predicted": f"predicted {names[predicted]} ({float(probabilities[predicted]):.0%})",
                        "right": predicted == label},
            "note": None if shown == epoch else
            f"Only the final epoch ({shown}) is stored for probe {probe}, so the slider cannot replay it.",
        }
    return {"epochs": epochs, "frames": frames}


def layer_size(manifest: Manifest, layer: str) -> tuple[int, int]:
    """Return the (height, width) of ``layer``'s feature maps.

    Raises:
        ValueError: the layer is not in the run's network or has no spatial maps.
        ArtifactError: the run's layers cannot be read.
    """
    for spec in manifest.layers():
        if spec.name == layer and len(spec.output_shape) == 3:
            return int(spec.output_shape[0]), int(spec.output_shape[1])
    raise ValueError(f"run has no spatial layer {layer!r}")
