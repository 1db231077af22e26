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
  var last = {};

  function unchanged(page, frames, epoch) {
    var shown = last[page] && last[page].frames === frames ? last[page].epoch : frames.drawn;
    last[page] = {frames: frames, epoch: epoch};
    return shown === epoch;
  }

  window.cnnviz = Object.assign(window.cnnviz || {}, {
    // Activations: summary, note, note shown, saliency, probabilities, mosaic, surface, dense, channel map.
    // While the handle is dragged only the views a scrub is about follow (the feature maps, the open
    // tab's channel view, the probabilities and the verdict): a frame then costs about a third of a
    // full one, so it keeps up with the drag. Letting go draws the rest (saliency, dense outputs and
    // the closed tab's view) at the epoch let go on.
    activationFrame: function (drag, value, frames, tab, saliency, probabilities, mosaic, surface, dense, channel) {
      var skip = noUpdates(9);
      if (!frames || !frames.frames) { return skip; }
      var fired = (window.dash_clientside.callback_context.triggered || [])[0];
      var dragging = Boolean(fired && /\.drag_value$/.test(fired.prop_id));
      var epoch = nearest(frames.epochs, firedEpoch(drag, value));
      var frame = frames.frames[String(epoch)];
      var state = last.activations && last.activations.frames === frames ? last.activations
        : {epoch: frames.drawn, full: true};
      if (!frame || (state.epoch === epoch && (dragging || state.full))) { return skip; }
      var main = state.epoch !== epoch;  // the views a drag draws; drawn already when only the rest is due
      var rest = !dragging;
      last.activations = {frames: frames, epoch: epoch, full: rest};
      var surfaceOpen = tab === "surface";
      var out = skip.slice();
      if (main) {
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
      }
      if (rest) {
        if (drawn(saliency)) { out[3] = swap(saliency, 1, {z: frame.saliency}); }
        if (drawn(dense) && frame.dense) { out[7] = swap(dense, 0, {y: frame.dense.y}, frame.dense.title); }
      }
      if ((surfaceOpen ? main : rest) && drawn(surface)) {
        out[6] = swap(surface, 0, {z: frame.surface.z}, frame.surface.title);
      }
      if ((surfaceOpen ? rest : main) && drawn(channel)) {
        out[8] = swap(channel, 0, {z: frame.surface.z}, frame.surface.map_title);
      }
      return out;
    },

    // Architecture: the filter grid's weights, colour range and title.
    filterFrame: function (drag, value, frames, filters) {
      if (!frames || !frames.frames || !drawn(filters)) { return window.dash_clientside.no_update; }
      var epoch = nearest(frames.epochs, firedEpoch(drag, value));
      var frame = frames.frames[String(epoch)];
      if (!frame || unchanged("model", frames, epoch)) { return window.dash_clientside.no_update; }
      return swap(filters, 0, {z: frame.z, zmin: -frame.bound, zmax: frame.bound}, frame.title);
    }
  });
})();
