"""Issue 14 part 5: a run's self-contained HTML report (dashboard/report.py), its Runs page button and its CLI."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import dash
import pytest
from plotly.offline import get_plotlyjs

from artifacts import ArtifactStore
from artifacts.format import KERNEL_PREFIX
from dashboard.report import ReportError, build_report
from tests.conftest import ROOT, TINY_RUN_ID, subprocess_env
from tests.dashboard.test_pages_runs_metrics import second_run

# Attributes through which a page loads something (scripts, styles, images, fonts, frames, media).
LOADING_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action", "background", "xlink:href", "formaction"}
PNG = b"\x89PNG\r\n\x1a\n"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parsed(report: str) -> Tags:
    tags = Tags()
    tags.feed(report)
    return tags


@pytest.fixture(scope="module")
def tiny_report(tiny_store) -> str:
    return build_report(ArtifactStore(tiny_store).run(TINY_RUN_ID))


def test_the_report_loads_nothing_from_the_network(tiny_report):
    bundle = get_plotlyjs()
    assert tiny_report.count(bundle) == 1  # plotly.js inlined, once
    tags = parsed(tiny_report)
    loads = [(tag, name, value) for tag, attrs in tags.tags for name, value in attrs.items()
             if name in LOADING_ATTRIBUTES and value]
    # Every image is inline data; nothing else names a resource at all (no <link>, no <script src>).
    assert loads and all(tag == "img" and name == "src" and value.startswith("data:image/png;base64,")
                         for tag, name, value in loads), [item[:2] for item in loads if item[0] != "img"]
    assert not [tag for tag, _ in tags.tags if tag in ("link", "iframe", "object", "embed", "base")]
    assert not [attrs for tag, attrs in tags.tags if tag == "script" and "src" in attrs]
    assert all("url(" not in style and "@import" not in style and "@font-face" not in style for style in tags.styles)
    # Outside the plotly.js bundle (whose defaults name plot.ly, used by no figure here), no URL at all.
    rest = tiny_report.replace(bundle, "")
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", rest), re.findall(r"https?://\S{0,40}", rest)


def test_the_report_holds_every_part_of_the_run(tiny_store, tiny_report):
    run = ArtifactStore(tiny_store).run(TINY_RUN_ID)
    info = run.info()
    epochs = run.snapshot_epochs()
    snapshot = run.snapshot(epochs[-1])
    convs = [spec.name for spec in info.layers() if KERNEL_PREFIX + spec.name in snapshot]
    assert len(convs) >= 2
    graph_ids = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', tiny_report)
    assert graph_ids == ["curves", "class-accuracy", "class-metrics", "confusion",
                         *(f"filters-{name}" for name in convs)]
    assert 'class="note"' not in tiny_report  # nothing missing for a complete run
    assert f'data-cnnviz-run="{TINY_RUN_ID}"' in tiny_report  # the toolbar's file names
    assert "Download plot as SVG" in tiny_report  # assets/export.js, inlined
    assert f"{info.metrics.test_accuracy:.2%}" in tiny_report
    # Per class: the input digit, one image per captured layer before the output, and the prediction.
    images = [attrs for tag, attrs in parsed(tiny_report).tags if tag == "img"]
    layers = [spec.name for spec in info.layers() if f"act__{spec.name}" in snapshot and spec.name != "output"]
    assert len(images) == 10 * (1 + len(layers))
    for attrs in images:
        assert base64.b64decode(attrs["src"].split(",", 1)[1])[:8] == PNG
    for name in layers:
        assert tiny_report.count(f'alt="{name} (') == 10
    assert tiny_report.count("predicted ") >= 10
    # The per-class metrics table: the run's own numbers.
    frame = run.class_metrics()
    for value in frame["f1"]:
        assert f'<td class="num">{float(value):.3f}</td>' in tiny_report


def test_the_report_is_the_same_bytes_each_time(tiny_store, tiny_report):
    assert build_report(ArtifactStore(tiny_store).run(TINY_RUN_ID)) == tiny_report


def test_an_unfinished_run_has_a_clear_message(store_copy):
    run = ArtifactStore(store_copy).run(TINY_RUN_ID)
    run.update_manifest(status="failed", error="out of memory at epoch 2")
    with pytest.raises(ReportError, match=r"Run 'tiny' is failed: out of memory at epoch 2\. Only a complete run"):
        build_report(run)
    run.update_manifest(status="running", error=None)
    with pytest.raises(ReportError, match=r"is running\. Only a complete run has a report; wait until it completes"):
        build_report(run)


def test_an_old_run_without_snapshots_says_what_is_missing(store_copy):
    shutil.rmtree(store_copy / TINY_RUN_ID / "snapshots")
    report = build_report(ArtifactStore(store_copy).run(TINY_RUN_ID))
    notes = re.findall(r'<p class="note">([^<]*)</p>', report)
    assert len(notes) == 2 and all(note.startswith("This part cannot be shown for this run: ") and
                                   "snapshot" in note for note in notes), notes  # the filters and the probes
    assert '<div id="confusion" class="plotly-graph-div"' in report  # the rest is there


def test_the_runs_page_button_sends_build_report(tiny_store, tiny_report, use_store):
    use_store(tiny_store)
    from dashboard.pages.logic import runs

    sent, message = runs.download_report({"type": runs.RUNS_REPORT, "run": TINY_RUN_ID}, 1)
    assert sent["filename"] == "tiny-report.html" and not sent["base64"]
    assert sent["content"] == tiny_report and message is None
    assert runs.download_report({"type": runs.RUNS_REPORT, "run": TINY_RUN_ID}, None) == (dash.no_update,) * 2
    # The server checks the id the browser sent: no run outside the store, no report of an unknown run.
    for bad in ("../tiny", "nope"):
        sent, message = runs.download_report({"type": runs.RUNS_REPORT, "run": bad}, 1)
        assert sent is dash.no_update and message is not None


def test_the_runs_table_has_a_report_button_for_complete_runs_only(store_copy, use_store):
    use_store(store_copy)
    from dashboard.pages.logic import runs

    ArtifactStore(store_copy).run(second_run(store_copy, "was-failed")).update_manifest(status="failed")
    table = runs.runs_table(ArtifactStore(store_copy).summaries())
    found = str(table.to_plotly_json())
    assert f"'type': '{runs.RUNS_REPORT}', 'run': '{TINY_RUN_ID}'" in found
    assert "'run': 'was-failed'" in found and f"'type': '{runs.RUNS_REPORT}', 'run': 'was-failed'" not in found


def report_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard", "report", *args], capture_output=True, text=True,
                          timeout=120, env=subprocess_env(), cwd=ROOT)


def test_the_cli_writes_the_same_report(tiny_store, tiny_report, tmp_path):
    output = tmp_path / "out.html"
    result = report_cli(TINY_RUN_ID, "--store", str(tiny_store), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == tiny_report
    assert "MB" in result.stderr


def test_the_cli_refuses_a_failed_run_clearly(store_copy, tmp_path):
    ArtifactStore(store_copy).run(TINY_RUN_ID).update_manifest(status="failed")
    output = tmp_path / "out.html"
    result = report_cli(TINY_RUN_ID, "--store", str(store_copy), "-o", str(output))
    assert result.returncode == 1
    assert result.stderr.startswith("error: Run 'tiny' is failed.") and "Traceback" not in result.stderr
    assert not output.exists()
    missing = report_cli("nope", "--store", str(store_copy), "-o", str(output))
    assert missing.returncode == 1 and "There is no run 'nope'" in missing.stderr and not output.exists()


def test_small_graphs_keep_their_toolbar_for_the_downloads_alone():
    from dashboard.pages.logic import activations
    from dashboard.ui.export import PLOTLY_BUTTONS, export_only_config

    config = export_only_config()
    assert config["displayModeBar"] == "hover" and set(config["modeBarButtonsToRemove"]) == set(PLOTLY_BUTTONS)
    assert "toImage" in PLOTLY_BUTTONS  # Plotly's camera saves "newplot.png": export.js's buttons replace it
    assert activations.SMALL_CONFIG == config and activations.PICKER_CONFIG == {"displayModeBar": False}


def test_building_a_report_needs_neither_dash_nor_tensorflow():
    code = "import sys, dashboard.report; print(sorted({'dash', 'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=subprocess_env(), cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
