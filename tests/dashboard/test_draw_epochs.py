"""Issue 13 (3, 4): the Draw page across training and any test digit by number, on the session's tiny run.

The tiny run stored its weights after epochs 0, 1 and 2; the page's numbers must be the numpy
engine's for that epoch (:class:`dashboard.inference.Network`, computed here directly). No TensorFlow.
"""

from __future__ import annotations

import dash
import numpy as np
import pytest

from artifacts import ArtifactStore
from dashboard.draw import epoch_view
from dashboard.draw import epochs as across
from dashboard.draw import layout as parts
from dashboard.inference import Network
from tests.conftest import TINY_RUN_ID
from tests.dashboard.test_draw import draw_module, triggered_by
from tests.dashboard.test_pages_runs_metrics import flatten, text_of


@pytest.fixture
def draw(use_store, tiny_store):
    use_store(tiny_store)
    return draw_module()


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


def test_digit(run, index: int) -> dict:
    predictions = run.predictions()
    return {"pixels": predictions["images"][index].tolist(), "source": "test",
            "label": int(predictions["labels"][index]), "index": index}


test_digit.__test__ = False  # a helper, not a test


def engine(run, epoch: int, pixels) -> tuple[np.ndarray, list, np.ndarray]:
    """The numpy engine's probabilities, activations and saliency for one digit after ``epoch``, computed directly."""
    result = Network(run.info().config, run.weights(epoch)).analyse(np.asarray(pixels)[None])
    return result.probabilities[0], [(name, values[0]) for name, values in result.activations], result.saliency[0]


# -- section 3: the epoch control ----------------------------------------------

def test_the_probability_lines_are_the_engines_answers_at_every_epoch(draw, run):
    digit = test_digit(run, 5)
    pixels = draw.digit_pixels(digit)
    style, first, last, lines, caption, note = draw.show_epochs(digit, 1, "light", TINY_RUN_ID)
    assert style == epoch_view.SHOWN
    epochs = run.weight_epochs()
    assert epochs == [0, 1, 2]
    direct = np.stack([engine(run, epoch, pixels)[0] for epoch in epochs])
    assert len(lines.data) == 10
    for cls, trace in enumerate(lines.data):
        assert list(trace.x) == epochs
        np.testing.assert_array_equal(np.asarray(trace.y, dtype=np.float32), direct[:, cls])
    # The untrained network beside the trained one: each titled with its own answer, its saliency its own.
    for figure, epoch in ((first, 0), (last, 2)):
        probabilities, _, saliency = engine(run, epoch, pixels)
        answer = int(probabilities.argmax())
        assert figure.layout.title.text.startswith(f"Epoch {epoch} (")
        assert f"answers {answer}, {probabilities[answer]:.0%}" in figure.layout.title.text
        np.testing.assert_array_equal(np.asarray(figure.data[1].z, dtype=np.float32), saliency)
    assert "untrained" in first.layout.title.text and "(trained)" in last.layout.title.text
    assert any(shape.x0 == 1 for shape in lines.layout.shapes)  # the shown epoch is marked
    assert f"reads {int(direct[-1].argmax())}" in text_of(caption) and f"true label is {digit['label']}" in text_of(
        caption)
    assert "after epoch 1 of 2" in note


def test_the_answer_and_the_walk_follow_the_chosen_epoch(draw, run):
    digit = test_digit(run, 3)
    pixels = draw.digit_pixels(digit)
    for epoch in (0, 1, 2, None):
        probabilities, activations, saliency = engine(run, 2 if epoch is None else epoch, pixels)
        outputs = draw.show_answer(digit, "light", TINY_RUN_ID, draw.DigitAnalysis(TINY_RUN_ID, digit, epoch))
        bars, shown_saliency = outputs[7], outputs[5]
        np.testing.assert_array_equal(np.asarray(bars.data[0].y, dtype=np.float32), probabilities)
        np.testing.assert_array_equal(np.asarray(shown_saliency.data[1].z, dtype=np.float32), saliency)
        maps, *_ = triggered_by(epoch_view.EPOCH, draw.show_layer)(digit, 1, None, "light", TINY_RUN_ID, None,
                                                                   None, epoch)
        conv_1 = dict(activations)["conv_1"]
        assert maps.layout.title.text.startswith(f"conv_1: {conv_1.shape[2]} feature maps")
        # The mosaic is an image (issue 12): its colour bar runs to this epoch's largest activation.
        assert maps.data[0].type == "image" and np.isclose(maps.data[1].marker.cmax, conv_1.max(), rtol=1e-6)
    untrained = engine(run, 0, pixels)[0]
    trained = engine(run, 2, pixels)[0]
    assert not np.allclose(untrained, trained)


