// The Learning page's epoch slider in the browser: the server sent every epoch's frames once (the
// scatter's points for PCA, the confusion counts always); while the handle is dragged they are drawn
// straight into the graphs (one Plotly.update per animation frame, for the latest epoch dragged to),
// and letting go swaps them into the figures Dash holds. No request while the slider moves.
(function () {
  var pending = null, scheduled = false, drawn = {};

  function nearest(epochs, value) {
    var best = null;
    (epochs || []).forEach(function (epoch) {
      if (best === null || Math.abs(epoch - value) < Math.abs(best - value)) { best = epoch; }
    });
    return best;
  }

  function plotOf(id) {
    var host = document.getElementById(id);
    var plot = host && (host.classList.contains("js-plotly-plot") ? host : host.querySelector(".js-plotly-plot"));
    return plot && plot.data && plot.data.length && window.Plotly ? plot : null;
  }

  function outputId(index) {
    var outputs = window.dash_clientside.callback_context.outputs_list || [];
    return outputs[index] && typeof outputs[index].id === "string" ? outputs[index].id : null;
  }

  function traces(count) {
    var list = [];
    for (var index = 0; index < count; index++) { list.push(index); }
    return list;
  }

  function drawNow(job) {
    var work = [];
    if (job.scatterPlot && job.points) {
      work.push(window.Plotly.update(job.scatterPlot, {x: job.points.x, y: job.points.y},
                                     {"title.text": job.points.title}, traces(job.points.x.length)));
    }
    if (job.confusionPlot && job.cells) {
      work.push(window.Plotly.update(job.confusionPlot, {z: [job.cells.z], text: [job.cells.text],
                                                         zmax: [job.cells.zmax]},
                                     {"title.text": job.cells.title}, [0]));
    }
    return Promise.all(work);
  }

  function schedule(job) {
    pending = job;
    if (scheduled) { return; }
    scheduled = true;
    window.requestAnimationFrame(function () {
      scheduled = false;
      var next = pending;
      pending = null;
      if (next) { drawNow(next); }
    });
  }

  function withPoints(figure, points) {
    var data = figure.data.map(function (trace, index) {
      return index < points.x.length ? Object.assign({}, trace, {x: points.x[index], y: points.y[index]}) : trace;
    });
    var layout = Object.assign({}, figure.layout, {title: Object.assign({}, figure.layout.title, {text: points.title})});
    return Object.assign({}, figure, {data: data, layout: layout});
  }

  function withCells(figure, cells) {
    var data = figure.data.slice();
    data[0] = Object.assign({}, data[0], {z: cells.z, text: cells.text, zmax: cells.zmax});
    var layout = Object.assign({}, figure.layout, {title: Object.assign({}, figure.layout.title, {text: cells.title})});
    return Object.assign({}, figure, {data: data, layout: layout});
  }

  window.cnnviz = Object.assign(window.cnnviz || {}, {
    learningFrame: function (drag, value, frames, scatter, confusion) {
      var skip = window.dash_clientside.no_update;
      if (!frames || !frames.epochs) { return [skip, skip, skip]; }
      var fired = (window.dash_clientside.callback_context.triggered || [])[0];
      var dragging = Boolean(fired && /\.drag_value$/.test(fired.prop_id));
      var raw = dragging ? drag : value;
      var epoch = nearest(frames.epochs, raw === null || raw === undefined ? value : raw);
      var key = String(epoch);
      var points = frames.scatter ? frames.scatter[key] : null;
      var cells = frames.confusion ? frames.confusion[key] : null;
      if (dragging) {
        if (drawn.frames === frames && drawn.epoch === epoch) { return [skip, skip, skip]; }
        drawn = {frames: frames, epoch: epoch, full: drawn.frames === frames ? drawn.full : frames.drawn};
        schedule({scatterPlot: plotOf(outputId(0)), confusionPlot: plotOf(outputId(1)), points: points,
                  cells: cells});
        return [skip, skip, skip];
      }
      pending = null;  // a drag frame not drawn yet would draw over the let-go epoch
      // Without the scatter's frames (t-SNE, computed per epoch) the server draws the let-go epoch.
      var ask = points ? skip : epoch;
      var full = drawn.frames === frames ? drawn.full : frames.drawn;
      drawn = {frames: frames, epoch: epoch, full: epoch};
      if (full === epoch) {
        // The figures Dash holds are this epoch's already; a drag may have drawn another over them.
        drawNow({scatterPlot: plotOf(outputId(0)), confusionPlot: plotOf(outputId(1)), points: points,
                 cells: cells});
        return [skip, skip, ask];
      }
      var hasScatter = scatter && scatter.data && scatter.data.length;
      var hasConfusion = confusion && confusion.data && confusion.data.length;
      return [points && hasScatter ? withPoints(scatter, points) : skip,
              cells && hasConfusion ? withCells(confusion, cells) : skip, ask];
    }
  });
})();
