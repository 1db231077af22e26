"""What a user feels, measured in headless Chromium: page loads, interactions, scrubbing, Draw, web RSS.

Usage: python -m benchmarks.bench_browser [--store DIR] [--run ID] [--repeat N] [--quick] [--no-write] [--only PARTS]

Without --store it reuses (or trains, about 30 s) the CLI's default run on mnist-sample in
benchmarks/.work/store, as bench_dashboard does, and adds a small second run there so the Runs
page has a run to switch to. Each repetition starts the Procfile's web line (gunicorn) afresh and:

1. visits every page but Draw, reads every gunicorn worker's RSS (VmRSS in /proc/<pid>/status);
2. opens /draw and draws a stroke as soon as the canvas is there: "first prediction" is from the
   navigation's start to the settled answer; then three later strokes, each from the pointer's
   release to the settled answer; the what-if, the epoch, opening the two 3D views and a stroke
   with them open, and each made interactive (WebGL, on demand); reads the workers' RSS again;
3. loads every navbar page (navigation start to settled);
4. times the interactions (from the input event, or the URL change, to settled), and on /activations
   opening its two 3D views, an epoch step with both open and each made interactive (also alone,
   with ``--only /activations``);
5. drags the epoch slider of /activations and /model through every epoch (last to first, to last,
   to first) and counts the frames drawn in the feature-map / filter graph per second.

"Settled" (benchmarks/settle.js, installed before the app's scripts by CDP
Page.addScriptToEvaluateOnNewDocument): the Dash renderer hydrated with no callback queued or
running, no request to _dash-update-component in flight, no Plotly draw pending, no element marked
data-dash-is-loading, every visible dcc.Graph drawn, and then 150 ms of quiet. The time reported is
the first moment the page was idle; the quiet window only confirms it and is not counted.
Writes the "Browser" section of results.md and the "browser" entry of results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.results import machine, write_section

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
RESULTS_JSON = ROOT / "benchmarks" / "results.json"
SETTLE_JS = Path(__file__).resolve().parent / "settle.js"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGES = ["/", "/training", "/metrics", "/model", "/activations", "/learning", "/draw", "/train"]
# Scrolls at once: Bootstrap makes scrolling smooth, and a smooth scroll still running would be measured as
# part of the next interaction (and cards drawn only while on screen would wait for it).
SCROLL_TO = "document.getElementById(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'})"
PARTS = frozenset({"draw", "loads", "interactions", "scrub"})  # what --only can choose
SECOND_RUN = "second"  # the Runs page's run to switch to: a small run trained next to the default one
SECOND_RUN_ARGS = ["--dataset", "mnist-sample", "--limit", "600", "--epochs", "2", "--seed", "3"]
# Goals from issue 12: milliseconds (lower is better) unless named otherwise.
GOAL_INTERACTION_MS = 500
GOAL_PAGE_MS = 1500
GOAL_FPS = 10
GOAL_DRAW_FIRST_MS = 1500
GOAL_DRAW_LATER_MS = 500
GOAL_RSS_MB = 400
SCRUB_STEP_MS = 40  # a drag that offers 25 epochs a second: faster than the 10 fps goal can follow


class BenchError(RuntimeError):
    """The page did not do what the benchmark asked (a missing element, a wait that timed out)."""


@dataclass
class Sample:
    """One measured wait: what the user waited for and what the page did meanwhile."""

    ms: float  # from the action (or navigation start) to settled
    server_ms: float  # sum of the callbacks' Server-Timing (time inside the app)
    waiting_ms: float  # wall time with at least one callback request outstanding
    longtask_ms: float  # main-thread long tasks (PerformanceObserver 'longtask')
    kbytes: float  # callback response bodies
    requests: int
    frames: int = 0  # Plotly draw calls finished in the window (set by Page.act)


@dataclass
class Row:
    """A table row: every sample of one measurement and its goal."""

    what: str
    goal: float
    unit: str = "ms"  # "ms" (lower is better), "fps" or "MB"
    samples: list[Sample] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # fps or MB rows
    on_add: Callable[[str], None] | None = field(default=None, repr=False)

    def add(self, sample: Sample, value: float | None = None) -> None:
        """Record ``sample``; ``value`` is the row's figure when it is not the sample's wait (fps)."""
        self.samples.append(sample)
        self.values.append(sample.ms if value is None else value)
        if self.on_add:
            self.on_add(f"  {self.what}: {self.values[-1]:.1f} {self.unit} (server {sample.server_ms:.0f} ms, "
                        f"long tasks {sample.longtask_ms:.0f} ms, {sample.kbytes:.0f} KB)")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def union_ms(intervals: list[tuple[float, float]]) -> float:
    """Return the total length of the union of (start, end) intervals."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


