"""Issue 14 (4): SmoothGrad, Grad-CAM and the sanity check in the numpy engine, and the card's outputs.

On the session's tiny run (trained by the real pipeline; its weights of epochs 0, 1 and 2 stored).
Grad-CAM is compared with Keras and GradientTape in tests/pipeline/test_attribution_keras.py.
"""

from __future__ import annotations

import shutil

import dash
import numpy as np
import plotly.graph_objects as go
import pytest
from scipy import stats

from artifacts import ArtifactStore
from artifacts.config import conv_layers
from dashboard.figures.attributions import attribution_panels
from dashboard.inference import Network
from dashboard.inference import attribution as attr
from dashboard.ui import attribution_card as card
from tests.conftest import TINY_RUN_ID


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


@pytest.fixture(scope="module")
def config(run):
    return run.info().config


@pytest.fixture(scope="module")
def trained(run, config):
    return Network(config, run.weights(config.epochs))


@pytest.fixture(scope="module")
def untrained(run, config):
    return Network(config, run.weights(0))


@pytest.fixture(scope="module")
def probes(run):
    return run.probes()


def test_saliency_for_the_top_class_is_the_engines_saliency(trained, probes):
    images = probes["images"]
    np.testing.assert_array_equal(attr.saliency(trained, images), trained.analyse(images).saliency)
    # Another class explains something else.
    top = trained.analyse(images).probabilities.argmax(axis=1)
    assert np.abs(attr.saliency(trained, images, (top + 1) % 10) - trained.analyse(images).saliency).max() > 0.1


def test_smoothgrad_is_the_mean_saliency_over_the_same_noisy_copies(trained, probes):
    image = probes["images"][4]
    noisy = attr.noisy_copies(image)
    assert noisy.shape == (attr.SMOOTHGRAD_SAMPLES, 28, 28)
    np.testing.assert_array_equal(noisy, attr.noisy_copies(image))  # seeded: the same copies every time
    assert abs(float((noisy - image).std()) - attr.SMOOTHGRAD_SIGMA * 255) < 0.05 * attr.SMOOTHGRAD_SIGMA * 255
    result = attr.smoothgrad(trained, image)
    cls = int(trained.analyse(image[None]).probabilities.argmax())
    assert result.cls == cls
    # The engine's saliency of each noisy copy (for the clean digit's class): where a copy's own top class is
    # that class, it is exactly what Network.analyse returns.
    per_copy = attr.saliency(trained, noisy, cls)
    analysed = trained.analyse(noisy)
    same = analysed.probabilities.argmax(axis=1) == cls
    assert same.sum() >= attr.SMOOTHGRAD_SAMPLES // 2
    np.testing.assert_array_equal(per_copy[same], analysed.saliency[same])
    mean = per_copy.mean(axis=0)
    np.testing.assert_allclose(result.heatmap, mean / mean.max(), rtol=1e-6, atol=1e-7)
    # It is not plain saliency.
    plain = trained.analyse(image[None]).saliency[0]
    assert np.abs(result.heatmap - plain).max() > 0.2
    assert attr.rank_correlation(result.heatmap, plain) < 0.95


def test_gradcam_of_a_layer_without_feature_maps_or_an_unknown_method_is_refused(trained, probes):
    image = probes["images"][0]
    with pytest.raises(ValueError, match="feature maps"):
        attr.gradcam(trained, image, "dense")
    with pytest.raises(ValueError, match="no layer"):
        attr.gradcam(trained, image, "conv_9")
    with pytest.raises(ValueError, match="unknown attribution method"):
        attr.attribute(trained, image, "occlusion")
    with pytest.raises(ValueError, match="classes"):
        trained.gradients(image[None], 10)


