// Installed by bench_browser.py before any of the page's scripts run (CDP
// Page.addScriptToEvaluateOnNewDocument). It records what the page is busy with
// and answers "when did the page settle?".
//
// Busy means any of: the document or the Dash renderer not ready yet, a Dash
// callback queued or running in the renderer, a request to _dash-update-component
// in flight (fetch or XHR, until its body has arrived), a Plotly draw call whose
// promise has not resolved, an element marked data-dash-is-loading, a visible
// dcc.Graph not drawn yet, or the page being unloaded. The page has settled once
// it has not been busy for QUIET ms; the settle time reported is the first moment
// it was seen idle (the quiet window is not counted).
(function () {
  "use strict";
  if (window.__bench) { return; }
  var QUIET = 150;
  var POLL = 10;
  var clock = function () { return performance.timeOrigin + performance.now(); };
  var B = window.__bench = {
    inflight: 0, plotting: 0, unloading: false, idleSince: null, lastReason: "starting",
    requests: [], longtasks: [], frames: {}, plots: 0, errors: [], quiet: QUIET,
    draws: [],  // [graph, Plotly call, ms inside the call, ms until its promise resolved]: where drawing goes
  };

  function isCallbackUrl(url) { return /_dash-update-component/.test(String(url || "")); }

  function track(kind, url) {
    var entry = { kind: kind, url: String(url), start: clock(), end: null, bytes: 0, status: 0 };
    B.requests.push(entry);
    B.inflight += 1;
    var done = false;
    return function (bytes, status) {
      if (done) { return; }
      done = true;
      entry.end = clock();
      entry.bytes = bytes || 0;
      entry.status = status || 0;
      B.inflight -= 1;
    };
  }

  var nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url);
    var promise = nativeFetch.apply(this, arguments);
    if (!isCallbackUrl(url)) { return promise; }
    var finish = track("fetch", url);
    promise.then(function (response) {
      response.clone().arrayBuffer().then(function (body) { finish(body.byteLength, response.status); },
                                          function () { finish(0, response.status); });
    }, function () { finish(0, 0); });
    return promise;
  };

  var nativeOpen = XMLHttpRequest.prototype.open;
  var nativeSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__benchUrl = url;
    return nativeOpen.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (isCallbackUrl(this.__benchUrl)) {
      var finish = track("xhr", this.__benchUrl);
      var xhr = this;
      xhr.addEventListener("loadend", function () {
        var size = 0;
        try { size = xhr.responseText ? xhr.responseText.length : 0; } catch (error) { size = 0; }
        finish(size, xhr.status);
      });
    }
    return nativeSend.apply(this, arguments);
  };

  function graphName(gd) {
    var node = gd;
    while (node && node !== document.body) {
      if (node.id) { return node.id; }
      node = node.parentElement;
    }
    return "(unnamed graph)";
  }

  // A frame counts for every element with an id around what was drawn, so a view's id finds it
  // however the view is built inside (a Plotly graph, or an image whose src changes).
  function countFrame(element) {
    var node = element;
    while (node && node !== document.body) {
      if (node.id) { B.frames[node.id] = (B.frames[node.id] || 0) + 1; }
      node = node.parentElement;
    }
  }
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      if (record.target.tagName === "IMG") { countFrame(record.target); }
    });
  }).observe(document, { attributes: true, attributeFilter: ["src"], subtree: true });

  // Every Plotly call that draws is counted while its promise is pending; a
  // finished call is one frame of the graph it drew.
  var DRAWING = ["newPlot", "react", "restyle", "relayout", "update", "redraw", "animate", "extendTraces",
                 "prependTraces", "addTraces", "deleteTraces", "moveTraces", "purge"];
  function wrapPlotly(plotly) {
    if (!plotly || plotly.__benchWrapped) { return plotly; }
    DRAWING.forEach(function (name) {
      var original = plotly[name];
      if (typeof original !== "function") { return; }
      plotly[name] = function (gd) {
        var element = typeof gd === "string" ? document.getElementById(gd) : gd;
        var result;
        B.plotting += 1;
        var finished = false;
        var started = clock();
        var entry = [graphName(element || document.body), name, 0, 0];
        var finish = function () {
          if (finished) { return; }
          finished = true;
          entry[3] = clock() - started;
          B.draws.push(entry);
          B.plotting -= 1;
          if (name !== "purge") {
            countFrame(element);
            B.plots += 1;
          }
        };
        try {
          result = original.apply(this, arguments);
          entry[2] = clock() - started;
        } catch (error) {
          finish();
          throw error;
        }
        if (result && typeof result.then === "function") {
          result.then(finish, function (error) { B.errors.push(String(error)); finish(); });
        } else {
          finish();
        }
        return result;
      };
    });
    plotly.__benchWrapped = true;
    return plotly;
  }
  var plotlyValue = window.Plotly ? wrapPlotly(window.Plotly) : undefined;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: function () { return plotlyValue; },
    set: function (value) { plotlyValue = wrapPlotly(value); },
  });

  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (entry) {
        B.longtasks.push({ start: performance.timeOrigin + entry.startTime, duration: entry.duration });
      });
    }).observe({ type: "longtask", buffered: true });
  } catch (error) { B.errors.push("longtask observer: " + error); }

  // Input events, stamped when they reach the page: an interaction's wait starts at its input.
  B.inputs = [];
  ["pointerdown", "pointerup", "mousedown", "mouseup", "click", "keydown", "input", "change"].forEach(function (type) {
    window.addEventListener(type, function () {
      B.inputs.push({ type: type, t: clock() });
      if (B.inputs.length > 2000) { B.inputs.splice(0, 1000); }
    }, true);
  });
  B.firstInput = function (type, since) {
    for (var i = 0; i < B.inputs.length; i += 1) {
      if ((type === "*" || B.inputs[i].type === type) && B.inputs[i].t >= since) { return B.inputs[i].t; }
    }
    return null;
  };

  window.addEventListener("beforeunload", function () { B.unloading = true; });
  window.addEventListener("pagehide", function () { B.unloading = true; });

  var PENDING = ["requested", "prioritized", "blocked", "executing", "watched", "executed", "stored"];
  function visible(element) { return element.getClientRects().length > 0; }

  function busyReason() {
    if (B.unloading) { return "unloading"; }
    if (document.readyState !== "complete") { return "document " + document.readyState; }
    var store = window.store;
    var state = store && typeof store.getState === "function" ? store.getState() : null;
    if (!state) { return "renderer not started"; }
    if (String(state.appLifecycle) !== "HYDRATED") { return "renderer " + state.appLifecycle; }
    var callbacks = state.callbacks || {};
    for (var i = 0; i < PENDING.length; i += 1) {
      if (callbacks[PENDING[i]] && callbacks[PENDING[i]].length) { return "callbacks " + PENDING[i]; }
    }
    if (B.inflight > 0) { return "requests in flight"; }
    if (B.plotting > 0) { return "plotting"; }
    if (document.querySelector('[data-dash-is-loading="true"]')) { return "loading"; }
    var images = document.images;
    for (var m = 0; m < images.length; m += 1) {
      if (!images[m].complete && visible(images[m])) { return "image loading: " + graphName(images[m]); }
    }
    var graphs = document.querySelectorAll(".dash-graph");
    for (var g = 0; g < graphs.length; g += 1) {
      if (!visible(graphs[g])) { continue; }
      var gd = graphs[g].classList.contains("js-plotly-plot") ? graphs[g] : graphs[g].querySelector(".js-plotly-plot");
      if (!gd || !gd._fullLayout) { return "graph not drawn: " + graphName(graphs[g]); }
    }
    return "";
  }

  function poll() {
    var reason = "";
    try { reason = busyReason(); } catch (error) { reason = "error " + error; }
    var now = clock();
    B.lastReason = reason;
    if (reason) {
      B.idleSince = null;
    } else if (B.idleSince === null) {
      B.idleSince = now;
    }
  }
  setInterval(poll, POLL);

  // Returns null while busy or inside the quiet window, else a summary of what
  // happened between `since` (epoch ms) and the settle time.
  B.settled = function (since) {
    poll();
    var now = clock();
    if (B.idleSince === null || now - B.idleSince < QUIET) { return null; }
    var at = Math.max(B.idleSince, since);
    var requests = B.requests.filter(function (r) { return r.start >= since - 1 && r.end !== null && r.end <= at + 1; });
    var timing = performance.getEntriesByType("resource").filter(function (e) {
      return isCallbackUrl(e.name) && performance.timeOrigin + e.startTime >= since - 1;
    }).map(function (e) {
      var app = (e.serverTiming || []).filter(function (t) { return t.name === "app"; });
      return {
        start: performance.timeOrigin + e.requestStart, end: performance.timeOrigin + e.responseEnd,
        server: app.length ? app[0].duration : null, transfer: e.transferSize, body: e.encodedBodySize,
      };
    });
    var longtask = B.longtasks.filter(function (t) { return t.start >= since - 1 && t.start <= at; })
      .reduce(function (sum, t) { return sum + t.duration; }, 0);
    return {
      at: at, since: since, origin: performance.timeOrigin, url: location.href,
      requests: requests.length, bytes: requests.reduce(function (sum, r) { return sum + r.bytes; }, 0),
      failed: requests.filter(function (r) { return r.status >= 400 || r.status === 0; }).length,
      timing: timing, longtask: longtask, plots: B.plots, frames: B.frames, errors: B.errors.slice(0, 5),
    };
  };
  B.now = clock;
})();