class Page:
    """A headless Chromium with settle.js installed in every document; every wait has a timeout."""

    def __init__(self, timeout: float = 60, width: int = 1400, height: int = 1000):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     f"--window-size={width},{height}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(timeout)
        self.driver.set_script_timeout(timeout)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SETTLE_JS.read_text()})
        self.timeout = timeout

    def close(self) -> None:
        """Quit the browser."""
        self.driver.quit()

    def script(self, source: str, *args):
        """Run ``source`` in the page and return its value."""
        return self.driver.execute_script(source, *args)

    def now(self) -> float:
        """Return the page's clock (epoch ms, the clock settle.js stamps everything with)."""
        return self.script("return performance.timeOrigin + performance.now();")

    def settle(self, since: float | None, what: str, after: str | None = None) -> Sample:
        """Wait until the page has settled; return the wait from ``since`` (None: navigation start).

        ``after`` names an input event type (``pointerup``): the wait then starts at the first such
        event after ``since``, as the user's action ends there; ``"*"``: at the first input event
        of any type if there is one (a change made by script has none: then at ``since``).

        Raises:
            BenchError: not settled within the timeout (says what the page was still busy with).
        """
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + self.timeout
        reason = "no answer from the page"
        while time.monotonic() < deadline:
            try:
                result = self.script(
                    "var B = window.__bench; if (!B) { return {busy: 'settle.js not installed'}; }"
                    "var since = arguments[0] === null ? performance.timeOrigin : arguments[0];"
                    "if (arguments[1]) { var t = B.firstInput(arguments[1], since); if (t !== null) { since = t; }"
                    " else if (arguments[1] !== '*') { return {busy: 'waiting for ' + arguments[1]}; } }"
                    "return B.settled(since) || {busy: B.lastReason || 'quiet window'};", since, after)
            except WebDriverException as error:  # the document is being replaced (a reload)
                reason = f"navigating ({error.msg or type(error).__name__})"
                time.sleep(0.05)
                continue
            if "busy" not in result:
                return self._sample(result)
            reason = result["busy"]
            time.sleep(0.03)
        raise BenchError(f"{what}: the page did not settle within {self.timeout:.0f} s "
                         f"(still: {reason}; at {self.driver.current_url})")

    @staticmethod
    def _sample(result: dict) -> Sample:
        timing = result["timing"]
        server = sum(entry["server"] or 0 for entry in timing)
        waiting = union_ms([(entry["start"], entry["end"]) for entry in timing if entry["end"] > 0])
        return Sample(ms=result["at"] - result["since"], server_ms=server, waiting_ms=waiting,
                      longtask_ms=result["longtask"], kbytes=result["bytes"] / 1024, requests=result["requests"])

    def load(self, url: str, what: str) -> Sample:
        """Navigate to ``url`` and return the wait from navigation start to settled."""
        self.driver.get(url)
        return self.settle(None, what)

    def act(self, what: str, action: Callable[[], object], after: str | None = None,
            must_change: bool = True) -> Sample:
        """Let the page settle, run ``action``, return the wait from its first input event to settled.

        Raises:
            BenchError: ``must_change`` and the action made no callback request and drew nothing
                (the control did not take the input: the UI has changed under the benchmark).
        """
        self.settle(None, f"{what} (before)")
        mark, plots = self.script("return [performance.timeOrigin + performance.now(), window.__bench.plots];")
        action()
        sample = self.settle(mark, what, after=after or "*")
        sample.frames = self.script("return window.__bench.plots;") - plots
        if must_change and sample.frames <= 0 and sample.requests == 0:
            raise BenchError(f"{what}: nothing happened (no callback request, no graph redrawn) at "
                             f"{self.driver.current_url}; the control did not take the input")
        return sample

    def element(self, element_id: str, css: str = "", timeout: float | None = None):
        """Return the element with id ``element_id`` (or ``css`` inside it), waiting for it.

        Raises:
            BenchError: no such element within the timeout (names it: the UI has changed).
        """
        from selenium.webdriver.common.by import By

        selector = f'[id="{element_id}"]' + (f" {css}" if css else "")
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            found = self.driver.find_elements(By.CSS_SELECTOR, selector)
            if found:
                return found[0]
            time.sleep(0.05)
        raise BenchError(f"no element {selector!r} on {self.driver.current_url}: the page's UI has changed "
                         "(update the ids benchmarks/bench_browser.py uses)")

    def rect(self, element) -> tuple[float, float, float, float]:
        """Scroll ``element`` to the middle of the window at once; return its (left, top, width, height) there."""
        return tuple(self.script(
            "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"
            "var r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];", element))

    def pointer(self):
        """Return a W3C action builder whose pointer moves instantly to window coordinates."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        return ActionBuilder(self.driver, duration=0)

    def props(self, component_id: str) -> dict:
        """Return the props the Dash renderer holds for ``component_id``.

        Raises:
            BenchError: the renderer has no such component.
        """
        self.element(component_id)
        props = self.script(
            "var s = window.store.getState(); var path = s.paths.strs[arguments[0]];"
            "if (!path) { return null; } var node = s.layout;"
            "for (var i = 0; i < path.length; i += 1) { node = node[path[i]]; }"
            "var p = Object.assign({}, node.props); delete p.children; return p;", component_id)
        if props is None:
            raise BenchError(f"the Dash renderer has no component {component_id!r} on {self.driver.current_url}")
        return props

    def set_props(self, component_id: str, **props) -> None:
        """Change a component's props the way its own widget reports a change (triggers its callbacks)."""
        self.element(component_id)
        self.script("window.dash_clientside.set_props(arguments[0], arguments[1]);", component_id, props)