def test_the_epoch_is_in_the_url_and_a_bad_one_gets_a_message(draw):
    page = draw.layout(run=TINY_RUN_ID, epoch="0", layer="conv_1")
    slider = page[epoch_view.EPOCH]
    assert (slider.min, slider.max, slider.step, slider.value) == (0, 2, 1, 0)
    assert page[parts.QUERY].data == "?epoch=0&layer=conv_1&run=tiny"
    assert "after epoch 0 of 2 (untrained" in text_of(page[epoch_view.EPOCH_NOTE])
    default = draw.layout(run=TINY_RUN_ID)
    assert default[epoch_view.EPOCH].value == 2 and "epoch" not in default[parts.QUERY].data
    for raw, shown in (("abc", 2), ("7", 2), ("-1", 0), ("1.4", 1)):
        page = draw.layout(run=TINY_RUN_ID, epoch=raw)
        assert page[epoch_view.EPOCH].value == shown
        assert f"epoch={raw} in the address" in text_of(page), raw
    # Moving the slider writes the epoch into the query (the last epoch is the default, left out).
    digit = test_digit(ArtifactStore(draw.current_settings().store_root).run(TINY_RUN_ID), 4)
    query = triggered_by(epoch_view.EPOCH, draw.show_layer)(digit, 2, None, "light", TINY_RUN_ID, "?", None, 1)[-1]
    assert query == "?epoch=1&layer=pool_1&run=tiny&test=4"
    query = triggered_by(epoch_view.EPOCH, draw.show_layer)(digit, 2, None, "light", TINY_RUN_ID, "?", None, 2)[-1]
    assert query == "?layer=pool_1&run=tiny&test=4"
    # A test digit the URL names is still loading when the sliders first report their values: its number stays.
    loading = "?layer=pixels&run=tiny&test=17"
    show = triggered_by(epoch_view.EPOCH, draw.show_layer)
    assert show(None, 0, None, "light", TINY_RUN_ID, loading, None, 2)[-1] is dash.no_update
    assert show(None, 0, None, "light", TINY_RUN_ID, loading, None, 1)[-1] == "?epoch=1&layer=pixels&run=tiny&test=17"


@pytest.mark.parametrize("epoch", [7, -1, "2", 1.5, True, [1]])
def test_an_epoch_the_run_did_not_store_is_a_message_not_a_crash(draw, run, epoch):
    # The slider's value comes from the client: the server checks it as the slider would.
    digit = test_digit(run, 0)
    placeholder, results, walk, error, *_ = draw.show_answer(
        digit, "light", TINY_RUN_ID, draw.DigitAnalysis(TINY_RUN_ID, digit, epoch))
    assert (results, walk) == (parts.HIDDEN, parts.HIDDEN)
    assert "has no stored weights of epoch" in text_of(error) and "Traceback" not in text_of(error)


def test_a_run_without_stored_weights_shows_a_note_instead_of_the_control(draw, store_copy, use_store):
    import shutil

    use_store(store_copy)
    run = ArtifactStore(store_copy).run(TINY_RUN_ID)
    shutil.rmtree(run.path / "weights")
    page = draw.layout(run=TINY_RUN_ID)
    assert "trained before the weights of every epoch were stored" in text_of(page)
    assert page[epoch_view.EPOCH].value is None and page[epoch_view.EPOCH].disabled is True
    assert "epoch" not in page[parts.QUERY].data
    assert draw.show_epochs(test_digit(run, 0), None, "light", TINY_RUN_ID)[0] == epoch_view.HIDDEN


def test_damaged_weights_of_one_epoch_are_a_message(draw, store_copy, use_store):
    use_store(store_copy)
    run = ArtifactStore(store_copy).run(TINY_RUN_ID)
    path = run.weights_path(1)
    path.write_bytes(path.read_bytes()[:500])
    across.clear_cache()
    digit = test_digit(run, 0)
    _, _, _, error, *_ = draw.show_answer(digit, "light", TINY_RUN_ID, draw.DigitAnalysis(TINY_RUN_ID, digit, 1))
    assert "The weights of run 'tiny' after epoch 1 cannot be read" in text_of(error)
    style, *_, caption, _ = draw.show_epochs(digit, 2, "light", TINY_RUN_ID)
    assert style == epoch_view.SHOWN and "after epoch 1 cannot be read" in text_of(caption)
    # The other epochs still answer.
    assert draw.show_answer(digit, "light", TINY_RUN_ID, draw.DigitAnalysis(TINY_RUN_ID, digit, 0))[1] == parts.SHOWN


