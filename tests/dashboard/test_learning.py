"""The Learning page's computations against direct ones from the stored arrays, and the page on real runs.

The embedding's PCA is checked against scikit-learn's on the stored float16 activations; the learned-
epoch table, the lists and the per-epoch confusion matrices against plain loops over the stored files
(read with numpy, not through the dashboard).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from dash import html

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.learning import learned, projection
from dashboard.learning.history import NoTestHistory, read_history
from tests.conftest import TINY_RUN_ID


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


@pytest.fixture(scope="module")
def stored(run):
    """The per-epoch files read directly with numpy, and the labels from predictions.npz."""
    epochs = sorted(int(path.stem.split("_")[1]) for path in (run.path / fmt.TEST_EPOCHS_DIR).glob("epoch_*.npz"))
    files = [np.load(run.path / fmt.TEST_EPOCHS_DIR / f"epoch_{epoch:03d}.npz") for epoch in epochs]
    labels = np.load(run.path / fmt.PREDICTIONS)["labels"]
    return {
        "epochs": epochs,
        "labels": labels.astype(int),
        "predicted": np.stack([f["predicted"] for f in files]).astype(int),
        "probability": np.stack([f["true_probability"] for f in files]).astype(float),
        "features": np.stack([f["features"] for f in files]).astype(float),
    }


# -- projection --------------------------------------------------------------------------


def test_pca_matches_scikit_learn_on_the_stored_activations(stored):
    from sklearn.decomposition import PCA

    for features in stored["features"][[0, -1]]:
        ours = projection.pca_2d(features)
        theirs = PCA(n_components=2).fit_transform(features)
        for component in range(2):
            sign = np.sign(ours[:, component] @ theirs[:, component])
            np.testing.assert_allclose(ours[:, component], sign * theirs[:, component], atol=1e-6)


def test_pca_signs_are_fixed_by_the_largest_loading():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 6)) * np.array([5, 3, 1, 1, 1, 1])
    coords = projection.pca_2d(features)
    flipped = projection.pca_2d(features * np.array([-1, -1, 1, 1, 1, 1]))
    # Negating the inputs' main directions negates the loadings; the sign rule turns them back.
    centred = features - features.mean(axis=0)
    for component in range(2):
        axis = np.linalg.lstsq(centred, coords[:, component], rcond=None)[0]
        assert axis[np.argmax(np.abs(axis))] > 0
    np.testing.assert_allclose(np.abs(coords), np.abs(flipped), atol=1e-9)


def test_alignment_undoes_a_rotation_and_a_reflection():
    rng = np.random.default_rng(2)
    target = projection.unit_scale(rng.normal(size=(300, 2)))
    angle = 1.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    np.testing.assert_allclose(projection.align(target @ turn, target), target, atol=1e-9)


def test_every_epoch_is_its_own_pca_turned_towards_the_last(stored):
    layouts = projection.pca_epochs(stored["features"])
    assert layouts.shape == (len(stored["epochs"]), stored["features"].shape[1], 2)
    np.testing.assert_allclose(layouts[-1], projection.unit_scale(projection.pca_2d(stored["features"][-1])))
    target = layouts[-1]
    for row in range(len(stored["epochs"])):
        own = projection.unit_scale(projection.pca_2d(stored["features"][row]))
        aligned = layouts[row]
        # A rigid turn: the same distances between digits, unit size.
        np.testing.assert_allclose(aligned @ aligned.T, own @ own.T, atol=1e-8)
        assert np.sqrt((aligned ** 2).sum(axis=1).mean()) == pytest.approx(1.0)
        # ...and no other turn or mirror of it lies closer to the last epoch's picture.
        best = np.linalg.norm(aligned - target)
        for angle in np.linspace(0, 2 * np.pi, 73):
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            for mirror in (np.eye(2), np.diag([1, -1])):
                assert best <= np.linalg.norm(own @ mirror @ rotation - target) + 1e-9


def test_tsne_is_seeded_and_aligned(stored):
    pytest.importorskip("sklearn")
    features = stored["features"][-1][:60]
    target = projection.unit_scale(projection.pca_2d(features))
    first, second = projection.tsne_2d(features, target), projection.tsne_2d(features, target)
    np.testing.assert_allclose(first, second)
    assert first.shape == (60, 2) and np.sqrt((first ** 2).sum(axis=1).mean()) == pytest.approx(1.0)


# -- when each digit is learned ------------------------------------------------------------


def loop_table(epochs, predicted, probability, labels):
    """The definitions of dashboard.learning.learned, digit by digit, epoch by epoch."""
    rows = []
    for i, label in enumerate(labels):
        correct = [int(predicted[e][i]) == int(label) for e in range(len(epochs))]
        learned_at = -1
        for e in range(len(epochs)):
            if all(correct[e:]):
                learned_at = epochs[e]
                break
        first = next((epochs[e] for e in range(len(epochs)) if correct[e]), -1)
        trained = [c for e, c in zip(epochs, correct, strict=True) if e >= 1]
        events = sum(1 for a, b in zip(trained, trained[1:], strict=False) if a and not b)
        rows.append((learned_at, first, events, float(probability[-1][i]), not any(trained)))
    return rows


def test_the_learned_table_matches_a_plain_loop_over_the_stored_files(stored):
    table = learned.learned_table(stored["epochs"], stored["predicted"], stored["probability"], stored["labels"])
    expected = loop_table(stored["epochs"], stored["predicted"], stored["probability"], stored["labels"])
    got = list(zip(table.learned_epoch.tolist(), table.first_correct.tolist(), table.forget_events.tolist(),
                   table.final_confidence.tolist(), table.always_wrong.tolist(), strict=True))
    assert got == expected
    assert (table.learned_epoch >= 0).mean() > 0.5  # the tiny run learns most digits


def test_the_learned_table_on_a_hand_made_history():
    #            digit: 0      1      2      3      4
    correct = np.array([[0, 1, 1, 0, 0],   # epoch 0
                        [1, 1, 0, 0, 0],   # epoch 1
                        [0, 1, 1, 0, 1],   # epoch 2
                        [1, 1, 1, 0, 1]])  # epoch 3
    labels = np.array([3, 3, 3, 3, 3])
    predicted = np.where(correct == 1, 3, 5)
    probability = np.array([[0.2] * 5] * 3 + [[0.9, 0.9, 0.9, 0.05, 0.6]])
    table = learned.learned_table([0, 1, 2, 3], predicted, probability, labels)
    assert table.learned_epoch.tolist() == [3, 0, 2, -1, 2]
    assert table.first_correct.tolist() == [1, 0, 0, -1, 2]
    assert table.forget_events.tolist() == [1, 0, 0, 0, 0]  # digit 2's loss at epoch 1 is epoch 0's chance
    assert table.always_wrong.tolist() == [False, False, False, True, False]
    assert learned.never_learned(table, labels).tolist() == [3]
    assert learned.forgotten(table, labels).tolist() == [0]
    assert learned.learned_last(table, labels).tolist() == [0, 4, 2, 1]  # epoch 3, then 2 (less confident first)
    shares = learned.learned_by_epoch(table, labels, [0, 1, 2, 3])
    assert shares[3].tolist() == [0.2, 0.2, 0.6, 0.8] and shares[10].tolist() == [0.2, 0.2, 0.6, 0.8]
    assert np.isnan(shares[0]).all()


def test_lists_and_curves_match_plain_loops(stored):
    epochs, labels = stored["epochs"], stored["labels"]
    table = learned.learned_table(epochs, stored["predicted"], stored["probability"], labels)
    rows = loop_table(epochs, stored["predicted"], stored["probability"], labels)
    for digit in ("all", 3):
        keep = [i for i in range(len(labels)) if digit == "all" or labels[i] == digit]
        never = sorted((rows[i][3], i) for i in keep if rows[i][4] and rows[i][3] < learned.NEVER_LEARNED_CONFIDENCE)
        assert learned.never_learned(table, labels, digit).tolist() == [i for _, i in never]
        forgot = sorted((-rows[i][2], rows[i][3], i) for i in keep if rows[i][2] > 0)
        assert learned.forgotten(table, labels, digit).tolist() == [i for *_, i in forgot]
        last = sorted((-rows[i][0], rows[i][3], i) for i in keep if rows[i][0] >= 0)
        assert learned.learned_last(table, labels, digit).tolist() == [i for *_, i in last]
    shares = learned.learned_by_epoch(table, labels, epochs)
    for k in range(10):
        members = [i for i in range(len(labels)) if labels[i] == k]
        for column, epoch in enumerate(epochs):
            done = sum(1 for i in members if 0 <= rows[i][0] <= epoch)
            assert shares[k, column] == pytest.approx(done / len(members))


def test_the_last_epochs_confusion_matrix_is_the_runs_evaluation(run, stored):
    matrices = learned.confusion_by_epoch(stored["predicted"], stored["labels"])
    assert matrices.shape == (len(stored["epochs"]), 10, 10)
    np.testing.assert_array_equal(matrices[-1], run.confusion())
    for row in range(len(stored["epochs"])):
        loop = np.zeros((10, 10), int)
        for label, answer in zip(stored["labels"], stored["predicted"][row], strict=True):
            loop[label, answer] += 1
        np.testing.assert_array_equal(matrices[row], loop)


# -- reading a run ---------------------------------------------------------------------------


def test_the_history_holds_every_epoch_from_the_untrained_network(run, stored):
    history = read_history(run)
    assert history.epochs == stored["epochs"] == list(range(3))
    np.testing.assert_array_equal(history.predicted, stored["predicted"])
    np.testing.assert_array_equal(history.features, stored["features"].astype(np.float16))
    assert history.images.shape == (len(stored["labels"]), 28, 28)


def test_a_run_from_before_the_record_says_so(store_copy):
    shutil.rmtree(store_copy / TINY_RUN_ID / fmt.TEST_EPOCHS_DIR)
    with pytest.raises(NoTestHistory, match="trained before"):
        read_history(ArtifactStore(store_copy).run(TINY_RUN_ID))


# -- the page ----------------------------------------------------------------------------------


def texts(node) -> str:
    """Every string in a component tree, joined."""
    if isinstance(node, str):
        return node
    if isinstance(node, (list, tuple)):
        return " ".join(texts(item) for item in node)
    children = getattr(node, "children", None)
    return texts(children) if children is not None else ""


def find(node, component_id):
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


@pytest.fixture
def page(store_copy, use_store):
    use_store(store_copy)
    import dashboard.app  # noqa: F401  (registers the pages and their bodies)
    from dashboard.pages.logic import learning

    return learning


def test_the_page_draws_the_embedding_with_a_frame_per_epoch(page, run):
    layout = page.layout(run=TINY_RUN_ID, epoch="1")
    scatter = find(layout, page.SCATTER).figure
    assert len(scatter.data) == 11
    assert sum(len(trace.x) for trace in scatter.data[:10]) == 500
    frames = find(layout, page.FRAMES).data
    assert frames["epochs"] == [0, 1, 2] and frames["drawn"] == 1
    assert set(frames["scatter"]) == set(frames["confusion"]) == {"0", "1", "2"}
    wrong = (run.test_epoch(1)[fmt.TEST_PREDICTED] != run.predictions()["labels"]).sum()
    assert f"{wrong} answered wrongly" in scatter.layout.title.text
    assert frames["confusion"]["2"]["z"] == run.confusion().tolist()


def test_the_class_filter_fades_the_other_classes_and_marks_only_its_mistakes(page, run):
    layout = page.layout(run=TINY_RUN_ID, digit="4")
    scatter = find(layout, page.SCATTER).figure
    opacities = [trace.marker.opacity for trace in scatter.data[:10]]
    assert opacities[4] > 0.5 and max(opacities[:4] + opacities[5:]) < 0.2
    labels, answers = run.predictions()["labels"], run.test_epoch(2)[fmt.TEST_PREDICTED]
    assert len(scatter.data[10].x) == int(((labels == 4) & (answers != 4)).sum())


def test_hovering_and_clicking_a_point_and_a_list_item_open_the_digit_through_the_layers(page):
    hover = page.hover_digit({"points": [{"customdata": 17}]}, 2, TINY_RUN_ID)
    assert "Test digit #17" in texts(hover)
    assert f"/draw?run={TINY_RUN_ID}&test=17" in json.dumps(hover.to_plotly_json(), default=str)
    assert page.click_point({"points": [{"customdata": 17}]}, TINY_RUN_ID) == f"/draw?run={TINY_RUN_ID}&test=17"
    figure, style, _title, ids = page.choose_list(page.LAST, "all", "light", TINY_RUN_ID)
    assert ids and style == {}
    point = {"points": [{"x": 1 * 31 + 5, "y": 5}]}  # the second tile
    assert page.open_tile(point, ids, TINY_RUN_ID) == f"/draw?run={TINY_RUN_ID}&test={ids[1]}"


def test_an_old_run_shows_a_message_not_an_error(page, store_copy):
    shutil.rmtree(store_copy / TINY_RUN_ID / fmt.TEST_EPOCHS_DIR)
    layout = page.layout(run=TINY_RUN_ID)
    assert "trained before" in texts(layout)
    assert find(layout, page.SCATTER) is None


def test_a_damaged_record_shows_an_error_card(page, store_copy):
    (store_copy / TINY_RUN_ID / fmt.TEST_EPOCHS_DIR / "epoch_001.npz").write_bytes(b"PK\x03\x04 garbage")
    layout = page.layout(run=TINY_RUN_ID)
    assert "cannot be read" in texts(layout) and "test_epochs/epoch_001.npz" in texts(layout)
    assert isinstance(layout, html.Div)


def test_tsne_draws_the_let_go_epoch_on_the_server_and_sends_no_scatter_frames(page):
    pytest.importorskip("sklearn")
    import dash

    assert page.tsne_epoch(1, projection.PCA, "all", "light", TINY_RUN_ID) is dash.no_update  # the browser swaps PCA
    figure = page.tsne_epoch(2, projection.TSNE, "all", "light", TINY_RUN_ID)
    assert "t-SNE of the dense layer, epoch 2" in figure.layout.title.text
    assert sum(len(trace.x) for trace in figure.data[:10]) == 500
    scatter, frames, _confusion, _curves, message = page.redraw(3, projection.TSNE, "light", 2, TINY_RUN_ID)
    assert message is None and frames["scatter"] is None and set(frames["confusion"]) == {"0", "1", "2"}
    assert scatter.data[3].marker.opacity > 0.5 and scatter.data[4].marker.opacity < 0.2
