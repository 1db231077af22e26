"""bench_browser's settle detector in real headless Chromium: it waits for graphs, and it measures a page."""

from __future__ import annotations

import os
import threading
import time

import pytest

from benchmarks import bench_browser
from tests.conftest import CHROMEDRIVER, CHROMIUM, TINY_RUN_ID, require
from tests.support.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SLOW_S = 0.6  # each of the slow app's two chained callbacks sleeps this long


@pytest.fixture
def page():
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    browser = bench_browser.Page(timeout=30)
    yield browser
    browser.close()


@pytest.fixture
def slow_app():
    """A Dash app whose only graph is drawn after two chained slow callbacks; yields its URL."""
    import dash
    from dash import Input, Output, dcc, html
    from werkzeug.serving import make_server

    app = dash.Dash(__name__)
    app.layout = html.Div([dcc.Store(id="first"), dcc.Graph(id="slow-graph")])

    @app.callback(Output("first", "data"), Input("first", "id"))
    def first(_):
        time.sleep(SLOW_S)
        return [1, 3, 2]

    @app.callback(Output("slow-graph", "figure"), Input("first", "data"))
    def second(values):
        if values is None:
            return dash.no_update
        time.sleep(SLOW_S)
        return {"data": [{"type": "scatter", "y": values}], "layout": {"title": {"text": "slow done"}}}

    server = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


def test_settled_only_once_a_slow_chain_of_callbacks_has_drawn_its_graph(page, slow_app):
    sample = page.load(slow_app, "slow app")
    # Both callbacks ran one after the other before the graph could be drawn (this app sends no
    # Server-Timing, so the browser's wait on them is the measure of the server here).
    assert sample.ms >= 2 * SLOW_S * 1000
    assert sample.requests >= 2 and sample.waiting_ms >= 2 * SLOW_S * 1000 * 0.9
    drawn = page.script("var gd = document.querySelector('#slow-graph .js-plotly-plot');"
                        "return gd && gd._fullLayout && gd.data.length ? gd.layout.title.text : null;")
    assert drawn == "slow done"
    # A change made by script with nothing to redraw settles at once.
    assert page.act("nothing", lambda: None, must_change=False).ms < 1000


def test_one_dashboard_page_load_is_measured_against_the_tiny_run(page, tiny_store, tmp_path):
    with bench_browser.gunicorn(tiny_store, tmp_path / "gunicorn.log",
                               CNNVIZ_CACHE_DIR=str(tmp_path / "cache")) as (base, master):
        sample = page.load(f"{base}/training?run={TINY_RUN_ID}", "load /training")
        assert sample.ms > 0 and sample.requests > 0 and sample.kbytes > 0 and sample.server_ms > 0
        undrawn = page.script(
            "return Array.from(document.querySelectorAll('.dash-graph')).filter(function (g) {"
            " var gd = g.querySelector('.js-plotly-plot'); return !(gd && gd._fullLayout); }).length;")
        assert undrawn == 0
        assert all(size > 0 for size in bench_browser.worker_rss_mb(master))