def test_engines_are_cached_per_epoch_and_bounded(run, monkeypatch):
    across.clear_cache()
    assert across.model_at(run, 0) is across.model_at(run, 0)
    assert across.model_at(run, 0) is not across.model_at(run, 1)
    monkeypatch.setattr(across, "CACHE_MAX_ENGINES", 1)
    across.clear_cache()
    across.model_at(run, 0)
    kept = across.model_at(run, 1)
    assert len(across._ENGINES) == 1 and across.model_at(run, 1) is kept
    monkeypatch.setattr(across, "CACHE_MAX_ENGINES", 64)
    monkeypatch.setattr(across, "CACHE_MAX_BYTES", 1)  # smaller than one network: none is kept
    across.clear_cache()
    across.model_at(run, 0)
    assert len(across._ENGINES) == 0
    across.clear_cache()


@pytest.mark.slow
def test_every_epoch_of_the_default_run_answers_one_digit(default_run_store):
    """All 16 epochs of the default run, loaded once, then cached (timings: benchmarks/bench_draw.py)."""
    run = ArtifactStore(default_run_store).run("default")
    pixels = run.predictions()["images"][0]
    across.clear_cache()
    first = across.across_epochs(run, pixels)
    again = across.across_epochs(run, pixels)
    assert len(first.epochs) == run.info().config.epochs + 1 >= 16
    # Every epoch but the last kept for the next stroke (the last is the live model, cached apart).
    assert len(across._ENGINES) == len(first.epochs) - 1
    np.testing.assert_array_equal(np.asarray(first.probabilities), np.asarray(again.probabilities))


# -- section 4: any test digit by number -----------------------------------------

def test_a_test_digit_by_number_opens_with_its_label(draw, run):
    predictions = run.predictions()
    digit, message, color, is_open = epoch_view.digit_from_url("17", TINY_RUN_ID)
    assert message is None and is_open is False
    assert digit == test_digit(run, 17)
    np.testing.assert_array_equal(draw.digit_pixels(digit), predictions["images"][17])
    answer = draw.show_answer(digit, "light", TINY_RUN_ID)
    assert f"test digit #17, label {int(predictions['labels'][17])}" in answer[4].layout.title.text
    assert f"The true label is {int(predictions['labels'][17])}" in text_of(answer[6])
    page = draw.layout(run=TINY_RUN_ID, test="17")
    assert page[epoch_view.TEST_REQUEST].data == "17" and "test=17" in page[parts.QUERY].data


@pytest.mark.parametrize("raw, expected", [
    ("abc", "is not a test digit's number"),
    ("1e3", "is not a test digit's number"),
    ("3.0", "is not a test digit's number"),
    ("-1", "numbered from 0, not below"),
    ("500", "has 500 test digits, numbered 0 to 499"),
    ("99999999999999999999999", "far beyond"),
    ("<script>", "is not a test digit's number"),
])
def test_a_bad_test_number_gets_a_clear_message(draw, raw, expected):
    digit, message, color, is_open = epoch_view.digit_from_url(raw, TINY_RUN_ID)
    assert digit is dash.no_update and expected in message and color == "danger" and is_open is True
    assert "Traceback" not in message and len(message) < 200
    page = draw.layout(run=TINY_RUN_ID, test=raw)
    assert page[epoch_view.TEST_REQUEST].data == raw  # checked by the callback, which has the message's place
    if not raw.isdigit():
        assert "test=" not in page[parts.QUERY].data  # never echoed into the address the page writes


def test_no_test_number_changes_nothing(draw):
    assert epoch_view.digit_from_url(None, TINY_RUN_ID) == (dash.no_update,) * 4
    _, message, _, _ = epoch_view.digit_from_url("3", "no-such-run")
    assert "no run 'no-such-run'" in message


