"""Architecture, Activations and the report on four models no one here wrote the architecture of (issue 16).

Each model of :mod:`tests.support.foreign_models` (keras-io's convnet, LeNet-5, a residual CNN with
BatchNormalization, Add and DepthwiseConv2D, an MLP on (784,) inputs) is built and trained in one
subprocess and imported with the real ``python -m pipeline import`` (TensorFlow stays out of this
process). The pages are then drawn from the layers and the snapshot each run recorded: what is
expected is read from the run's files and from what the importer printed (Keras's parameter count).
"""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.pages.logic import activations, model
from dashboard.report import build_report
from dashboard.ui import attribution_card
from tests.dashboard.test_pages_model_activations import call, find
from tests.dashboard.test_pages_runs_metrics import flatten, has_class, props_by_id, text_of
from tests.support.foreign_models import INPUT_SCALES

MODELS = tuple(INPUT_SCALES)
UNSUPPORTED = "does not yet support imported models"
PARAMETERS = re.compile(r"([\d,]+) parameters")


@pytest.fixture(scope="module")
def foreign(foreign_runs) -> tuple[Path, dict[str, int]]:
    """A store holding the four models imported with the real command, and each model's parameter count as
    Keras reported it (the importer's "N parameters" line): the session's (tests/conftest.py)."""
    return foreign_runs


@pytest.fixture
def shown(foreign, use_store):
    store, totals = foreign
    use_store(store)
    import dashboard.app  # noqa: F401  (registers the pages' bodies)

    return ArtifactStore(store), totals


def recorded(store: ArtifactStore, name: str) -> tuple[list[dict], dict]:
    """Return the run's layer records as the importer wrote them (the manifest's list) and its one snapshot."""
    run = store.run(name)
    assert run.snapshot_epochs() == [fmt.IMPORTED_SNAPSHOT_EPOCH]
    return run.manifest()[fmt.KEY_LAYERS], run.snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH)


def spatial_names(layers: list[dict], snapshot: dict) -> list[str]:
    """Return the layers whose activations the snapshot holds, in the recorded order; checks they are all of them."""
    names = [layer["name"] for layer in layers if fmt.ACTIVATION_PREFIX + layer["name"] in snapshot]
    stored = {key[len(fmt.ACTIVATION_PREFIX):] for key in snapshot if key.startswith(fmt.ACTIVATION_PREFIX)}
    assert set(names) == stored
    return names


def table_rows(page) -> list[list[str]]:
    """Return the layer table's body rows and footer row as the cells' texts."""
    table = next(node for node in flatten(page) if "model-layer-table" in str(node["props"].get("className", "")))
    head, body, foot = table["props"]["children"]
    rows = [*body.children, *(foot.children if isinstance(foot.children, list) else [foot.children])]
    return [[text_of(cell).strip() for cell in row.children] for row in rows]


def hidden_ids(page) -> set[str]:
    """Return the ids of the components inside a hidden (display: none) part of a layout tree."""
    found: set[str] = set()

    def walk(node, hidden: bool):
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item, hidden)
        elif hasattr(node, "to_plotly_json"):
            hidden = hidden or getattr(node, "style", None) == {"display": "none"}
            if hidden and isinstance(getattr(node, "id", None), str):
                found.add(node.id)
            walk(getattr(node, "children", None), hidden)

    walk(page, False)
    return found


@pytest.mark.parametrize("name", MODELS)
def test_the_architecture_page_lists_every_recorded_layer_and_draws_one_block_each(shown, name):
    store, totals = shown
    layers, snapshot = recorded(store, name)
    page = model.layout(run=name)
    assert not has_class(page, "error-card") and UNSUPPORTED not in text_of(page)
    *rows, total = table_rows(page)
    assert [(row[0], row[1], row[3]) for row in rows] == [
        # The input is called "Input", as in a trained run's table; every other layer by its Keras class.
        (layer["name"], "Input" if layer["class_name"] == "InputLayer" else layer["class_name"], f"{layer['params']:,}")
        for layer in layers]
    assert sum(layer["params"] for layer in layers) == totals[name]
    assert total[0] == "Total" and total[1] == f"{totals[name]:,}"
    blocks = call(model.draw_blocks, None, "light", name)
    assert [trace.name for trace in blocks.data if trace.type == "mesh3d"] == [layer["name"] for layer in layers]