def test_rank_correlation_is_scipys_spearman_of_the_flattened_maps(trained, untrained, probes):
    image = probes["images"][7]
    for layer in ("conv_1", "conv_2"):
        before = attr.gradcam(untrained, image, layer, 3).heatmap
        after = attr.gradcam(trained, image, layer, 3).heatmap
        if np.ptp(before) and np.ptp(after):
            expected = stats.spearmanr(before.ravel(), after.ravel()).statistic
            assert attr.rank_correlation(before, after) == pytest.approx(expected, abs=1e-12)
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 4, (28, 28)), rng.random((28, 28))  # many ties in a
    assert attr.rank_correlation(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel()).statistic, abs=1e-12)
    assert attr.rank_correlation(np.zeros((28, 28)), b) is None  # a constant map has no ranks
    with pytest.raises(ValueError):
        attr.rank_correlation(a, b[:10])


def test_trained_and_untrained_gradcam_differ(trained, untrained, probes, config):
    """The sanity check on the session's trained run: Grad-CAM maps change with the weights."""
    for layer in conv_layers(config):
        rhos = [attr.sanity_check(untrained, trained, image, attr.GRADCAM, layer).correlation
                for image in probes["images"]]
        defined = [rho for rho in rhos if rho is not None]
        assert len(defined) >= len(rhos) // 2, layer
        assert max(defined) < 1 - 1e-6, layer
        assert float(np.mean(defined)) < 0.9, layer


def test_sanity_check_explains_the_trained_networks_class_in_both(trained, untrained, probes):
    check = attr.sanity_check(untrained, trained, probes["images"][2], attr.SALIENCY)
    analysed = trained.analyse(probes["images"][2:3])
    assert check.untrained.cls == check.trained.cls == int(analysed.probabilities.argmax())
    np.testing.assert_array_equal(check.trained.heatmap, analysed.saliency[0])
    assert check.correlation == attr.rank_correlation(check.untrained.heatmap, check.trained.heatmap)


@pytest.fixture
def served(tiny_store, use_store):
    use_store(tiny_store)
    return TINY_RUN_ID


def test_card_draws_the_untrained_and_trained_maps_and_every_methods_correlation(served, config):
    opened, layers, layer, disabled, figure, table, note = card.probe_outputs(
        True, attr.GRADCAM, "conv_1", "answer", 5, config.epochs, "light", served)
    assert opened and layers == ["conv_1", "conv_2"] and layer == "conv_1" and disabled is False
    assert isinstance(figure, go.Figure) and [trace.type for trace in figure.data] == ["image", "image"]
    assert [a.text for a in figure.layout.annotations] == ["untrained (epoch 0)", f"trained (epoch {config.epochs})"]
    rows = table.children[1].children
    assert [row.children[0].children for row in rows][:2] == ["Saliency", "SmoothGrad"]
    assert rows[2].children[0].children.children == "Grad-CAM conv_1"  # the chosen method, in bold
    assert len(rows) == 2 + len(layers)
    assert "Grad-CAM conv_1" in str(note)
    # An epoch between the two adds its own map; the layer follows the choice.
    _, _, layer, _, figure, _, _ = card.probe_outputs(True, attr.GRADCAM, "conv_2", None, 5, 1, "dark", served)
    assert layer == "conv_2" and len(figure.data) == 3
    assert figure.layout.annotations[1].text == "epoch 1 (the page's epoch)"
    # The three methods give three different maps.
    sources = {method: card.probe_outputs(True, method, "conv_2", "answer", 5, None, "light", served)[4].data[1].source
               for method in attr.METHODS}
    assert len(set(sources.values())) == 3


