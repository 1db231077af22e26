"""Issue 12 in headless Chromium: the Draw page sends and draws only what is shown.

A stroke answers with the answer, the walk's layer (its feature maps one PNG image) and the
"across training" card, and no 3D: no 3D figure in any response, no WebGL scene on the page,
until the 3D surface's tab or the stacked view's switch is opened; then they follow the strokes.
A change of epoch leaves epoch 0's and the last epoch's figures where they are and moves the
lines' marker. The app is served in a thread against the tiny store (numpy, no TensorFlow).
"""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from dashboard.draw import epoch_view, whatif_view
from dashboard.draw import layout as parts
from tests.browser.test_draw_epochs_browser import served, wait_for  # noqa: F401  (the page's fixture)
from tests.browser.test_runs_metrics_browser import assert_no_severe, figure_value, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STROKE_BYTES = 120_000  # a stroke's answers, together (the page sent about 380 KB before issue 12)
THREE_D = ("surface", "scatter3d", "mesh3d", "isosurface", "volume", "cone")

# Record every callback response: which outputs it carries, its size, the trace types in it.
RECORD = """
window.__drawCalls = [];
if (!window.__drawRecording) {
  window.__drawRecording = true;
  var nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || '';
    var reply = nativeFetch.apply(this, arguments);
    if (url.indexOf('_dash-update-component') >= 0) {
      reply.then(function (response) {
        response.clone().text().then(function (text) {
          var call = {bytes: text.length, outputs: [], types: []};
          try {
            var body = JSON.parse(text);
            Object.keys(body.response || {}).forEach(function (id) {
              Object.keys(body.response[id]).forEach(function (prop) { call.outputs.push(id + '.' + prop); });
            });
            JSON.stringify(body, function (key, value) {
              if (key === 'type' && typeof value === 'string') { call.types.push(value); }
              return value;
            });
          } catch (error) { /* 204: nothing changed */ }
          window.__drawCalls.push(call);
        });
      });
    }
    return reply;
  };
}
"""
WEBGL = "return document.querySelectorAll('.js-plotly-plot .gl-container canvas').length"  # a 3D scene's canvas
TRACE_TYPES = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (gd) {
  return (gd._fullData || []).map(function (trace) { return trace.type; });
}).flat();
"""


def calls(duo) -> list[dict]:
    return duo.driver.execute_script("return window.__drawCalls || []")


def settled_calls(duo, wanted: str) -> list[dict]:
    """Wait until a response carrying output ``wanted`` arrived and no request followed for a moment; return them."""
    wait_for(lambda: any(wanted in call["outputs"] for call in calls(duo)), timeout=30,
             message=f"a response with {wanted}")
    last = None
    for _ in range(50):
        now = len(calls(duo))
        if now == last:
            break
        last = now
        duo.driver.execute_script("return new Promise(function (done) { setTimeout(done, 400); })")
    return calls(duo)


def stroke(duo, offset: float) -> None:
    """Draw a vertical stroke on the canvas with the mouse, ``offset`` of its width right of the middle."""
    canvas = duo.find_element(f"#{parts.CANVAS}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    side = canvas.size["width"]
    actions = ActionChains(duo.driver)
    actions.move_to_element(canvas).move_by_offset(int(side * offset), -int(side * 0.3)).click_and_hold()
    for _ in range(12):
        actions.move_by_offset(0, int(side * 0.05))
    actions.release().perform()


def output(name: str, prop: str = "figure") -> str:
    return f"{name}.{prop}"


def test_a_stroke_sends_no_3d_until_asked_and_then_3d_follows_the_strokes(served):  # noqa: F811
    open_page(served, "/draw?run=tiny&layer=conv_1")
    served.wait_for_text_to_equal(f"#{parts.READY}", "model ready", timeout=30)
    served.driver.execute_script(RECORD)
    stroke(served, 0.0)
    sent = settled_calls(served, output(parts.MAPS))
    served.wait_for_style_to_equal(f"#{parts.RESULTS}", "display", "block", timeout=30)
    wait_for(lambda: figure_value(served, parts.MAPS, "gd.data[0].type") == "image", message="the maps as an image")
    wait_for(lambda: figure_value(served, parts.CHANNEL_MAP, "gd.data[0].type") == "heatmap",
             message="the chosen channel flat")
    # What the stroke sent: the answer and the walk (the cards below the fold wait until scrolled to);
    # no 3D figure, and little of it.
    outputs = {name for call in sent for name in call["outputs"]}
    assert {output(parts.PROBABILITIES), output(parts.MAPS)} <= outputs
    assert output(parts.SURFACE) not in outputs and output(parts.STACKED) not in outputs
    assert not [kind for call in sent for kind in call["types"] if kind in THREE_D]
    assert sum(call["bytes"] for call in sent) < STROKE_BYTES, [(c["outputs"], c["bytes"]) for c in sent]
    # Nothing on the page set up a WebGL scene.
    assert served.driver.execute_script(WEBGL) == 0
    assert not set(served.driver.execute_script(TRACE_TYPES)) & set(THREE_D)

    # Opening the 3D tab draws the chosen channel's surface, and only that: an image of the 3D scene.
    served.driver.execute_script("arguments[0].click()",
                                 served.find_element(f"#{parts.CHANNEL_TABS} .nav-link:not(.active)"))
    served.driver.execute_script(RECORD)
    wait_for(lambda: figure_value(served, parts.SURFACE, "gd._fullData[0].type") == "image",
             message="the 3D surface's image")
    opened = settled_calls(served, output(parts.SURFACE))
    assert {name for call in opened for name in call["outputs"]} == {output(parts.SURFACE)}
    assert served.driver.execute_script(WEBGL) == 0
    # Made interactive, the WebGL scene (hover values, free rotation), again only that.
    served.driver.execute_script(RECORD)
    served.driver.execute_script("arguments[0].click()", served.find_element(f"#{parts.SURFACE_WEBGL}"))
    wait_for(lambda: figure_value(served, parts.SURFACE, "gd._fullData[0].type") == "surface",
             message="the 3D surface")
    opened = settled_calls(served, output(parts.SURFACE))
    assert {name for call in opened for name in call["outputs"]} == {output(parts.SURFACE)}
    assert served.driver.execute_script(WEBGL) > 0
    surface = figure_value(served, parts.SURFACE, "JSON.stringify(gd.data[0].z)")
    flat = figure_value(served, parts.CHANNEL_MAP, "JSON.stringify(gd.data[0].z)")
    # It follows the next stroke, as the flat map does. The what-if card, now far down the page, is
    # not drawn for it; it is once the user scrolls to it.
    served.driver.execute_script(RECORD)
    stroke(served, 0.15)
    wait_for(lambda: figure_value(served, parts.CHANNEL_MAP, "JSON.stringify(gd.data[0].z)") not in (None, flat),
             message="the channel map to follow the stroke")
    wait_for(lambda: figure_value(served, parts.SURFACE, "JSON.stringify(gd.data[0].z)") not in (None, surface),
             message="the surface to follow the stroke")
    later = {name for call in settled_calls(served, output(parts.SURFACE)) for name in call["outputs"]}
    assert output(parts.SURFACE) in later and output(whatif_view.CONV) not in later
    conv = figure_value(served, whatif_view.CONV, "gd.data[0].source")
    served.driver.execute_script(f"document.getElementById('{whatif_view.CARD}').scrollIntoView({{block: 'center'}})")
    wait_for(lambda: figure_value(served, whatif_view.CONV, "gd.data[0].source") not in (None, conv),
             message="the what-if maps of the new digit once on screen")

    # The stacked view: drawn once its switch is on, then it follows the strokes too.
    assert figure_value(served, parts.STACKED, "gd._fullData.length") in (0, None)
    switch = served.find_element(f"#{parts.STACK_SHOW}")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", switch)
    wait_for(lambda: (figure_value(served, parts.STACKED, "gd._fullData.length") or 0) > 1,
             message="the stacked view")
    # An image of the 3D scene, every layer named; made interactive, the WebGL scene.
    assert figure_value(served, parts.STACKED, "gd._fullData[0].type") == "image"
    assert figure_value(served, parts.STACKED, "gd.layout.annotations.length") > 3
    image = figure_value(served, parts.STACKED, "gd.data[0].source")
    stroke(served, 0.1)
    wait_for(lambda: figure_value(served, parts.STACKED, "gd.data[0].source") not in (None, image),
             message="the stacked image to follow the stroke")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()",
                                 served.find_element(f"#{parts.STACK_WEBGL}"))
    wait_for(lambda: figure_value(served, parts.STACKED, "gd._fullData[0].type") in THREE_D,
             message="the interactive stacked view")
    layers = figure_value(served, parts.STACKED, "JSON.stringify(gd.data.map(function (t) { return t.surfacecolor; }))")
    stroke(served, -0.15)
    wait_for(lambda: figure_value(served, parts.STACKED, "JSON.stringify(gd.data.map(function (t) "
                                  "{ return t.surfacecolor; }))") not in (None, layers),
             message="the stacked view to follow the stroke")
    assert_no_severe(served)


def test_an_epoch_change_leaves_the_untrained_and_trained_figures_alone(served):  # noqa: F811
    served.driver.set_window_size(1400, 2800)  # the slider and the card (drawn while on screen) both in view
    open_page(served, "/draw?run=tiny&test=11&layer=conv_1")
    served.wait_for_style_to_equal(f"#{epoch_view.EPOCHS_CARD}", "display", "block", timeout=30)
    wait_for(lambda: figure_value(served, epoch_view.TIMELINE, "gd.layout.shapes[0].x0") == 2,
             message="the lines marking the last epoch")
    first = figure_value(served, epoch_view.UNTRAINED, "gd.layout.title.text")
    served.driver.execute_script(RECORD)
    slider = served.find_element(f"#{epoch_view.EPOCH} [role=slider]")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    slider.send_keys(Keys.HOME)
    wait_for(lambda: figure_value(served, epoch_view.TIMELINE, "gd.layout.shapes[0].x0") == 0,
             message="the marker at epoch 0")
    sent = settled_calls(served, output(epoch_view.TIMELINE))
    outputs = {name for call in sent for name in call["outputs"]}
    # The answer and walk follow the epoch (another network answers); the card's two ends do not change.
    assert {output(parts.PROBABILITIES), output(parts.MAPS), output(epoch_view.EPOCH_NOTE, "children")} <= outputs
    assert output(epoch_view.UNTRAINED) not in outputs and output(epoch_view.TRAINED) not in outputs
    assert output(epoch_view.TIMELINE_CAPTION, "children") not in outputs
    card = next(call for call in sent if output(epoch_view.TIMELINE) in call["outputs"])
    assert card["bytes"] < 3000, card  # the marker moved (a Patch), the ten lines stayed in the browser
    assert "epoch 0" in figure_value(served, epoch_view.TIMELINE, "gd.layout.annotations[0].text")
    assert figure_value(served, epoch_view.UNTRAINED, "gd.layout.title.text") == first
    assert figure_value(served, epoch_view.TIMELINE, "gd._fullData.length") == 10
    assert not [kind for call in sent for kind in call["types"] if kind in THREE_D]
    assert json.dumps(sent).count(output(parts.STACKED)) == 0
    assert_no_severe(served)


def test_the_cards_below_the_fold_are_drawn_only_once_scrolled_to(served):  # noqa: F811
    """Issue 12: the first answer does not wait for "across training" (every epoch's network) or the what-if."""
    served.driver.set_window_size(1400, 1000)
    open_page(served, "/draw?run=tiny&test=11")
    served.wait_for_style_to_equal(f"#{epoch_view.EPOCHS_CARD}", "display", "block", timeout=30)
    served.wait_for_style_to_equal("#draw-whatif", "display", "block", timeout=30)
    wait_for(lambda: figure_value(served, parts.PROBABILITIES, "gd._fullData.length"), message="the answer")
    below = "return document.getElementById(arguments[0]).getBoundingClientRect().top > window.innerHeight"
    assert served.driver.execute_script(below, epoch_view.EPOCHS_CARD)
    time.sleep(1.5)  # what a wrong page would draw in the meantime
    assert not figure_value(served, epoch_view.TIMELINE, "gd._fullData.length")  # no lines drawn
    assert not figure_value(served, "draw-whatif-conv", "gd._fullData.length")
    served.driver.execute_script(f"document.getElementById('{epoch_view.EPOCHS_CARD}').scrollIntoView()")
    assert wait_for(lambda: figure_value(served, epoch_view.TIMELINE, "gd._fullData.length"),
                    message="the lines once on screen") == 10
    served.driver.execute_script("document.getElementById('draw-whatif').scrollIntoView()")
    served.wait_for_contains_text("#draw-whatif-conv .gtitle", "maps of", timeout=30)
    assert_no_severe(served)