@pytest.mark.parametrize("name", MODELS)
def test_the_architecture_page_shows_every_recorded_kernel_and_no_training_views(shown, name):
    store, _ = shown
    layers, snapshot = recorded(store, name)
    kernels = [layer["name"] for layer in layers if fmt.KERNEL_PREFIX + layer["name"] in snapshot]
    assert kernels == [layer["name"] for layer in layers if layer["class_name"] == "Conv2D"]
    page = model.layout(run=name)
    if not kernels:  # the MLP
        assert find(page, model.LAYER) is None and "no Conv2D layer" in text_of(page)
        return
    props = props_by_id(page)
    assert props[model.LAYER]["options"] == kernels
    assert model.IMPORTED_NOTE in text_of(page)
    hidden = hidden_ids(page)
    assert model.EPOCH in hidden, "the one-epoch slider is hidden"
    assert model.MAXIMA in hidden, "there are no maximising inputs to show"
    assert model.FILTERS not in hidden
    for layer in kernels:
        figure, error, frames, _, _ = call(model.draw_filter_panel, model.LAYER, layer, model.MEAN, "light", 0, name)
        kernel = snapshot[fmt.KERNEL_PREFIX + layer]
        assert error is None and isinstance(figure, go.Figure)
        assert figure.layout.title.text.startswith(f"{layer}: {kernel.shape[3]} filters")
        assert list(frames["frames"]) == ["0"]


@pytest.mark.parametrize("name", MODELS)
def test_the_activation_explorer_offers_exactly_the_recorded_spatial_layers(shown, name):
    store, _ = shown
    layers, snapshot = recorded(store, name)
    spatial = spatial_names(layers, snapshot)
    page = activations.layout(run=name)
    assert not has_class(page, "error-card") and UNSUPPORTED not in text_of(page)
    props = props_by_id(page)
    assert props[activations.LAYER]["options"] == spatial
    # The attributions card runs the recorded graph in the numpy engine (dashboard.inference.graph).
    assert activations.IMPORTED_EPOCH_NOTE in text_of(page) and activations.NO_ATTRIBUTIONS not in text_of(page)
    hidden = hidden_ids(page)
    # One epoch, no dense activations recorded: hidden, not left out.
    assert {activations.EPOCH, activations.DENSE} <= hidden and activations.ATTRIBUTION.show not in hidden
    convs = [layer["name"] for layer in layers if layer["class_name"] in ("Conv2D", "DepthwiseConv2D")]
    method = "gradcam" if convs else "saliency"  # the MLP: no conv layer for Grad-CAM to look at
    opened = attribution_card.probe_outputs(True, method, None, None, 0, 0, "light", name)
    assert not has_class(opened[-1], "error-card"), text_of(opened[-1])
    assert opened[1] == convs and (opened[2] in convs if convs else opened[2] is None)
    assert (activations.MOSAIC in hidden) == (activations.STACK_SHOW in hidden) == (not spatial)
    assert activations.INPUT not in hidden and activations.SALIENCY not in hidden
    probe = props[activations.PROBE]["data"]
    label = int(store.run(name).probes()["labels"][probe])
    first = call(activations.draw_views, None, probe, props[activations.LAYER]["value"], 0, False, "all", "light",
                 activations.MAP_TAB, 0, name, None, None)
    summary, digit, saliency, probabilities, dense = first[0], first[3], first[4], first[5], first[10]
    assert f"label {label}" in text_of(summary) and not has_class(summary, "error-card")
    assert all(isinstance(figure, go.Figure) for figure in (digit, saliency, probabilities))
    assert dense == {}  # no dense layer's activations recorded: its (hidden) chart stays empty
    for layer in spatial:
        channels = snapshot[fmt.ACTIVATION_PREFIX + layer].shape[-1]
        recorded_channels = next(item["output_shape"][-1] for item in layers if item["name"] == layer)
        assert channels == recorded_channels
        views = call(activations.draw_views, activations.LAYER, probe, layer, 0, False, "all", "light",
                     activations.SURFACE_TAB, 0, name, None, None)
        mosaic, channel_map, surface, frames = views[6], views[7], views[8], views[11]
        assert mosaic.layout.meta["channels"] == channels and f"{layer}, probe {probe}" in mosaic.layout.title.text
        assert isinstance(channel_map, go.Figure) and isinstance(surface, go.Figure)
        assert list(frames["frames"]) == ["0"]
        assert call(activations.select_channel, activations.LAYER, None, layer, 0, name)[1] == channels - 1
    if spatial:
        assert activations.NO_SPATIAL not in text_of(page)
    else:  # the MLP: its digit views, and a note instead of the maps
        assert activations.NO_SPATIAL in text_of(page)


