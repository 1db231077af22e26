// Epoch scrubbing in the browser: the server sends every epoch's frame of a page's views once
// (a dcc.Store), and these functions swap the dragged epoch's frame into the figures. No
// request while the slider moves; Plotly redraws only what changed.
(function () {
  function noUpdates(count) {
    var list = [];
    for (var index = 0; index < count; index++) { list.push(window.dash_clientside.no_update); }
    return list;
  }

  // The slider value that fired: drag_value while dragging, value once let go (or on a key).
  function firedEpoch(drag, value) {
    var fired = (window.dash_clientside.callback_context.triggered || [])[0];
    var raw = fired && /\.drag_value$/.test(fired.prop_id) ? drag : value;
    return raw === null || raw === undefined ? value : raw;
  }

  function nearest(epochs, value) {
    var best = null;
    (epochs || []).forEach(function (epoch) {
      if (best === null || Math.abs(epoch - value) < Math.abs(best - value)) { best = epoch; }
    });
    return best;
  }

  function drawn(figure) { return figure && figure.data && figure.data.length ? figure : null; }

  // A copy of ``figure`` whose trace ``index`` takes ``changes`` and whose title reads ``title``.
  function swap(figure, index, changes, title) {
    var data = figure.data.slice();
    data[index] = Object.assign({}, data[index], changes);
    var layout = Object.assign({}, figure.layout);
    if (title !== undefined) { layout.title = Object.assign({}, layout.title, {text: title}); }
    return Object.assign({}, figure, {data: data, layout: layout});
  }

  function badge(text, color, className) {
    return {namespace: "dash_bootstrap_components", type: "Badge",
            props: {children: text, color: color, className: className}};
  }

  // Per page: the frames and the epoch last drawn, so that the slider's drag_value set on mount
  // (the epoch the server drew, ``frames.drawn``) or a let-go after a drag draws nothing again.
  // ``shown``: the epoch the graphs show (a drag draws them directly); ``target``: the epoch they
  // will show once the scheduled drag frame is drawn; ``full``: the epoch of the figures Dash holds.
  var last = {};

  function stateOf(page, frames) {
    if (!last[page] || last[page].frames !== frames) {
      last[page] = {frames: frames, shown: frames.drawn, target: frames.drawn, full: frames.drawn};
    }
    return last[page];
  }

  // While the handle is dragged, the graphs are drawn here, not through Dash: one Plotly.update per
  // graph in an animation frame, for the latest epoch dragged to. Epochs dragged past while a frame
  // is being drawn are dropped, so frames never queue up behind a slow draw.
  // ``drawing`` settles when the frame being drawn is: the let-go's figures wait for it, as Plotly
  // left a graph's promise unresolved when Dash redrew it while an image was still being swapped in.
  var job = null, busy = false, scheduled = false, drawing = Promise.resolve();

  function kick() {
    if (busy || scheduled || !job) { return; }
    scheduled = true;
    busy = true;
    drawing = new Promise(function (settled) {
      window.requestAnimationFrame(function () {
        scheduled = false;
        var draw = job;
        job = null;
        var done = function () { busy = false; settled(); kick(); };
        if (!draw) { done(); return; }
        Promise.resolve().then(draw).then(done, done);
      });
    });
  }

  function schedule(draw) { job = draw; kick(); }

  // ``out`` once the frame being drawn is drawn (at once when none is).
  function afterDrawing(out) {
    job = null;  // a drag frame not drawn yet would draw over the let-go epoch
    return busy ? drawing.then(function () { return out; }) : out;
  }

  // The Plotly div of the graph the callback's output ``index`` is (null before it is drawn).
  function plotOf(index) {
    var outputs = window.dash_clientside.callback_context.outputs_list || [];
    var output = outputs[index];
    var host = output && typeof output.id === "string" ? document.getElementById(output.id) : null;
    var plot = host && (host.classList.contains("js-plotly-plot") ? host : host.querySelector(".js-plotly-plot"));
    return plot && plot.data && plot.data.length && window.Plotly ? plot : null;
  }

  function update(plot, data, title, traces) {
    return window.Plotly.update(plot, data, title === undefined ? {} : {"title.text": title}, traces);
  }

  // The 3D surface is a server-rendered image (trace 0 an image) unless its "interactive" switch swapped in the
  // WebGL scene (trace 0 a surface): only the WebGL scene's z is swapped here; the image follows the slider once
  // it is let go (the server draws that epoch's image).
  function isImage(figure) { return Boolean(figure && figure.data && figure.data[0] && figure.data[0].type === "image"); }

  window.cnnviz = Object.assign(window.cnnviz || {}, {
    // Activations: summary, note, note shown, saliency, probabilities, mosaic, surface, dense, channel map.
    // While the handle is dragged only the feature maps and the open tab's channel view follow, drawn
    // directly (see ``schedule``): a drag frame is one image swap and one heatmap (or surface) update.
    // Letting go (or a key) draws every view at that epoch through Dash, so its figures hold it.
    activationFrame: function (drag, value, frames, tab, saliency, probabilities, mosaic, surface, dense, channel) {
      var skip = noUpdates(9);
      if (!frames || !frames.frames) { return skip; }
      var fired = (window.dash_clientside.callback_context.triggered || [])[0];
      var dragging = Boolean(fired && /\.drag_value$/.test(fired.prop_id));
      var epoch = nearest(frames.epochs, firedEpoch(drag, value));
      var frame = frames.frames[String(epoch)];
      if (!frame) { return skip; }
      var state = stateOf("activations", frames);
      var surfaceOpen = tab === "surface";
      if (dragging) {
        if (state.target === epoch) { return skip; }
        var tilesPlot = drawn(mosaic) && mosaic.data.length > 1 ? plotOf(5) : null;
        var surfacePlot = drawn(surface) && !isImage(surface) ? plotOf(6) : null;
        var viewPlot = surfaceOpen ? surfacePlot : (drawn(channel) ? plotOf(8) : null);
        if (tilesPlot || viewPlot) {
          state.target = epoch;
          schedule(function () {
            state.shown = epoch;
            var tiles = frame.mosaic, drawing = [];
            if (tilesPlot) {
              drawing.push(update(tilesPlot, {source: [tiles.source, undefined], "marker.cmin": [undefined, tiles.low],
                                              "marker.cmax": [undefined, tiles.high]}, tiles.title, [0, 1]));
            }
            if (viewPlot) {
              drawing.push(update(viewPlot, {z: [frame.surface.z]},
                                  surfaceOpen ? frame.surface.title : frame.surface.map_title, [0]));
            }
            return Promise.all(drawing);
          });
          return skip;
        }
      }
      job = null;  // a drag frame not drawn yet would draw over the let-go epoch
      if (state.full === epoch && state.shown === epoch && !busy) { return skip; }
      state.full = state.shown = state.target = epoch;
      var out = skip.slice();
      var summary = frame.summary;
      out[0] = {namespace: "dash_html_components", type: "Div", props: {children: [
        badge(summary.label, "secondary", "me-1"), badge(summary.predicted, summary.right ? "success" : "danger")
      ]}};
      out[1] = frame.note;
      out[2] = Boolean(frame.note);
      if (drawn(probabilities)) {
        var bars = frame.probabilities;
        out[4] = swap(probabilities, 0, {
          y: bars.y, text: bars.text,
          marker: Object.assign({}, probabilities.data[0].marker, {color: bars.colors})
        }, bars.title);
      }
      if (drawn(mosaic) && mosaic.data.length > 1) {
        var tiles = frame.mosaic;
        var image = swap(mosaic, 0, {source: tiles.source}, tiles.title);
        out[5] = swap(image, 1, {marker: Object.assign({}, mosaic.data[1].marker,
                                                       {cmin: tiles.low, cmax: tiles.high})});
      }
      if (drawn(saliency)) { out[3] = swap(saliency, 1, {z: frame.saliency}); }
      if (drawn(dense) && frame.dense) { out[7] = swap(dense, 0, {y: frame.dense.y}, frame.dense.title); }
      if (drawn(surface) && !isImage(surface)) { out[6] = swap(surface, 0, {z: frame.surface.z}, frame.surface.title); }
      if (drawn(channel)) { out[8] = swap(channel, 0, {z: frame.surface.z}, frame.surface.map_title); }
      return afterDrawing(out);
    },

    // Architecture: the filter grid's weights, colour range and title (drawn directly while dragged).
    filterFrame: function (drag, value, frames, filters) {
      if (!frames || !frames.frames || !drawn(filters)) { return window.dash_clientside.no_update; }
      var fired = (window.dash_clientside.callback_context.triggered || [])[0];
      var dragging = Boolean(fired && /\.drag_value$/.test(fired.prop_id));
      var epoch = nearest(frames.epochs, firedEpoch(drag, value));
      var frame = frames.frames[String(epoch)];
      if (!frame) { return window.dash_clientside.no_update; }
      var state = stateOf("model", frames);
      var plot = dragging ? plotOf(0) : null;
      if (plot) {
        if (state.target !== epoch) {
          state.target = epoch;
          schedule(function () {
            state.shown = epoch;
            return update(plot, {z: [frame.z], zmin: [-frame.bound], zmax: [frame.bound]}, frame.title, [0]);
          });
        }
        return window.dash_clientside.no_update;
      }
      job = null;
      if (state.full === epoch && state.shown === epoch && !busy) { return window.dash_clientside.no_update; }
      state.full = state.shown = state.target = epoch;
      return afterDrawing(swap(filters, 0, {z: frame.z, zmin: -frame.bound, zmax: frame.bound}, frame.title));
    }
  });
})();
