"""An imported model's manifest (issue 16): its layer list is validated, and no reader takes its {} config
for the default TrainConfig."""

from __future__ import annotations

import pytest

from artifacts import ArtifactError, Manifest
from artifacts import format as fmt
from artifacts.snapshots import pooled_pairs
from artifacts.validate import maximised_shapes, snapshot_limits, weight_shapes

LAYERS = [{"name": "input_layer", "class_name": "InputLayer", "output_shape": [28, 28, 1], "params": 0},
          {"name": "conv2d", "class_name": "Conv2D", "output_shape": [26, 26, 32], "params": 320},
          {"name": "dense", "class_name": "Dense", "output_shape": [None], "params": 16010}]


def imported(**changes) -> dict:
    data = {"schema_version": fmt.SCHEMA_VERSION, "run_id": "r1", "status": "complete",
            "created": "2024-01-02T03:04:05+00:00", "config": {}, "dataset": {"source": "mnist-sample"},
            fmt.KEY_SOURCE: fmt.SOURCE_IMPORTED, fmt.KEY_LAYERS: LAYERS}
    data.update(changes)
    return data


def test_an_imported_manifest_reads_as_imported_without_a_config():
    info = Manifest.from_dict(imported(), "r1")
    assert info.is_imported and info.imported_layers == tuple(LAYERS)
    assert info.parsed_config is None and info.planned_epochs is None
    with pytest.raises(ArtifactError, match="imported model has no training config"):
        _ = info.config
    assert not Manifest.from_dict(imported(**{fmt.KEY_SOURCE: fmt.SOURCE_TRAINED}), "r1").is_imported


def test_readers_derive_nothing_from_its_empty_config():
    data = imported()
    assert snapshot_limits(data) is None and pooled_pairs(data) == []
    for shapes in (weight_shapes, maximised_shapes):
        with pytest.raises(ArtifactError, match="imported model"):
            shapes(data, "r1")


@pytest.mark.parametrize("layers, reason", [
    ("conv", "field 'layers' is a string"),
    ([LAYERS[0]] * (fmt.MAX_LAYERS + 1), "more than"),
    ([{"name": "x", "class_name": "Dense", "output_shape": [10]}], "layer 0 is not an object"),
    ([{**LAYERS[1], "name": ""}], "invalid name"),
    ([{**LAYERS[1], "class_name": "C" * 201}], "invalid class_name"),
    ([{**LAYERS[1], "output_shape": [26, -1]}], "invalid output_shape"),
    ([{**LAYERS[1], "output_shape": [1] * 9}], "invalid output_shape"),
    ([{**LAYERS[1], "params": True}], "invalid params"),
    ([{**LAYERS[1], "params": -3}], "invalid params"),
])
def test_a_malformed_layer_list_is_refused(layers, reason):
    with pytest.raises(ArtifactError, match=reason):
        Manifest.from_dict(imported(**{fmt.KEY_LAYERS: layers}), "r1")


def test_an_unknown_source_is_refused():
    with pytest.raises(ArtifactError, match="unknown source"):
        Manifest.from_dict(imported(**{fmt.KEY_SOURCE: "downloaded"}), "r1")


def test_its_layers_are_the_recorded_ones_not_a_plan_from_its_config():
    # InputLayer is called "Input", as in a trained run's layers; every other layer keeps its Keras class.
    specs = Manifest.from_dict(imported(), "r1").layers()
    assert [(spec.name, spec.kind, spec.output_shape, spec.params) for spec in specs] == [
        ("input_layer", "Input", (28, 28, 1), 0), ("conv2d", "Conv2D", (26, 26, 32), 320),
        ("dense", "Dense", (None,), 16010)]
