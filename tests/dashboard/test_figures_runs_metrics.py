"""Figure builders of the Runs, Training and Metrics pages: shapes, titles and data for known inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from artifacts.format import CLASS_ACCURACY_COLUMNS, CLASS_METRICS_COLUMNS, HISTORY_COLUMNS
from dashboard.figures import digits, metrics, training


def make_history(epochs: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({column: rng.random(epochs) for column in (*HISTORY_COLUMNS, *CLASS_ACCURACY_COLUMNS)})
    frame["epoch"] = np.arange(1, epochs + 1)
    return frame


def make_class_metrics(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({column: rng.random(10) for column in CLASS_METRICS_COLUMNS})
    frame["class"] = np.arange(10)
    frame["support"] = rng.integers(1, 60, 10)
    return frame


MATRIX = np.arange(100).reshape(10, 10)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_curves_figure_has_training_and_validation_per_panel(theme):
    history = make_history()
    figure = training.curves_figure(history, theme)
    assert [trace.name for trace in figure.data] == ["training loss", "validation loss", "training accuracy",
                                                     "validation accuracy"]
    np.testing.assert_allclose(figure.data[1].y, history["val_loss"])
    np.testing.assert_array_equal(figure.data[3].x, [1, 2, 3, 4])
    assert figure.layout.template.layout.paper_bgcolor is not None
    assert figure.layout.xaxis.title.text == "epoch" and figure.layout.yaxis.title.text == "cross-entropy loss"


def test_class_accuracy_figure_highlights_one_digit():
    history = make_history()
    all_lines = training.class_accuracy_figure(history, "all", "light")
    assert len(all_lines.data) == 10
    assert {trace.line.width for trace in all_lines.data} == {training.NORMAL_WIDTH}
    three = training.class_accuracy_figure(history, 3, "dark")
    np.testing.assert_allclose(three.data[3].y, history["val_class_3"])
    assert three.data[3].line.width == training.HIGHLIGHT_WIDTH and three.data[3].opacity == 1
    assert three.data[4].opacity == training.FADED_OPACITY
    assert three.layout.yaxis.title.text


def test_timing_figure_shows_seconds_and_learning_rate():
    history = make_history()
    figure = training.timing_figure(history, "light")
    np.testing.assert_allclose(figure.data[0].y, history["epoch_seconds"])
    np.testing.assert_allclose(figure.data[1].y, history["learning_rate"])
    assert figure.data[1].yaxis == "y2"


def test_compare_curves_overlay_both_runs():
    figure = training.compare_curves_figure(make_history(3), make_history(5), "a", "b", "light")
    assert [trace.name for trace in figure.data] == ["a", "b", "a", "b"]
    assert len(figure.data[1].x) == 5


def test_empty_history_gives_empty_traces():
    empty = pd.DataFrame(columns=[*HISTORY_COLUMNS, *CLASS_ACCURACY_COLUMNS])
    assert all(len(trace.x) == 0 for trace in training.curves_figure(empty, "light").data)


def test_confusion_counts_heatmap_z_equals_matrix_with_colorbar():
    figure = metrics.confusion_figure(MATRIX, "counts", "all", "light")
    heatmap = figure.data[0]
    np.testing.assert_array_equal(heatmap.z, MATRIX)
    assert heatmap.colorbar.title.text == "digits"
    assert heatmap.text[0][0] == "" and heatmap.text[1][2] == "12"  # zeros are left blank
    assert figure.layout.xaxis.title.text == "predicted class" and figure.layout.yaxis.title.text == "true class"
    assert figure.layout.shapes == ()


def test_confusion_normalized_rows_sum_to_one():
    matrix = MATRIX.copy()
    matrix[4] = 0  # a class with no digits stays a row of zeros
    figure = metrics.confusion_figure(matrix, "normalized", 3, "dark")
    z = np.asarray(figure.data[0].z)
    np.testing.assert_allclose(np.delete(z, 4, axis=0).sum(axis=1), 1.0)
    np.testing.assert_array_equal(z[4], 0)
    assert figure.data[0].zmax == 1.0 and figure.data[0].colorbar.title.text == "share of row"
    shapes = figure.layout.shapes
    assert len(shapes) == 2 and shapes[0].y0 == 2.5 and shapes[1].x0 == 2.5


def test_confusion_rejects_bad_mode_and_shape():
    with pytest.raises(ValueError, match="mode"):
        metrics.confusion_values(MATRIX, "percent")
    with pytest.raises(ValueError, match="10x10"):
        metrics.confusion_values(np.zeros((3, 3)), "counts")


def test_confusion_difference_equals_a_minus_b():
    b = np.eye(10, dtype=int) * 5
    figure = metrics.confusion_difference_figure(MATRIX, b, "counts", "A", "B", "light")
    np.testing.assert_array_equal(figure.data[0].z, MATRIX - b)
    assert figure.data[0].zmid == 0 and figure.data[0].zmin == -figure.data[0].zmax
    assert "A − B" in figure.data[0].colorbar.title.text
    normalized = metrics.confusion_difference_figure(MATRIX, b, "normalized", "A", "B", "dark")
    np.testing.assert_allclose(normalized.data[0].z, metrics.normalize_rows(MATRIX) - metrics.normalize_rows(b))


def test_class_metrics_bars_equal_the_csv_and_fade_other_classes():
    frame = make_class_metrics()
    figure = metrics.class_metrics_figure(frame, 7, "light")
    assert [trace.name for trace in figure.data] == ["precision", "recall", "F1"]
    np.testing.assert_allclose(figure.data[2].y, frame["f1"])
    np.testing.assert_array_equal(figure.data[0].customdata, frame["support"])
    opacity = figure.data[0].marker.opacity
    assert opacity[7] == 1.0 and opacity[0] == metrics.FADED_OPACITY


def test_f1_difference_bars():
    a, b = make_class_metrics(1), make_class_metrics(2)
    figure = metrics.f1_difference_figure(a, b, "A", "B", "dark")
    np.testing.assert_allclose(figure.data[0].y, a["f1"] - b["f1"])
    assert figure.layout.yaxis.title.text == "F1 difference"


def test_probability_figure():
    probabilities = np.full(10, 0.1, dtype=np.float16)
    figure = metrics.probability_figure(probabilities, 2, "light")
    np.testing.assert_allclose(figure.data[0].y, 0.1, rtol=1e-3)
    assert "true class 2" in figure.layout.title.text


def test_gallery_indices_for_a_cell_a_digit_and_all_mistakes():
    labels = np.array([3, 3, 3, 5, 1, 3])
    predicted = np.array([5, 5, 3, 3, 1, 5])
    probabilities = np.zeros((6, 10))
    probabilities[np.arange(6), predicted] = [0.6, 0.9, 1, 0.7, 1, 0.8]
    np.testing.assert_array_equal(metrics.gallery_indices(labels, predicted, probabilities, (3, 5), "all"),
                                  [1, 5, 0])  # most confident first
    np.testing.assert_array_equal(metrics.gallery_indices(labels, predicted, probabilities, None, 5), [1, 5, 3, 0])
    assert len(metrics.gallery_indices(labels, predicted, probabilities, None, 1)) == 0
    assert len(metrics.gallery_indices(labels, predicted, probabilities, None, "all")) == 4


def test_digit_mosaic_one_trace_tiles_and_captions():
    images = np.stack([np.full((28, 28), k * 20, dtype=np.uint8) for k in range(7)])
    figure = digits.digit_mosaic(images, [f"d{k}" for k in range(7)], 3, "light")
    assert len(figure.data) == 1 and isinstance(figure.data[0], go.Heatmap)
    z = np.asarray(figure.data[0].z)
    assert z.dtype == np.uint8 and z.shape == (3 * digits.PITCH_Y, 3 * digits.PITCH_X - digits.GAP)
    # Tile 4 sits in row 1, column 1.
    assert z[digits.PITCH_Y + 5, digits.PITCH_X + 5] == 80
    assert [a.text for a in figure.layout.annotations] == [f"d{k}" for k in range(7)]
    assert figure.layout.meta["columns"] == 3 and figure.layout.meta["count"] == 7


def test_clicked_tile_maps_pixels_back_to_tiles():
    assert digits.clicked_tile({"points": [{"x": 2, "y": 3}]}, 3, 7) == 0
    assert digits.clicked_tile({"points": [{"x": digits.PITCH_X + 5, "y": digits.PITCH_Y + 30}]}, 3, 7) == 4
    assert digits.clicked_tile({"points": [{"x": digits.SIDE + 1, "y": 3}]}, 3, 7) is None  # the gap
    assert digits.clicked_tile({"points": [{"x": 2 * digits.PITCH_X, "y": 2 * digits.PITCH_Y}]}, 3, 7) is None
    assert digits.clicked_tile(None, 3, 7) is None
    assert digits.clicked_tile({"points": []}, 3, 7) is None


def test_digit_mosaic_rejects_bad_input():
    with pytest.raises(ValueError):
        digits.digit_mosaic(np.zeros((2, 28, 27), dtype=np.uint8), ["a", "b"], 2, "light")
    with pytest.raises(ValueError):
        digits.digit_mosaic(np.zeros((2, 28, 28), dtype=np.uint8), ["a"], 2, "light")
    with pytest.raises(ValueError):
        digits.mosaic_array(np.zeros((0, 28, 28), dtype=np.uint8), 2)
