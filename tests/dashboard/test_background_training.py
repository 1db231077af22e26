"""Training from the Train page: form and preview helpers, the off switch, and one real training through
DiskcacheManager with the web app (gunicorn, as the Procfile says) in a subprocess.

The helpers at the top are shared with tests/dashboard/test_celery.py and the browser test.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import pytest

from artifacts import ArtifactStore
from tests.conftest import CHROMEDRIVER, CHROMIUM, pytest_setup_options, require, subprocess_env
from tests.support.servers import procfile_web

QUICK_EPOCHS, QUICK_LIMIT = 1, 300  # a real training of about ten seconds


def web_env(store: Path, cache: Path, **extra: str) -> dict[str, str]:
    """Return the web app's environment for ``store`` with its own background cache."""
    return subprocess_env(CNNVIZ_STORE=str(store), CNNVIZ_CACHE_DIR=str(cache), **extra)


def chrome():
    """Return a headless Chromium driver (skips without Chromium, fails under CI)."""
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "Chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=pytest_setup_options())
    driver.set_page_load_timeout(30)
    return driver


def wait_for(predicate, timeout: float, message: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # an element replaced by a re-render mid-read: look again
            value = None
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message)


def text_of(driver, element_id: str) -> str:
    return driver.execute_script(
        "var e = document.getElementById(arguments[0]); return e ? e.textContent : '';", element_id)


def set_value(driver, element_id: str, value) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(str(value))


def open_train_page(driver, base: str, epochs: int = QUICK_EPOCHS, limit: int = QUICK_LIMIT) -> None:
    """Open /train and fill a quick configuration: few epochs on the first ``limit`` digits."""
    from selenium.webdriver.common.by import By

    for _ in range(8):
        # Each gunicorn worker registers Dash's script paths when it first renders the index; until
        # then it answers 500 for them (a Dash multi-worker quirk), so let every worker render it.
        urllib.request.urlopen(base + "/train", timeout=30).read()
    driver.get(base + "/train")
    wait_for(lambda: "total" in text_of(driver, "train-preview"), 30, "the layer preview never appeared")
    set_value(driver, "train-epochs", epochs)
    driver.find_element(By.CSS_SELECTOR, "details summary").click()
    set_value(driver, "train-limit", limit)


def click_train(driver) -> str:
    """Press Train; return the run id the page follows once it shows one."""
    from selenium.webdriver.common.by import By

    wait_for(lambda: driver.find_element(By.ID, "train-button").is_enabled(), 30, "Train stayed disabled")
    driver.find_element(By.ID, "train-button").click()
    return wait_for(lambda: driver.execute_script(
        "var c = document.querySelector('#train-status code'); return c ? c.textContent : '';"),
        30, "the page never showed the new run")


def badge(driver) -> str:
    return driver.execute_script("var b = document.querySelector('.train-status'); return b ? b.textContent : '';")


def wait_for_status(store: Path, run_id: str, wanted: str, timeout: float = 150) -> None:
    def status():
        runs = {summary.run_id: summary for summary in ArtifactStore(store).summaries()}
        current = runs[run_id].status if run_id in runs else None
        if current not in (None, "running", wanted):
            pytest.fail(f"run {run_id} ended {current}: {runs[run_id].problem}")
        return current == wanted

    wait_for(status, timeout, f"run {run_id} did not become {wanted} within {timeout} s", interval=0.5)


# -- pure helpers -------------------------------------------------------------------


FORM = dict(epochs=2, batch_size=64, learning_rate=0.001, seed=1, blocks=2, filters=[8, 16, 32],
            kernels=["3", "5", "3"], strides=["1", "1", "1"], paddings=["valid", "valid", "same"],
            activations=["relu", "leaky_relu", "relu"], poolings=[True, True, False], dense_units=32,
            dropout=0.25, augmentation=False)


def test_the_form_becomes_a_config():
    from dashboard.training.form import config_from_form

    config = config_from_form(**FORM)
    assert [block.filters for block in config.conv_blocks] == [8, 16]
    assert config.conv_blocks[1].kernel_size == 5 and config.conv_blocks[1].activation == "leaky_relu"
    assert (config.epochs, config.dense_units, config.dropout_rate) == (2, 32, 0.25)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blocks": 3, "kernels": ["5", "5", "5"], "paddings": ["valid"] * 3, "poolings": [True] * 3}, "below 1x1"),
        ({"blocks": 3, "strides": ["2"] * 3, "paddings": ["same"] * 3, "poolings": [True] * 3},
         "too small for 2x2 pooling"),
        ({"epochs": None}, "epochs needs a number"),
        ({"filters": [8.5, 16, 32]}, "block 1 filters must be a whole number"),
        ({"dropout": 1.0}, "dropout_rate must be a number in [0, 1)"),
    ],
)
def test_configs_that_cannot_work_say_why(change, message):
    from dashboard.training.form import config_from_form

    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        config_from_form(**{**FORM, **change})