def test_card_computes_nothing_while_closed_and_refuses_what_the_client_may_send(served, config):
    assert card.probe_outputs(False, attr.GRADCAM, "conv_1", 3, 5, None, "light", served) == (
        False, *(dash.no_update,) * 6)
    # An unknown method is saliency, an unknown layer the last conv layer.
    opened, _, layer, disabled, figure, _, note = card.probe_outputs(True, "<script>", "../x", "7", 5, "7e9", None,
                                                                     served)
    assert opened and layer == "conv_2" and disabled is True and "Saliency" in str(note)
    assert "its answer" in str(note)  # "7", a string, is not a class: the answer is explained
    for probe in (-1, 10**6, "x", None):
        outputs = card.probe_outputs(True, attr.SALIENCY, None, None, probe, None, None, served)
        assert outputs[4] == {} and "Choose a probe digit" in str(outputs[6])
    for digit in (None, {"pixels": "x"}, {"pixels": [[0] * 27] * 28}, {"pixels": [[float("nan")] * 28] * 28}):
        outputs = card.digit_outputs(True, attr.SALIENCY, None, None, digit, None, None, served)
        assert outputs[4] == {} and "Draw, upload or pick a digit" in str(outputs[6])


def test_card_on_a_test_digit_and_a_drawn_one(served, run):
    predictions = run.predictions()
    digit = {"pixels": predictions["images"][11].tolist(), "source": "test", "label": int(predictions["labels"][11]),
             "index": 11}
    outputs = card.digit_outputs(True, attr.SMOOTHGRAD, None, "answer", digit, None, "light", served)
    assert len(outputs[4].data) == 2 and "SmoothGrad" in str(outputs[6])
    answer = int(Network(run.info().config, run.weights(run.info().config.epochs)).analyse(
        predictions["images"][11:12]).probabilities.argmax())
    assert ("The true label is" in str(outputs[6])) == (answer != digit["label"])
    drawn = np.zeros((28, 28))
    drawn[5:23, 13:16] = 255  # a "1"
    outputs = card.digit_outputs(True, attr.GRADCAM, "conv_1", "answer", {"pixels": drawn.tolist(), "label": None}, 1,
                                 "light", served)
    assert len(outputs[4].data) == 3 and "true label" not in str(outputs[6])


def test_a_run_without_stored_weights_gets_a_message(tiny_store, tmp_path, use_store):
    store = tmp_path / "store"
    shutil.copytree(tiny_store, store)
    shutil.rmtree(store / TINY_RUN_ID / "weights")
    use_store(store)
    outputs = card.probe_outputs(True, attr.GRADCAM, None, "answer", 0, None, None, TINY_RUN_ID)
    assert outputs[0] is True and outputs[4] == {} and "did not store the weights" in str(outputs[6])


def test_card_explains_a_chosen_class_in_both_networks(served, trained, untrained, probes):
    image = probes["images"][5]
    answer = int(trained.analyse(image[None]).probabilities.argmax())
    other = (answer + 4) % 10
    _, _, _, _, figure, table, note = card.probe_outputs(True, attr.GRADCAM, "conv_1", other, 5, None, "light",
                                                         served)
    assert f"what speaks for class {other}" in str(note)
    check = attr.sanity_check(untrained, trained, image, attr.GRADCAM, "conv_1", other)
    assert check.trained.cls == check.untrained.cls == other
    assert figure.data[-1].source == attribution_panels(image, [("", check.trained.heatmap)]).data[0].source
    assert figure.data[-1].source != card.probe_outputs(True, attr.GRADCAM, "conv_1", None, 5, None, "light",
                                                        served)[4].data[-1].source
    assert card.correlation_text(check.correlation) in str(table)


def test_overlay_keeps_the_digit_where_cold_and_colours_where_hot():
    from dashboard.figures.attributions import overlay_rgb

    image = np.zeros((28, 28))
    image[10:18, 12:15] = 255
    heat = np.zeros((28, 28))
    heat[0, 0] = 1.0
    rgb = overlay_rgb(image, heat)
    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.uint8
    assert (rgb[12, 13] == rgb[12, 13, 0]).all() and rgb[12, 13, 0] > 150  # the ink, grey, untouched
    assert (rgb[5, 5] == 0).all()  # background, cold
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 2] < 50  # hot: yellow-red, not white
    with pytest.raises(ValueError):
        overlay_rgb(image, heat[:27])
    with pytest.raises(ValueError):
        attribution_panels(image, [])
