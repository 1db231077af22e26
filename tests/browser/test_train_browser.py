"""The Train page in headless Chromium against the web app (gunicorn) in a subprocess:
fill the form, train, watch progress, find the run on the Runs page; cancel a second run."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from artifacts import ArtifactStore
from tests.dashboard.test_background_training import (
    badge,
    chrome,
    click_train,
    open_train_page,
    set_value,
    text_of,
    wait_for,
    wait_for_status,
    web_env,
)
from tests.support.servers import procfile_web


@pytest.mark.browser
@pytest.mark.slow
def test_train_watch_progress_then_cancel_a_second_run(tmp_path):
    store = tmp_path / "store"
    driver = chrome()
    try:
        with procfile_web(web_env(store, tmp_path / "cache"), tmp_path / "web.log") as base:
            open_train_page(driver, base, epochs=2, limit=300)
            filters = driver.find_element(By.CSS_SELECTOR, "[id*='train-block-filters'][id*='\"index\":0']")
            filters.clear()
            filters.send_keys("12")
            wait_for(lambda: "26×26×12" in text_of(driver, "train-preview"), 10, "the preview did not follow the form")

            clicked = time.monotonic()
            run_id = click_train(driver)
            shares = set()

            def progressed():
                share = driver.execute_script(
                    "var b = document.querySelector('#train-progress-epochs .progress-bar');"
                    "return b ? b.style.width : null;")
                if share:
                    shares.add(share)
                return badge(driver) == "complete"

            wait_for(progressed, 150, "the first run never completed", interval=0.1)
            print(f"click to complete: {time.monotonic() - clicked:.1f} s, progress widths seen: {sorted(shares)}")
            assert len(shares) >= 2  # the bar moved
            assert "Done." in text_of(driver, "train-status")
            assert ArtifactStore(store).run(run_id).is_complete()
            assert driver.find_element(By.ID, "train-curves").is_displayed()

            driver.get(base + "/")
            wait_for(lambda: run_id in driver.find_element(By.TAG_NAME, "body").text, 30,
                     "the new run is not on the Runs page")

            # Long enough that Cancel always lands mid-run: 50 epochs of 300 digits could finish
            # between seeing it train and the click on a quiet machine.
            open_train_page(driver, base, epochs=50, limit=3000)
            set_value(driver, "train-run-name", run_id)
            wait_for(lambda: "already a run named" in text_of(driver, "train-run-name-feedback"), 10,
                     "a taken run name was not refused at once")
            set_value(driver, "train-run-name", "my-second-run")
            wait_for(lambda: text_of(driver, "train-run-name-feedback") == "", 10,
                     "a free run name was refused")
            second = click_train(driver)
            assert second == "my-second-run"
            wait_for(lambda: badge(driver) == "running" and "Epoch" in text_of(driver, "train-status")
                     and "Training" in text_of(driver, "train-status"), 120, "the second run never trained")
            driver.find_element(By.ID, "train-cancel").click()
            wait_for(lambda: "Stopping" in text_of(driver, "train-note") or badge(driver) == "cancelled", 10,
                     "Cancel said nothing")
            wait_for_status(store, second, "cancelled", timeout=60)
            wait_for(lambda: badge(driver) == "cancelled", 30, "the page never showed the run cancelled")
            wait_for(lambda: "Stopping" not in text_of(driver, "train-note"), 10, "'Stopping…' stayed after the cancel")
            done = len(ArtifactStore(store).run(second).history())
            assert f"cancelled after {done} of 50 epochs" in text_of(driver, "train-status")
            wait_for(lambda: not driver.find_element(By.ID, "train-button").get_attribute("disabled"), 15,
                     "Train stayed disabled after the cancel")
    finally:
        driver.quit()
