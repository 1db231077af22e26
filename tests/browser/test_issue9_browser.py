"""Issue 9 in headless Chromium: deleting a run asks first and refuses a running run; controls show their values."""

from __future__ import annotations

import os

import pytest
from selenium.webdriver.common.by import By

from artifacts import ArtifactStore
from tests.browser.test_runs_metrics_browser import assert_no_severe, free_port, open_page, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, require
from tests.dashboard.test_pages_runs_metrics import mark_running, second_run

pytestmark = pytest.mark.browser


@pytest.fixture
def served_copy(dash_duo, store_copy, use_store):
    """Serve the app against a writable copy of the tiny store holding a second run and a running one."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    second_run(store_copy, "doomed")
    running = second_run(store_copy, "still-running")
    mark_running(store_copy, running)
    use_store(store_copy)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    return dash_duo, store_copy


def delete_button(duo, run_id: str):
    return duo.driver.find_element(By.CSS_SELECTOR, f"button[title='Delete run {run_id}']")


def test_deleting_a_run_asks_first_and_keeps_it_on_keep(served_copy):
    duo, store = served_copy
    open_page(duo, "/?run=tiny")
    duo.wait_for_element("tr.table-active", timeout=15)
    assert not duo.driver.find_elements(By.CSS_SELECTOR, "button[title='Delete run still-running']")
    delete_button(duo, "doomed").click()
    duo.wait_for_contains_text("#runs-delete-text", "Delete run doomed", timeout=10)
    duo.driver.find_element(By.ID, "runs-delete-dismiss").click()
    wait_until(lambda: not duo.driver.find_elements(By.CSS_SELECTOR, ".modal.show"))
    assert ArtifactStore(store).exists("doomed")
    delete_button(duo, "doomed").click()
    duo.wait_for_contains_text("#runs-delete-text", "Delete run doomed", timeout=10)
    duo.driver.find_element(By.ID, "runs-delete-confirm").click()
    duo.wait_for_contains_text("#runs-delete-message", "Run 'doomed' was deleted", timeout=10)
    assert not ArtifactStore(store).exists("doomed")
    assert wait_until(lambda: "doomed" not in duo.driver.find_element(By.ID, "runs-table").text)
    assert "tiny" in duo.driver.find_element(By.ID, "runs-table").text
    assert_no_severe(duo)


def test_the_train_form_shows_values_and_no_blank_choices(served_copy):
    duo, _store = served_copy
    open_page(duo, "/train")
    duo.wait_for_contains_text("#train-preview", "total", timeout=20)
    # The dropout slider's value is on screen before anyone drags it.
    tip = wait_until(lambda: duo.driver.find_elements(By.CSS_SELECTOR,
                                                      "#train-dropout .dash-slider-tooltip.always-visible"))
    assert tip[0].text == "0.5" and tip[0].is_displayed()
    # No native <select> with an empty first entry is left on the form.
    assert duo.driver.find_elements(By.CSS_SELECTOR, "#_pages_content select") == []
    assert "3×3" in duo.driver.find_element(By.CSS_SELECTOR, "[id*='train-block-kernel_size']").text
    assert_no_severe(duo)


def test_the_theme_switch_stands_out_on_the_navbar(served_copy):
    duo, _store = served_copy
    open_page(duo, "/?run=tiny")
    switch = wait_until(lambda: duo.driver.find_elements(By.CSS_SELECTOR, ".navbar .theme-toggle input"))[0]
    style = duo.driver.execute_script(
        "var s = getComputedStyle(arguments[0]); return [s.backgroundImage, s.borderTopColor];", switch)
    assert "fff" in style[0]  # a white knob, not Bootstrap's dark-grey one on the navy bar
    assert style[1].replace(" ", "").startswith("rgba(255,255,255")
    switch.click()
    assert wait_until(lambda: duo.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')") == "dark")