def train_page():
    """Return the Train page's logic module: its layout and what its callbacks compute."""
    from dashboard.pages.logic import train

    return train


def test_the_preview_lists_every_layer_or_the_problem():
    preview = train_page().preview

    table = str(preview(*FORM.values()))
    assert "26×26×8" in table and "Dense" in table and "total" in table
    broken = {**FORM, "blocks": 3, "kernels": ["5", "5", "5"], "paddings": ["valid"] * 3, "poolings": [True] * 3}
    assert "cannot shrink" in str(preview(*broken.values()))


def test_the_train_callback_refuses_when_training_is_off(tmp_path, monkeypatch):
    from dash.background_callback.managers import BaseBackgroundCallbackManager

    import dashboard.app  # noqa: F401  (registers the Train callback with its manager)

    layout = train_page().layout

    monkeypatch.setenv("CNNVIZ_ALLOW_TRAINING", "0")
    monkeypatch.setenv("CNNVIZ_STORE", str(tmp_path / "store"))
    train = next(fn for _key, fn, _progress in BaseBackgroundCallbackManager.functions if fn.__name__ == "train")
    progress = []
    outcome = train(progress.append, 1, "tab-1", "mnist-sample", 300, None, *FORM.values())
    assert "turned off" in outcome["message"] and progress == []
    assert ArtifactStore(tmp_path / "store").run_ids() == []
    page = layout()
    assert find(page, "train-button").disabled is True
    assert "turned off" in " ".join(texts(page))


def find(node, component_id: str):
    """Return the component with ``component_id`` in a layout tree, or None."""
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


def texts(node) -> list[str]:
    """Return every string in a layout tree."""
    if isinstance(node, str):
        return [node]
    if node is None:
        return []
    children = getattr(node, "children", None)
    return [text for child in (children if isinstance(children, list) else [children]) for text in texts(child)]


# -- a real training through the web app ----------------------------------------------


@pytest.mark.slow
def test_training_through_the_diskcache_manager(tmp_path):
    require((Path(sys.executable).parent / "gunicorn").exists(), "gunicorn is not installed in this environment")
    store = tmp_path / "store"
    driver = chrome()
    other = None
    try:
        with procfile_web(web_env(store, tmp_path / "cache"), tmp_path / "web.log") as base:
            open_train_page(driver, base)
            clicked = time.monotonic()
            run_id = click_train(driver)
            print(f"click to first status: {time.monotonic() - clicked:.2f} s")
            # A second tab pressing Train joins the running job instead of starting another.
            other = chrome()
            open_train_page(other, base)
            assert click_train(other) == run_id
            wait_for_status(store, run_id, "complete")
            wait_for(lambda: badge(driver) == "complete", 30, "the page never showed the run complete")
            wait_for(lambda: badge(other) == "complete", 30, "the second tab never showed the run complete")
            assert driver.execute_script("return window.localStorage.getItem('active-run')") == f'"{run_id}"'
    finally:
        driver.quit()
        if other is not None:
            other.quit()
    assert ArtifactStore(store).run_ids() == [run_id]
    assert ArtifactStore(store).run(run_id).is_complete()


@pytest.mark.parametrize(("change", "message"), [
    ({"epochs": 1000, "batch_size": 1}, "epochs must be a number from 1 to 100, not 1000"),
    ({"batch_size": 1}, "batch size must be a number from 8 to 1024, not 1"),
    ({"dropout": 0.95}, "dropout must be from 0 to 0.9 here, not 0.95"),
])
def test_the_train_callback_enforces_the_forms_limits(tmp_path, monkeypatch, change, message):
    # A hand-made request is not bound by the browser's min and max. The store is unwritable,
    # so a check that is missing fails here instead of starting a training of hours.
    from dash.background_callback.managers import BaseBackgroundCallbackManager

    import dashboard.app  # noqa: F401  (registers the Train callback with its manager)

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CNNVIZ_STORE", str(blocker / "store"))
    train = next(fn for _key, fn, _progress in BaseBackgroundCallbackManager.functions if fn.__name__ == "train")
    progress = []
    outcome = train(progress.append, 1, "tab-1", "mnist-sample", None, None, *{**FORM, **change}.values())
    assert outcome["message"] == f"This configuration cannot be trained: {message}", outcome
    assert outcome["color"] == "danger" and progress == []


def test_the_forms_inputs_carry_the_servers_limits():
    from artifacts.config import FORM_LIMITS

    page = train_page().layout()
    for component_id, key in (("train-epochs", "epochs"), ("train-batch-size", "batch_size"),
                              ("train-dense-units", "dense_units"), ("train-learning-rate", "learning_rate")):
        field = find(page, component_id)
        assert (field.min, field.max) == FORM_LIMITS[key], component_id
