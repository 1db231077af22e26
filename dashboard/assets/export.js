// Every figure's toolbar downloads it as PNG and as SVG, named after the run and the view
// ("tiny-metrics-confusion.svg"), on every page and in the offline report (which inlines this file).
//
// Plotly's own camera button saves "newplot.png" and knows one format. Plotly.setPlotConfig
// sets defaults for every graph drawn afterwards, whichever page or component draws it, so no
// page has to pass anything; a graph that sets modeBarButtonsToAdd itself keeps its own.
// Dash loads plotly.js on demand, after this file: the setter below configures it the moment
// the bundle assigns window.Plotly, before any graph is drawn. plotly.js 4 also shows a "Share chart..."
// button by default, which uploads the figure to Plotly's cloud: this app's figures stay on this machine.
(function () {
  var ACTIVE_RUN_KEY = "active-run";  // the app's dcc.Store in local storage (dashboard/ui/ids.py ACTIVE_RUN)
  var SVG_ICON = {
    width: 24, height: 24,
    path: "M2 2h7v7H2zM15 15h7v7h-7zM7.6 9.2l1.6-1.6 7.2 7.2-1.6 1.6z"
  };

  function safe(text) {
    return String(text || "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|-+$/g, "").slice(0, 80);
  }

  function runId() {
    var fromPage = document.body && document.body.getAttribute("data-cnnviz-run");  // the report
    if (fromPage) { return fromPage; }
    var fromUrl = new URLSearchParams(window.location.search).get("run");
    if (fromUrl) { return fromUrl; }
    try {
      var stored = JSON.parse(window.localStorage.getItem(ACTIVE_RUN_KEY));
      return typeof stored === "string" ? stored : "";
    } catch (error) {
      return "";
    }
  }

  function viewName(gd) {
    // dcc.Graph puts the component id on the div around Plotly's; a pattern-matching id is JSON.
    var holder = (gd.closest && gd.closest(".dash-graph")) || gd;
    var id = holder.id || gd.id || "";
    if (id.charAt(0) === "{") {
      try {
        var parsed = JSON.parse(id);
        id = Object.keys(parsed).sort().map(function (key) { return parsed[key]; }).join("-");
      } catch (error) { /* keep the raw id, made safe below */ }
    }
    if (!id) {
      var title = gd.layout && gd.layout.title && gd.layout.title.text;
      id = (window.location.pathname.replace(/\//g, " ").trim() || "runs") + " " + (title || "figure");
    }
    return safe(id);
  }

  function filename(gd) {
    return [safe(runId()), viewName(gd)].filter(Boolean).join("-") || "figure";
  }

  function see_through(color) {
    return !color || color === "transparent" || /^rgba\(.*,\s*0\)$/.test(color);
  }

  function backdrop(gd) {
    // The colour the figure is seen on: its own background if it has one, else the page's (dark or light).
    var own = gd._fullLayout && gd._fullLayout.paper_bgcolor;
    if (!see_through(own)) { return own; }
    for (var node = gd; node && node.nodeType === 1; node = node.parentElement) {
      var color = window.getComputedStyle(node).backgroundColor;
      if (!see_through(color)) { return color; }
    }
    return "#ffffff";
  }

  function download(format) {
    // The figure as drawn, at its size on screen, on the background it is seen on: a see-through
    // figure saved as is would show the dark theme's light text on whatever the file is opened over.
    return function (gd) {
      var size = gd._fullLayout || {};
      var layout = Object.assign({}, gd.layout, {paper_bgcolor: backdrop(gd)});
      return window.Plotly.downloadImage({data: gd.data, layout: layout, config: {}}, {
        format: format, filename: filename(gd), width: size.width, height: size.height,
        scale: format === "png" ? 2 : 1
      });
    };
  }

  var BUTTONS = [
    {name: "cnnvizPng", title: "Download plot as PNG", icon: null, click: download("png")},
    {name: "cnnvizSvg", title: "Download plot as SVG", icon: SVG_ICON, click: download("svg")}
  ];

  function configure(Plotly) {
    if (!Plotly || typeof Plotly.setPlotConfig !== "function" || Plotly._cnnvizExport) { return; }
    BUTTONS[0].icon = Plotly.Icons.camera;
    Plotly.setPlotConfig({modeBarButtonsToRemove: ["toImage"], modeBarButtonsToAdd: BUTTONS, showSendToCloud: false});
    Plotly._cnnvizExport = true;
  }

  window.cnnvizExport = {filename: filename, buttons: BUTTONS};
  if (window.Plotly) {
    configure(window.Plotly);
    return;
  }
  // Another script may already watch the assignment (a profiler wrapping Plotly's calls): chain to it,
  // so both see the bundle, instead of replacing its property.
  var previous = Object.getOwnPropertyDescriptor(window, "Plotly");
  var loaded;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    enumerable: true,
    get: function () { return loaded; },
    set: function (value) {
      if (previous && previous.set) {
        previous.set.call(window, value);
        loaded = previous.get ? previous.get.call(window) : value;
      } else {
        loaded = value;
      }
      configure(loaded);
    }
  });
})();