@contextlib.contextmanager
def gunicorn(store: Path, log: Path, **extra: str) -> Iterator[tuple[str, int]]:
    """Run the Procfile's web line (PORT set, loopback); yield (base URL, gunicorn master pid).

    ``extra`` adds to or overrides the environment :func:`child_env` gives it.
    """
    from tests.support.servers import free_port, procfile_command, wait_for_http

    port = free_port()
    env = child_env(store, PORT=str(port), **extra)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with open(log, "wb") as output:
        process = subprocess.Popen(["bash", "-c", f"exec {procfile_command('web')}"], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(base + "/healthz", 60, process)
            yield base, process.pid
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()


def child_env(store: Path, **extra: str) -> dict[str, str]:
    """Environment for the server and trainer: the store, quiet TensorFlow, this checkout importable."""
    env = dict(os.environ, CNNVIZ_STORE=str(store), TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    env["CNNVIZ_CACHE_DIR"] = str(WORK / "browser-cache")
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def worker_rss_mb(master: int) -> list[float]:
    """Return every gunicorn worker's resident memory (VmRSS of /proc/<pid>/status) in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    if not sizes:
        raise BenchError(f"gunicorn (pid {master}) has no worker processes")
    return sizes


def ensure_store(store: Path | None, run_id: str | None) -> tuple[Path, str, str | None]:
    """Return (store, run to measure, another complete run for the run switch or None).

    Without ``store``: benchmarks/.work/store with the default run (trained if missing) and a small
    second run (trained if missing). A given store is only read: the switch uses another run in it.
    """
    if store is None:
        from benchmarks.bench_dashboard import ensure_store as ensure_default

        store, found = ensure_default(WORK / "store")
        if not (store / SECOND_RUN / "manifest.json").exists():
            subprocess.run([sys.executable, "-m", "pipeline", "train", *SECOND_RUN_ARGS, "--store", str(store),
                            "--run-id", SECOND_RUN, "--quiet"], check=True, cwd=ROOT, env=child_env(store))
        return store, run_id or found, SECOND_RUN
    runs = sorted(p.parent.name for p in store.glob("*/manifest.json"))
    run_id = run_id or next((run for run in runs if run != SECOND_RUN), None)
    if run_id is None or run_id not in runs:
        raise BenchError(f"no run {run_id or ''} in {store}")
    return store, run_id, next((run for run in runs if run != run_id), None)


def page_ids() -> dict[str, str]:
    """Return the component ids the benchmark drives, read from the pages' own constants.

    Raises:
        BenchError: a page no longer defines one of them (names the module and constant).
    """
    # Importing the pages' logic to read their constants: keep it off the user's store and cache.
    os.environ.setdefault("CNNVIZ_STORE", str(WORK / "store"))
    os.environ.setdefault("CNNVIZ_CACHE_DIR", str(WORK / "browser-cache"))
    wanted = {
        "probe_picker": ("dashboard.pages.logic.activations", "PICKER"),
        "layer": ("dashboard.pages.logic.activations", "LAYER"),
        "channel": ("dashboard.pages.logic.activations", "CHANNEL"),
        "epoch": ("dashboard.pages.logic.activations", "EPOCH"),
        "digit": ("dashboard.pages.logic.activations", "DIGIT"),
        "mosaic": ("dashboard.pages.logic.activations", "MOSAIC"),
        "confusion": ("dashboard.pages.logic.metrics", "METRICS_CONFUSION"),
        "model_epoch": ("dashboard.pages.logic.model", "EPOCH"),
        "filters": ("dashboard.pages.logic.model", "FILTERS"),
        "runs_select": ("dashboard.pages.logic.runs", "RUNS_SELECT"),
        "theme_switch": ("dashboard.ui.ids", "THEME_SWITCH"),
        "canvas": ("dashboard.draw.layout", "CANVAS"),
        "whatif_stride": ("dashboard.draw.whatif_view", "STRIDE"),
        "whatif_card": ("dashboard.draw.whatif_view", "CARD"),
        "draw_epoch": ("dashboard.draw.epoch_view", "EPOCH"),
        "draw_channel_tabs": ("dashboard.draw.layout", "CHANNEL_TABS"),
        "draw_stack_show": ("dashboard.draw.layout", "STACK_SHOW"),
        "channel_tabs": ("dashboard.pages.logic.activations", "CHANNEL_TABS"),
        "stack_show": ("dashboard.pages.logic.activations", "STACK_SHOW"),
    }
    # The interactive (WebGL) switches of the 3D views: measured where the checkout has them.
    optional = {
        "draw_surface_webgl": ("dashboard.draw.layout", "SURFACE_WEBGL"),
        "draw_stack_webgl": ("dashboard.draw.layout", "STACK_WEBGL"),
        "surface_webgl": ("dashboard.pages.logic.activations", "SURFACE_WEBGL"),
        "stack_webgl": ("dashboard.pages.logic.activations", "STACK_WEBGL"),
    }
    found = {}
    for key, (module, name) in {**wanted, **optional}.items():
        try:
            found[key] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            if key in optional:
                continue
            raise BenchError(f"{module}.{name} is gone ({error}): update benchmarks/bench_browser.py") from error
    return found


class Session:
    """One repetition's measurements against one server; appends to the shared rows."""

    def __init__(self, page: Page, base: str, run_id: str, ids: dict[str, str], rows: dict[str, Row],
                 on_progress: Callable[[str], None] | None = None, other_run: str | None = None):
        self.page, self.base, self.run_id, self.ids, self.rows = page, base, run_id, ids, rows
        self.on_progress = on_progress
        self.other_run = other_run  # the run "choose a run" switches to (None: that row is left out)

    def row(self, what: str, goal: float, unit: str = "ms") -> Row:
        """Return the row ``what`` (created on first use)."""
        return self.rows.setdefault(what, Row(what, goal, unit, on_add=self.on_progress))

    def url(self, path: str, **query: object) -> str:
        search = "&".join(f"{key}={value}" for key, value in {"run": self.run_id, **query}.items())
        return f"{self.base}{path}?{search}"

    def visit(self, paths: list[str]) -> None:
        """Load ``paths`` and let each settle (not recorded)."""
        for path in paths:
            self.page.load(self.url(path), f"visit {path}")

    def page_loads(self, paths: list[str]) -> None:
        for path in paths:
            self.row(f"`{path}` page load", GOAL_PAGE_MS).add(self.page.load(self.url(path), f"load {path}"))

    def stroke(self, offset: float) -> None:
        """Draw a vertical stroke (a "1") on the Draw canvas with the mouse, ``offset`` of the width right."""
        left, top, width, height = self.page.rect(self.page.element(self.ids["canvas"]))
        x = int(left + width * (0.5 + offset))
        builder = self.page.pointer()
        builder.pointer_action.move_to_location(x, int(top + height * 0.2)).pointer_down()
        for step in range(1, 13):
            builder.pointer_action.move_to_location(x, int(top + height * (0.2 + 0.05 * step))).pause(0.01)
        builder.pointer_action.pointer_up()
        builder.perform()

    def draw(self) -> None:
        """Open /draw, stroke at once (first prediction from navigation start), then three later strokes."""
        self.page.driver.get(self.url("/draw"))
        self.stroke(0.0)
        self.row("Draw: first prediction after opening the page", GOAL_DRAW_FIRST_MS).add(
            self.page.settle(None, "Draw first prediction"))
        for offset in (-0.2, 0.2, 0.1):
            self.row("Draw: a later stroke (from the pointer's release)", GOAL_DRAW_LATER_MS).add(
                self.page.act("Draw later stroke", lambda o=offset: self.stroke(o), after="pointerup"))
        # The what-if card is drawn while on screen: scroll to it as a user would (not measured).
        self.page.script(SCROLL_TO, self.ids["whatif_card"])
        self.page.settle(self.page.now(), "Draw what-if card shown")
        for stride in (2, 1):
            self.row("Draw: conv_1 what-if, stride changed", GOAL_INTERACTION_MS).add(self.page.act(
                "Draw what-if stride", lambda v=stride: self.page.set_props(self.ids["whatif_stride"], value=v)))
        for epoch in (0, 1):
            self.row("Draw: the epoch changed (answer, walk, card)", GOAL_INTERACTION_MS).add(self.page.act(
                "Draw epoch", lambda v=epoch: self.page.set_props(self.ids["draw_epoch"], value=v)))
        # The 3D views are drawn only once asked for: opening each is an interaction of its own, and a
        # stroke with both open redraws them (the canvas scrolled back into view first, not measured).
        self.row("Draw: the 3D surface tab opened", GOAL_INTERACTION_MS).add(self.page.act(
            "Draw 3D surface", lambda: self.page.set_props(self.ids["draw_channel_tabs"], active_tab="surface")))
        self.row("Draw: every layer stacked in 3D switched on", GOAL_INTERACTION_MS).add(self.page.act(
            "Draw stacked 3D", lambda: self.page.set_props(self.ids["draw_stack_show"], value=True)))
        self.page.script(SCROLL_TO, self.ids["canvas"])
        self.page.settle(self.page.now(), "Draw canvas shown")
        self.row("Draw: a later stroke with both 3D views open", GOAL_DRAW_LATER_MS).add(
            self.page.act("Draw stroke with 3D", lambda: self.stroke(-0.1), after="pointerup"))
        # On demand: the interactive (WebGL) views, where the checkout offers them as a switch.
        for key, what in (("draw_surface_webgl", "3D surface"), ("draw_stack_webgl", "stacked 3D view")):
            if key in self.ids:
                self.row(f"Draw: the {what} made interactive (WebGL, on demand)", GOAL_INTERACTION_MS).add(
                    self.page.act(f"Draw {what} WebGL", lambda k=key: self.page.set_props(self.ids[k], value=True)))

    def activations_3d(self) -> None:
        """Open /activations and its two 3D views (each drawn only once asked for), then step the epoch."""
        ids, page = self.ids, self.page
        goal = GOAL_INTERACTION_MS
        page.load(self.url("/activations"), "load /activations")
        self.row("`/activations` 3D surface tab opened", goal).add(page.act(
            "activations 3D surface", lambda: page.set_props(ids["channel_tabs"], active_tab="surface")))
        self.row("`/activations` every layer stacked in 3D switched on", goal).add(page.act(
            "activations stacked 3D", lambda: page.set_props(ids["stack_show"], value=True)))
        slider = page.props(ids["epoch"])
        target = int(slider["min"]) if slider.get("value") != slider["min"] else int(slider["max"])
        self.row("`/activations` epoch (one slider step) with both 3D views open", goal).add(page.act(
            "activations epoch with 3D", lambda: page.set_props(ids["epoch"], value=target)))
        for key, what in (("surface_webgl", "3D surface"), ("stack_webgl", "stacked 3D view")):
            if key in ids:
                self.row(f"`/activations` {what} made interactive (WebGL, on demand)", goal).add(page.act(
                    f"activations {what} WebGL", lambda k=key: page.set_props(ids[k], value=True)))

    def interactions(self, repetition: int) -> None:
        ids, page = self.ids, self.page
        goal = GOAL_INTERACTION_MS
        page.load(self.url("/activations"), "load /activations")
        probe = (repetition % 5) + 1
        self.row("`/activations` probe (URL change + popstate, as Back does)", goal).add(page.act(
            "probe popstate", lambda: page.script(
                "history.pushState({cnnviz: true}, '', arguments[0]);"
                "window.dispatchEvent(new PopStateEvent('popstate', {state: {cnnviz: true}}));",
                self.url("/activations", probe=probe)[len(self.base):])))
        layers = [option["value"] if isinstance(option, dict) else option
                  for option in page.props(ids["layer"]).get("options") or []]
        if len(layers) < 2:
            raise BenchError(f"the layer dropdown {ids['layer']!r} offers {layers}: need two layers")
        current = page.props(ids["layer"]).get("value")
        self.row("`/activations` layer", goal).add(page.act(
            "layer", lambda: page.set_props(ids["layer"], value=next(v for v in layers if v != current))))
        channel = page.props(ids["channel"]).get("value") or 0
        self.row("`/activations` channel", goal).add(page.act(
            "channel", lambda: page.set_props(ids["channel"], value=(channel + 1) % 4)))
        slider = page.props(ids["epoch"])
        epoch = int(slider["min"]) + (repetition % max(1, int(slider["max"]) - int(slider["min"])))
        if epoch == slider.get("value"):
            epoch = int(slider["max"])
        self.row("`/activations` epoch (one slider step)", goal).add(page.act(
            "epoch", lambda: page.set_props(ids["epoch"], value=epoch)))
        self.row("`/activations` digit class", goal).add(page.act(
            "digit class", lambda: page.set_props(ids["digit"], value=repetition % 10)))
        for state in ("dark", "light"):
            self.row(f"theme toggle to {state} (on `/activations`)", goal).add(page.act(
                f"theme {state}", lambda: page.script("arguments[0].click();", page.element(ids["theme_switch"]))))

        page.load(self.url("/metrics"), "load /metrics")
        row, column = self.worst_cell()
        self.row("`/metrics` confusion cell click (the cell with most mistakes)", goal).add(page.act(
            "confusion click", lambda: self.click_cell(row, column)))

        page.load(self.url("/model"), "load /model")
        model_slider = page.props(ids["model_epoch"])
        target = int(model_slider["min"]) if model_slider.get("value") != model_slider["min"] else model_slider["max"]
        self.row("`/model` epoch (one slider step)", goal).add(page.act(
            "model epoch", lambda: page.set_props(ids["model_epoch"], value=target)))

        if self.other_run is None:
            return
        page.load(self.url("/"), "load /")
        for run in (self.other_run, self.run_id):
            self.row("`/` choose a run", goal).add(page.act(
                f"choose run {run}", lambda r=run: page.set_props(ids["runs_select"], value=r)))

    def worst_cell(self) -> tuple[int, int]:
        """Return (true, predicted) of the off-diagonal confusion cell with the most digits (a user's first click)."""
        graph = self.page.element(self.ids["confusion"], ".js-plotly-plot")
        counts = self.page.script(
            "var gd = arguments[0]; var cd = gd.calcdata && gd.calcdata[0] && gd.calcdata[0][0];"
            "var z = cd && cd.z ? cd.z : (gd.data[0] || {}).z;"
            "try { return Array.from(z, function (row) { return Array.from(row); }); } catch (e) { return null; }",
            graph)
        if not counts or len(counts) != 10 or any(len(row) != 10 for row in counts):
            return 2, 0  # the matrix's values are not readable as 10x10: a cell that has mistakes in most runs
        cells = [(float(counts[r][c] or 0), r, c) for r in range(10) for c in range(10) if r != c]
        _, row, column = max(cells)
        return row, column

    def click_cell(self, row: int, column: int) -> None:
        """Click the confusion matrix's cell (true ``row``, predicted ``column``) with the mouse."""
        left, top, width, height = self.page.rect(self.page.element(self.ids["confusion"], ".nsewdrag"))
        builder = self.page.pointer()
        builder.pointer_action.move_to_location(int(left + (column + 0.5) / 10 * width),
                                                int(top + (row + 0.5) / 10 * height)).click()
        builder.perform()

    def scrub(self, path: str, slider_id: str, graph_id: str) -> None:
        """Drag ``slider_id`` from its value to the first epoch, the last and the first again; count frames a second.

        Ending on another epoch than it started makes even a slider that commits only on release draw
        one frame, which shows the drag took.
        """
        page = self.page
        page.load(self.url(path), f"load {path}")
        props = page.props(slider_id)
        low, high, step = int(props["min"]), int(props["max"]), int(props.get("step") or 1)
        found = page.driver.find_elements("css selector", f'[id="{slider_id}"] .dash-slider-root')
        root = found[0] if found else page.element(slider_id)
        left, top, width, height = page.rect(root)
        value = int(props.get("value") if props.get("value") is not None else high)
        epochs = list(range(low, high + 1, step))
        path_values = list(range(value, low - 1, -step)) + epochs[1:] + epochs[::-1][1:]

        def x_of(epoch: int) -> int:
            return int(left + 2 + (epoch - low) / max(1, high - low) * (width - 4))

        frames_before = page.script("return (window.__bench.frames[arguments[0]] || 0);", graph_id)
        builder = page.pointer()
        pointer = builder.pointer_action
        pointer.move_to_location(x_of(path_values[0]), int(top + height / 2)).pointer_down()
        for epoch in path_values[1:]:
            pointer.move_to_location(x_of(epoch), int(top + height / 2)).pause(SCRUB_STEP_MS / 1000)
        pointer.pointer_up()
        sample = page.act(f"scrub {path}", builder.perform, must_change=False)
        frames = page.script("return (window.__bench.frames[arguments[0]] || 0);", graph_id) - frames_before
        row = self.row(f"`{path}` epoch scrubbing: frames drawn per second while dragging", GOAL_FPS, "fps")
        row.add(sample, frames / (sample.ms / 1000) if sample.ms > 0 else 0.0)


def measure(store: Path, run_id: str, repeat: int, timeout: float, log_dir: Path,
            on_progress: Callable[[str], None] | None = None, verbose: bool = False,
            other_run: str | None = None, only: frozenset[str] = PARTS) -> dict[str, Row]:
    """Run ``repeat`` repetitions (a fresh gunicorn each) and return the rows by name.

    Args:
        only: the parts to measure (:data:`PARTS`); "loads" alone of a part, with page paths in it
            (e.g. ``/activations``), loads only those pages.
    """
    paths = [path for path in PAGES if path in only] or PAGES
    on_progress = on_progress or (lambda text: print(text, flush=True))
    ids = page_ids()
    rows: dict[str, Row] = {}
    page = Page(timeout=timeout)
    try:
        for repetition in range(repeat):
            with gunicorn(store, log_dir / f"gunicorn-browser-{repetition}.log") as (base, master):
                session = Session(page, base, run_id, ids, rows, on_progress if verbose else None, other_run)
                session.visit([path for path in PAGES if path != "/draw"])
                before = max(worker_rss_mb(master))
                on_progress(f"[{repetition + 1}/{repeat}] every page but Draw visited; worker RSS max {before:.0f} MB")
                if "draw" in only:
                    session.draw()
                    after = max(worker_rss_mb(master))
                    rows.setdefault("rss_before", Row("web worker RSS after every page but Draw", GOAL_RSS_MB, "MB"))
                    rows.setdefault("rss_after", Row("web worker RSS after every page and a Draw prediction",
                                                     GOAL_RSS_MB, "MB"))
                    rows["rss_before"].values.append(before)
                    rows["rss_after"].values.append(after)
                    on_progress(f"[{repetition + 1}/{repeat}] Draw done; worker RSS max {after:.0f} MB")
                if "loads" in only:
                    session.page_loads(paths)
                if "interactions" in only:
                    session.interactions(repetition)
                if "interactions" in only or "/activations" in only:
                    session.activations_3d()
                if "scrub" in only:
                    session.scrub("/activations", ids["epoch"], ids["mosaic"])
                    session.scrub("/model", ids["model_epoch"], ids["filters"])
                on_progress(f"[{repetition + 1}/{repeat}] done")
    finally:
        page.close()
    return rows


def summary(row: Row) -> dict:
    """Return a row's p50, p95, server and page-side figures and whether it meets its goal."""
    p50, p95 = percentile(row.values, 50), percentile(row.values, 95)
    # The goal holds for the slow end: p95 for times and memory, p5 (the worse end) for frame rates.
    met = percentile(row.values, 5) >= row.goal if row.unit == "fps" else p95 <= row.goal
    result = {"what": row.what, "unit": row.unit, "p50": round(p50, 1), "p95": round(p95, 1), "goal": row.goal,
              "met": met, "n": len(row.values), "values": [round(v, 1) for v in row.values]}
    if row.samples:
        for key in ("server_ms", "waiting_ms", "longtask_ms", "kbytes", "requests"):
            result[f"{key}_p50"] = round(percentile([getattr(s, key) for s in row.samples], 50), 1)
        result["samples"] = [{k: round(v, 1) for k, v in asdict(s).items()} for s in row.samples]
    return result


def shown(value: float, unit: str) -> str:
    """Return ``value`` for the table: milliseconds as seconds, other units as they are."""
    return f"{value / 1000:.2f} s" if unit == "ms" else f"{value:.1f} {unit}"


def table(results: list[dict]) -> str:
    """Return the results as a markdown table."""
    lines = ["| what | p50 | p95 | server p50 | waiting on callbacks p50 | long tasks p50 | callback KB p50 "
             "| goal | met? |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for item in results:
        unit = item["unit"]
        goal = f"≥ {item['goal']} fps" if unit == "fps" else (
            f"≤ {item['goal'] / 1000:g} s" if unit == "ms" else f"≤ {item['goal']} MB")
        extra = ["", "", "", ""]
        if "server_ms_p50" in item:
            extra = [f"{item['server_ms_p50']:.0f} ms", f"{item['waiting_ms_p50']:.0f} ms",
                     f"{item['longtask_ms_p50']:.0f} ms", f"{item['kbytes_p50']:.0f}"]
        lines.append(f"| {item['what']} | {shown(item['p50'], unit)} | {shown(item['p95'], unit)} "
                     f"| {' | '.join(extra)} | {goal} | {'yes' if item['met'] else '**no**'} |")
    return "\n".join(lines)


def write_results(results: list[dict], run_id: str, repeat: int) -> None:
    """Write the "Browser" section of results.md and the "browser" entry of results.json."""
    load = os.getloadavg()
    write_section("Browser", "\n".join([
        f"`python -m benchmarks.bench_browser --repeat {repeat}` on {machine()}; run `{run_id}` "
        "(the CLI's default model, 15 epochs), headless Chromium (software GL), gunicorn from the Procfile "
        f"started afresh for each of the {repeat} repetitions. Load average at the end: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared cores).",
        "",
        "Times run from navigation start (page loads, the first Draw prediction) or from the input event "
        "(interactions; a later stroke from the pointer's release) to settled: every visible graph drawn, "
        "no Dash callback queued or in flight, no Plotly draw pending, then 150 ms of quiet (not counted). "
        "Server: the callbacks' Server-Timing summed; waiting: wall time with a callback request outstanding; "
        "long tasks: main-thread tasks over 50 ms; KB: callback response bodies. Scrubbing drags the slider "
        f"from the last epoch to the first, the last and the first again at one epoch per {SCRUB_STEP_MS} ms "
        "and counts the frames the graph draws per second until settled. Goals met at p95 (p5 for frame rates).",
        "",
        table(results),
    ]))
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    data["browser"] = {"machine": machine(), "run": run_id, "repeat": repeat,
                       "load_average": [round(v, 2) for v in load], "rows": results}
    RESULTS_JSON.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and (unless --quick or --no-write) write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a store with the run to measure (default: benchmarks/.work/store)")
    parser.add_argument("--run", help="the run to measure (default: the store's first)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=90, help="seconds any one wait may take")
    parser.add_argument("--quick", action="store_true", help="one repetition, nothing written (a smoke run)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every sample as it is measured")
    parser.add_argument("--only", help="comma-separated parts to measure (draw, loads, interactions, scrub) and "
                        "page paths to load (e.g. draw,loads,/activations; /activations alone: its 3D views); "
                        "implies --no-write")
    args = parser.parse_args(argv)
    only = PARTS
    if args.only:
        only = frozenset(part.strip() for part in args.only.split(",") if part.strip())
        unknown = {part for part in only if part not in PARTS and part not in PAGES}
        if unknown:
            parser.error(f"--only: unknown parts {sorted(unknown)}; choose from {sorted(PARTS)} or {PAGES}")
        args.no_write = True
    repeat = 1 if args.quick else args.repeat
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        store, run_id, other_run = ensure_store(args.store, args.run)
        if other_run is None:
            print(f"bench_browser: {store} holds no second run: '/ choose a run' is left out", flush=True)
        rows = measure(store.resolve(), run_id, repeat, args.timeout, WORK, verbose=args.verbose, other_run=other_run,
                       only=only)
    except BenchError as error:
        print(f"bench_browser: {error}", file=sys.stderr)
        return 2
    results = [summary(row) for row in rows.values()]
    print(table(results))
    if not (args.quick or args.no_write):
        write_results(results, run_id, repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