@pytest.mark.parametrize("name", MODELS)
def test_the_stacked_view_has_one_plane_per_spatial_layer(shown, name):
    store, _ = shown
    layers, snapshot = recorded(store, name)
    spatial = spatial_names(layers, snapshot)
    run = store.run(name)
    probe = props_by_id(activations.layout(run=name))[activations.PROBE]["data"]
    planes, epoch = activations.stack_layers(run, run.info(), probe, 0)
    assert epoch == 0 and [plane for plane, _ in planes] == ["pixels", *spatial]
    image, is_open = call(activations.draw_stack_view, None, True, probe, 0, "light", name)
    assert is_open and image.data[0].type == "image"  # by default an image of the 3D scene (issue 12)
    stack, is_open = call(activations.draw_stack_view, None, True, probe, 0, "light", name, True)
    assert is_open and [trace.name for trace in stack.data if trace.name] == ["pixels", *spatial]


@pytest.mark.parametrize("name", MODELS)
def test_the_digit_filter_and_picker_work_on_it(shown, name):
    store, _ = shown
    labels = store.run(name).probes()["labels"]
    chosen = call(activations.select_probe, activations.DIGIT, None, 7, None, 0, name)
    assert labels[chosen] == 7
    picker = call(activations.draw_picker, None, 7, chosen, "light", name)
    assert picker.layout.meta["count"] == int((labels == 7).sum())


@pytest.mark.parametrize("name", MODELS)
def test_the_report_holds_its_filters_and_probes_and_says_it_has_no_history(shown, name):
    store, _ = shown
    layers, snapshot = recorded(store, name)
    report = build_report(store.run(name))
    assert "cannot be shown for this run" not in report and "Traceback" not in report
    assert "An imported model has no training history" in report
    kernels = [layer["name"] for layer in layers if fmt.KERNEL_PREFIX + layer["name"] in snapshot]
    assert re.findall(r'id="filters-([^"]+)"', report) == kernels
    spatial = spatial_names(layers, snapshot)
    for layer in spatial:  # one mosaic per class's probe digit
        assert report.count(f"<figcaption>{layer} (") == 10
    if not spatial:
        assert "No layer of this model has feature maps" in report


def test_blocks_take_any_layer_class_open_sizes_and_draw_a_residual_join():
    from dashboard.figures.architecture import OTHER_COLOR, architecture_blocks

    layers = [{"name": "in", "kind": "InputLayer", "output_shape": [28, 28], "params": 0},
              {"name": "a", "kind": "Conv2D", "output_shape": [28, 28, 8], "params": 80, "inbound": ["in"]},
              {"name": "odd", "kind": "SomethingNew", "output_shape": [None, 8], "params": 3, "inbound": ["a"]},
              {"name": "empty", "kind": "Lonely", "output_shape": [], "params": 0, "inbound": ["odd"]},
              {"name": "sum", "kind": "Add", "output_shape": [28, 28, 8], "params": 0, "inbound": ["a", "empty"]}]
    figure = architecture_blocks(layers)
    boxes = [trace for trace in figure.data if trace.type == "mesh3d"]
    assert [box.name for box in boxes] == ["in", "a", "odd", "empty", "sum"]
    assert boxes[2].color == OTHER_COLOR and "? x 8" in boxes[2].hovertemplate
    arcs = [trace for trace in figure.data if trace.type == "scatter3d" and trace.mode == "lines"]
    assert len(arcs) == 1 and sum(value is None for value in arcs[0].x) == 1  # one arc: a -> sum
    plain = architecture_blocks([{key: value for key, value in layer.items() if key != "inbound"} for layer in layers])
    assert not [trace for trace in plain.data if trace.type == "scatter3d" and trace.mode == "lines"]


def test_the_table_says_where_a_join_takes_its_inputs_from():
    from dataclasses import dataclass

    from artifacts.config import LayerSpec

    @dataclass(frozen=True)
    class Joined(LayerSpec):
        inbound: tuple[str, ...] = ()

    layers = [Joined("in", "InputLayer", (28, 28, 1), 0), Joined("a", "Conv2D", (28, 28, 8), 80, inbound=("in",)),
              Joined("b", "Conv2D", (28, 28, 8), 584, detail="3x3", inbound=("a",)),
              Joined("sum", "Add", (28, 28, 8), 0, inbound=("a", "b")), LayerSpec("out", "Dense", (None,), 10)]
    rows = table_rows(model.layer_table(layers))
    assert [row[5] for row in rows[:-1]] == ["", "", "3x3", "from a + b", ""]
    assert rows[-2][2] == "?" and rows[-1][:2] == ["Total", "674"]
