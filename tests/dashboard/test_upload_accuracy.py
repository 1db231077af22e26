"""The Draw page's live model: real MNIST digits through the upload path, consistency with the pipeline.

The only dashboard test file that imports TensorFlow in the pytest process (the live model's
fallback for runs without stored weights, compared here with the numpy engine); nothing here
forks after that.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.draw import epoch_view, live_model, whatif_view
from dashboard.draw import layout as parts
from dashboard.draw.epoch_view import EPOCH as DRAW_EPOCH
from dashboard.draw.live_model import LiveModel, ModelUnavailable, get_live_model
from dashboard.ui import ids
from tests.dashboard.test_draw import draw_module, triggered_by

LIMIT = 2 * 1024 * 1024
SAMPLE = 500


def png_data_url(image: np.ndarray, scale: int = 4) -> str:
    """A 28x28 digit written as a PNG at ``scale`` times its size, as dcc.Upload would send it."""
    side = image.shape[0] * scale
    buffer = io.BytesIO()
    Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def default_run(default_run_store):
    run = ArtifactStore(default_run_store).run("default")
    return run


@pytest.fixture(scope="module")
def draw_page():
    return draw_module()


def test_real_mnist_digits_uploaded_at_4x_are_classified(default_run, draw_page, mnist_test_set):
    run = default_run
    images, labels = mnist_test_set
    picks = np.random.default_rng(2024).choice(len(images), SAMPLE, replace=False)
    model = get_live_model(run)
    correct = 0
    for index in picks:
        digit, error = draw_page.read_image(png_data_url(images[index]), "upload", LIMIT)
        assert error is None
        probabilities = model.analyse(draw_page.digit_pixels(digit)).probabilities
        correct += int(np.argmax(probabilities) == labels[index])
    accuracy = correct / SAMPLE
    print(f"live model on {SAMPLE} uploaded MNIST test digits: {accuracy:.1%}")
    assert accuracy >= 0.97, f"{accuracy:.1%} of {SAMPLE} real test digits"


def test_live_analysis_matches_the_pipelines_capture(default_run):
    """Probabilities, activations and saliency agree with the last snapshot the pipeline wrote."""
    run = default_run
    snapshot = run.snapshot(run.snapshot_epochs()[-1])
    probes = run.probes()
    model = get_live_model(run)
    for row, position in enumerate(snapshot[fmt.SNAPSHOT_PROBE_INDEX][:5]):
        analysis = model.analyse(probes["images"][position])
        assert np.allclose(analysis.probabilities, snapshot[fmt.SNAPSHOT_PROBABILITIES][row], atol=2e-3)
        assert np.allclose(analysis.saliency, snapshot[fmt.SNAPSHOT_SALIENCY][row], atol=2e-2)
        for name, values in analysis.activations:
            stored = snapshot[fmt.ACTIVATION_PREFIX + name][row].astype(np.float32)
            assert values.shape == stored.shape
            assert np.allclose(values, stored, atol=2e-2 * max(1.0, float(np.abs(stored).max())))
    names = [name for name, _ in analysis.activations]
    assert names == ["conv_1", "pool_1", "conv_2", "pool_2", "dense", "output"]
    assert analysis.saliency.shape == (28, 28) and 0 <= analysis.saliency.min() <= analysis.saliency.max() <= 1


def test_every_probe_digit_matches_the_final_snapshot_within_float16_rounding(default_run):
    """The TensorFlow fallback (runs without stored weights) and the training capture share one probe: a
    stored snapshot is the live analysis in float16.

    The capture's batch of probes, sent through the live model's probe, rounds to the stored
    float16 values exactly (half a float16 step). One digit at a time, as the page sends them,
    oneDNN sums in another order: a few float16 steps apart at most. (The numpy engine, which
    answers for runs with stored weights, is held to the same snapshots in test_inference.py.)
    """
    run = default_run
    snapshot = run.snapshot(run.snapshot_epochs()[-1])
    model = get_live_model(run, backend=live_model.TENSORFLOW)
    assert model.backend == live_model.TENSORFLOW
    images = run.probes()["images"][snapshot[fmt.SNAPSHOT_PROBE_INDEX]]

    def stored_pairs(row, probabilities, saliency, activations):
        yield probabilities, snapshot[fmt.SNAPSHOT_PROBABILITIES][row]
        yield saliency, snapshot[fmt.SNAPSHOT_SALIENCY][row]
        for name, values in activations:
            yield values, snapshot[fmt.ACTIVATION_PREFIX + name][row]

    def float16_steps(live, stored):
        assert live.dtype == np.float32 and stored.dtype == np.float16 and live.shape == stored.shape
        step = np.maximum(np.spacing(np.abs(stored)), np.spacing(np.abs(stored).max())).astype(np.float32)
        return float((np.abs(live - stored.astype(np.float32)) / step).max())

    batch = model.probe(images)
    for row in range(len(images)):
        activations = [(name, values[row]) for name, values in batch.activations]
        for live, stored in stored_pairs(row, batch.probabilities[row], batch.saliency[row], activations):
            assert float16_steps(live, stored) <= 0.5
        analysis = model.analyse(images[row])
        for live, stored in stored_pairs(row, analysis.probabilities, analysis.saliency, analysis.activations):
            assert float16_steps(live, stored) <= 4


def test_the_numpy_engine_answers_uploads_as_the_tensorflow_model_does(default_run, draw_page, mnist_test_set):
    """A run with stored weights is answered without TensorFlow, with the answers model.keras gives."""
    run = default_run
    engine = get_live_model(run)
    keras_model = get_live_model(run, backend=live_model.TENSORFLOW)
    assert (engine.backend, keras_model.backend) == (live_model.NUMPY, live_model.TENSORFLOW)
    images, _ = mnist_test_set
    for image in images[:100]:
        digit, _ = draw_page.read_image(png_data_url(image), "upload", LIMIT)
        pixels = draw_page.digit_pixels(digit)
        ours, theirs = engine.analyse(pixels), keras_model.analyse(pixels)
        assert ours.probabilities.argmax() == theirs.probabilities.argmax()
        np.testing.assert_allclose(ours.probabilities, theirs.probabilities, atol=1e-5)
        for (name, values), (_, reference) in zip(ours.activations, theirs.activations, strict=True):
            np.testing.assert_allclose(values, reference, rtol=1e-4, atol=1e-4, err_msg=name)


def test_a_run_without_stored_weights_falls_back_to_tensorflow(default_run_store, tmp_path, mnist_test_set):
    import shutil

    store_root = tmp_path / "store"
    shutil.copytree(default_run_store, store_root)
    run = ArtifactStore(store_root).run("default")
    shutil.rmtree(run.path / fmt.WEIGHTS_DIR)  # as a run trained before weights were stored
    model = get_live_model(run)
    assert model.backend == live_model.TENSORFLOW
    images, labels = mnist_test_set
    assert int(np.argmax(model.analyse(images[0]).probabilities)) == int(labels[0])


def test_a_stroke_runs_the_model_once(default_run, default_run_store, use_store, draw_page, mnist_test_set,
                                      monkeypatch):
    """Every server callback the new digit triggers, run as Dash runs them, shares one analysis."""
    import dashboard.app

    use_store(default_run_store)
    run = default_run
    get_live_model(run)  # loaded as the page opens (warm_up), not by the stroke
    analysed = []
    original = LiveModel.analyse
    monkeypatch.setattr(LiveModel, "analyse", lambda self, image: analysed.append(1) or original(self, image))
    images, _ = mnist_test_set
    digit, *_ = draw_page.digit_from_canvas(png_data_url(images[0]))
    values = {f"{parts.DIGIT}.data": digit, f"{parts.LAYER}.value": 1, f"{parts.CHANNEL}.data": None,
              f"{ids.THEME}.data": "light", f"{parts.RUN}.data": "default", f"{parts.QUERY}.data": "",
              f"{DRAW_EPOCH}.value": None, f"{draw_page.THEME}.data": "light",
              f"{whatif_view.STRIDE}.value": 1, f"{whatif_view.PADDING}.value": "valid",
              f"{whatif_view.KERNEL}.value": 3, f"{whatif_view.FILTERS}.value": 32,
              # Every view open: the what-if card on screen, the 3D surface's tab, the stacked view's switch.
              f"{whatif_view.IN_VIEW}.data": True, f"{whatif_view.DRAWN}.data": None,
              f"{parts.CHANNEL_TABS}.active_tab": parts.SURFACE_TAB, f"{parts.STACK_SHOW}.value": True,
              # ... the 3D views as their default images, the card across training on screen.
              f"{parts.SURFACE_WEBGL}.value": False, f"{parts.STACK_WEBGL}.value": False,
              f"{epoch_view.IN_VIEW}.data": True, f"{epoch_view.DRAWN}.data": None}
    outputs = []
    for entry in dashboard.app.app.callback_map.values():
        inputs = [f"{item['id']}.{item['property']}" for item in entry["inputs"]]
        if f"{parts.DIGIT}.data" not in inputs or "callback" not in entry:
            continue
        flat = [values[name] for name in inputs + [f"{item['id']}.{item['property']}" for item in entry["state"]]]
        # Dash passes them in the order the callback declared them (an Input may follow a State).
        order = entry["inputs_state_indices"]
        arguments = [flat[index] for index in (order if isinstance(order, list) else [order])]
        outputs.extend(triggered_by(parts.DIGIT, entry["callback"].__wrapped__)(*arguments))
    assert len(analysed) == 1
    figures = [output for output in outputs if isinstance(output, go.Figure)]
    titles = " ".join(str(figure.layout.title.text) for figure in figures)
    # The answer (input, saliency, probabilities, stacked layers) and the walk's feature maps were all drawn.
    assert "Saliency: pixels that sway the answer" in titles and "All layers stacked" in titles
    assert "conv_1: 32 feature maps" in titles and "in 3D" in titles
    # The card across training runs each stored epoch's network once, through its probe (not counted above).
    assert "Epoch 0 (untrained)" in titles and "epoch by epoch" in titles
    # The what-if reflows conv_1 from the trained kernels, without the model.
    assert "32 maps of 26x26" in titles


def test_the_model_is_loaded_once_and_again_when_its_file_changes(default_run_store, tmp_path):
    import shutil

    store_root = tmp_path / "store"
    shutil.copytree(default_run_store, store_root)
    run = ArtifactStore(store_root).run("default")
    first = get_live_model(run)
    assert get_live_model(run) is first
    stat = run.model_path.stat()
    os.utime(run.model_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert get_live_model(run) is not first


def test_a_missing_or_corrupted_model_is_a_message(default_run_store, tmp_path):
    import shutil

    store_root = tmp_path / "store"
    shutil.copytree(default_run_store, store_root)
    run = ArtifactStore(store_root).run("default")
    run.model_path.write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        get_live_model(run)
    run.model_path.unlink()
    with pytest.raises(ModelUnavailable, match="has no saved model"):
        get_live_model(run)


def test_the_page_shows_the_answer_for_an_upload(default_run_store, use_store, draw_page, mnist_test_set):
    use_store(default_run_store)
    images, labels = mnist_test_set
    digit, message, _, _ = draw_page.digit_from_upload(png_data_url(images[0]), "seven.png")
    assert message is None and digit["name"] == "seven.png"
    placeholder, results, walk, error, *figures = draw_page.show_answer(digit, "dark", "default")
    assert (placeholder, results, walk, error) == (draw_page.HIDDEN, draw_page.SHOWN, draw_page.SHOWN, None)
    top_digit = figures[2][0].children[0].children
    assert top_digit == str(labels[0])
    show_layer = triggered_by(draw_page.LAYER, draw_page.show_layer)
    maps, flat, surface, surface_style, caption, query = show_layer(digit, 1, None, "light", "default", "")
    # The feature maps are one image (issue 12); the chosen channel is flat (values on hover) and in 3D.
    # The 3D surface is an image of the scene by default (issue 12), the WebGL surface on its switch.
    assert maps.data[0].type == "image" and flat.data[0].type == "heatmap" and surface.data[0].type == "image"
    webgl = show_layer(digit, 1, None, "light", "default", "", None, None, True, True)[2]  # ..., three_d, webgl
    assert webgl.data[0].type == "surface"
    assert surface_style == draw_page.SHOWN and "conv_1" in str(caption)
    assert query == "?layer=conv_1&run=default"
    bars, _, _, surface_style, _, _ = show_layer(digit, 5, None, "light", "default", "")
    assert bars.data[0].type == "bar" and surface_style == draw_page.HIDDEN


def teardown_module():
    live_model.clear_cache()