def test_a_non_probe_digit_in_the_metrics_gallery_links_to_draw(use_store, tiny_store, run):
    from dashboard.pages.logic import metrics

    use_store(tiny_store)
    probe_ids = set(run.probes()["ids"].tolist())
    other = next(i for i in range(len(run.predictions()["labels"])) if i not in probe_ids)
    href, detail = metrics.open_digit({"points": [{"x": 3, "y": 3}]}, [other], TINY_RUN_ID, "light")
    assert href is dash.no_update
    links = [node["props"] for node in flatten(detail) if node.get("type") == "Link"]
    assert [link["href"] for link in links] == [f"/draw?run=tiny&test={other}"]
    assert "Follow it through the layers" in text_of(detail)


# -- the pure parts ----------------------------------------------------------------

def test_since_when_the_answer_has_been_the_last_epochs():
    rows = np.eye(10, dtype=np.float32)
    assert across.settled_since([0, 1, 2, 3], rows[[4, 7, 7, 7]]) == 1
    assert across.settled_since([0, 1, 2, 3], rows[[7, 7, 7, 7]]) == 0
    assert across.settled_since([0, 1, 2, 3], rows[[7, 4, 7, 2]]) == 3
    assert across.settled_since([0, 5, 10], rows[[1, 7, 7]]) == 5


def test_the_probability_lines_refuse_mismatched_shapes():
    from dashboard.figures.epochs import probabilities_by_epoch

    with pytest.raises(ValueError, match="for 3 epochs"):
        probabilities_by_epoch([0, 1, 2], np.zeros((2, 10)))
    figure = probabilities_by_epoch([0, 1], np.eye(10)[[3, 7]], true_label=3, current=None)
    assert figure.data[7].name == "7 (its answer)" and figure.data[3].name == "3 (true label)"
    assert figure.data[3].line.dash == "dash" and not figure.layout.shapes


# -- issue 12: the card is computed only while it is on screen -----------------------------

def test_off_screen_the_card_sends_its_style_and_note_and_computes_nothing(draw, run, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("every epoch's network ran for a card that is off screen")

    monkeypatch.setattr(epoch_view, "across_epochs", fail)
    digit = test_digit(run, 5)
    style, first, last, lines, caption, note, drawn = draw.show_epochs_in_view(digit, 1, "light", False,
                                                                               TINY_RUN_ID, None)
    assert style == epoch_view.SHOWN  # shown, so that it can come on screen
    assert "after epoch 1 of 2" in text_of(note)
    assert (first, last, lines, caption, drawn) == (dash.no_update,) * 5
    # No digit: hidden, whether on screen or not.
    assert draw.show_epochs_in_view(None, 1, "light", True, TINY_RUN_ID, None)[0] == epoch_view.HIDDEN


def test_on_screen_it_draws_once_then_moves_only_the_marker(draw, run):
    digit = test_digit(run, 5)
    style, first, last, lines, caption, note, drawn = draw.show_epochs_in_view(digit, 1, "light", True,
                                                                               TINY_RUN_ID, None)
    assert style == epoch_view.SHOWN and len(lines.data) == 10 and drawn["epoch"] == 1
    np.testing.assert_allclose([trace.y[1] for trace in lines.data], engine(run, 1, draw.digit_pixels(digit))[0],
                               rtol=1e-6)
    # Scrolled away and back with nothing changed: nothing is sent.
    with pytest.raises(dash.exceptions.PreventUpdate):
        draw.show_epochs_in_view(digit, 1, "light", True, TINY_RUN_ID, drawn)
    # Another epoch, same digit: the marker moves (a Patch), the two ends and the lines stay.
    _, first2, last2, marker, caption2, note2, drawn2 = draw.show_epochs_in_view(digit, 0, "light", True,
                                                                                 TINY_RUN_ID, drawn)
    assert isinstance(marker, dash.Patch) and (first2, last2, caption2) == (dash.no_update,) * 3
    assert drawn2 == {"key": drawn["key"], "epoch": 0} and "after epoch 0 of 2" in text_of(note2)
    # Another digit or theme: drawn anew.
    other = draw.show_epochs_in_view(test_digit(run, 6), 0, "light", True, TINY_RUN_ID, drawn2)
    assert len(other[3].data) == 10 and other[6]["key"] != drawn["key"]
    dark = draw.show_epochs_in_view(digit, 0, "dark", True, TINY_RUN_ID, drawn2)
    assert len(dark[3].data) == 10 and dark[6]["key"] != drawn["key"]
