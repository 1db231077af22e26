// Client-side helpers: shareable URLs without re-rendering the page.
//
// Pages keep their state (run, digit, layer, epoch...) in the query string. A
// page's callbacks write the wanted query into a dcc.Store; pushQuery puts it in
// the address bar with history.pushState, which Dash does not observe, so the
// page is not rebuilt.
//
// Back and Forward within a page (a popstate that stays on the same path) are
// answered here, never by a reload: an entry this page wrote (state.cnnviz) sets
// the controls whose URL value differs (PAGE_STATE below), so the page's own
// callbacks redraw just what changed; any other entry (the opening URL, a link, a
// value no control can take) is rebuilt from the URL by Dash's pages router, as a
// navigation would. Dash's router does not see these popstates by itself: its
// dcc.Location never heard of pushQuery's entries, so it may think nothing changed.
// A popstate to another path is left to the router.
(function () {
  var RUN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
  var LAYER = /^[a-z][a-z0-9_]{0,31}$/;

  function whole(raw) { return /^[0-9]{1,6}$/.test(raw) && Number(raw) <= 100000 ? Number(raw) : undefined; }
  function digit(raw) { return raw === "all" ? "all" : (/^[0-9]$/.test(raw) ? Number(raw) : undefined); }
  function run(raw) { return RUN.test(raw) ? raw : undefined; }
  function layer(raw) { return LAYER.test(raw) ? raw : undefined; }
  function word(raw) { return /^[a-z]{1,16}$/.test(raw) ? raw : undefined; }
  function cell(raw) { return /^[0-9]-[0-9]$/.test(raw) ? raw : undefined; }

  // Per path, each URL parameter: the control that holds it (id, prop), how a URL value becomes the
  // control's value, the value its absence means (when the page has one that does not depend on the run),
  // and ``rebuild`` for a value no control can take in place (the run the layout was built for, a
  // confusion cell that only a click draws). Ids as the pages define them (dashboard/pages/).
  var PAGE_STATE = {
    "/": {
      run: {id: "runs-select", prop: "value", parse: run},
      compare: {id: "runs-compare-select", prop: "value", parse: run, absent: "(none)"}
    },
    "/training": {
      run: {id: "training-run", prop: "data", parse: run, rebuild: true},
      digit: {id: "training-digit", prop: "value", parse: digit, absent: "all"}
    },
    "/metrics": {
      run: {id: "metrics-run", prop: "data", parse: run, rebuild: true},
      cell: {id: "metrics-cell", prop: "data", parse: cell, absent: null, rebuild: true},
      digit: {id: "metrics-digit", prop: "value", parse: digit, absent: "all"},
      mode: {id: "metrics-mode", prop: "value", parse: word, absent: "counts"}
    },
    "/model": {
      run: {id: "model-run", prop: "data", parse: run, rebuild: true},
      channel: {id: "model-channel", prop: "value", parse: whole, absent: "mean"},
      layer: {id: "model-layer", prop: "value", parse: layer},
      epoch: {id: "model-epoch", prop: "value", parse: whole}
    },
    "/activations": {
      run: {id: "activations-run", prop: "data", parse: run, rebuild: true},
      // The probe before the class: the class's own callback keeps a probe of that class.
      probe: {id: "activations-probe", prop: "data", parse: whole},
      digit: {id: "activations-digit", prop: "value", parse: digit, absent: "all"},
      channel: {id: "activations-channel", prop: "value", parse: whole},
      layer: {id: "activations-layer", prop: "value", parse: layer},
      epoch: {id: "activations-epoch", prop: "value", parse: whole},
      mode: {id: "activations-mode", prop: "value", parse: function (raw) { return raw === "average"; },
             absent: false}
    }
  };

  function blank(value) { return value === null || value === undefined; }
  function same(a, b) { return blank(a) ? blank(b) : a === b; }

  // The control values that take ``search`` (left: ``from``) in place: a list of [id, prop, value], or
  // null when the page must be rebuilt from the URL.
  function changesFor(spec, from, search) {
    var api = window.dash_component_api;
    if (!api || typeof api.getLayout !== "function") { return null; }
    var before = new URLSearchParams(from || ""), after = new URLSearchParams(search || "");
    var keys = {};
    before.forEach(function (_, key) { keys[key] = true; });
    after.forEach(function (_, key) { keys[key] = true; });
    for (var key in keys) {
      if (!spec[key] && before.get(key) !== after.get(key)) { return null; }
    }
    var changes = [];
    for (var name in spec) {
      var entry = spec[name], raw = after.get(name), wanted;
      if (raw !== null) {
        wanted = entry.parse(raw);
        if (wanted === undefined) { return null; }  // the server says what is wrong with it
      } else if ("absent" in entry) {
        wanted = entry.absent;
      } else if (before.has(name)) {
        return null;  // its default depends on the run: the layout knows it
      } else {
        continue;
      }
      var component = api.getLayout(entry.id);
      if (!component || !component.props) { return null; }
      if (same(component.props[entry.prop], wanted)) { continue; }
      if (entry.rebuild) { return null; }
      changes.push([entry.id, entry.prop, wanted]);
    }
    return changes;
  }

  // Whether ``query`` shows the same view as ``search`` with only the parameters ``search`` left out
  // filled in (their values where the page had no fixed default): true for the query a restored page
  // writes back, false for a user's change.
  function fillsIn(spec, search, query) {
    var shown = new URLSearchParams(search || ""), wanted = new URLSearchParams(query || "");
    var keys = {};
    shown.forEach(function (_, key) { keys[key] = true; });
    wanted.forEach(function (_, key) { keys[key] = true; });
    for (var key in keys) {
      var entry = spec[key], a = shown.get(key), b = wanted.get(key);
      if (a === b) { continue; }
      if (!entry || a !== null) { return false; }
      if ("absent" in entry && !same(b === null ? entry.absent : entry.parse(b), entry.absent)) { return false; }
    }
    return true;
  }

  var restored = null;  // {path, search, until}: the entry Back/Forward restored, while its callbacks settle

  function remember() {
    window.cnnviz.lastPath = window.location.pathname;
    window.cnnviz.lastSearch = window.location.search;
  }

  function restore(event) {
    var path = window.location.pathname, search = window.location.search;
    var fromPath = window.cnnviz.lastPath, from = window.cnnviz.lastSearch;
    remember();
    if (fromPath !== path) { return; }  // another page: Dash's router draws it
    event.stopImmediatePropagation();  // the router would rebuild the page (or, its URL stale, nothing)
    if (from === search) { return; }
    restored = {path: path, search: search, until: Date.now() + 10000};
    var spec = PAGE_STATE[path];
    var changes = spec && event.state && event.state.cnnviz ? changesFor(spec, from, search) : null;
    var set = window.dash_clientside && window.dash_clientside.set_props;
    if (!set) { window.location.reload(); return; }
    if (changes === null) {
      set("_pages_location", {pathname: path, search: search});
      return;
    }
    changes.forEach(function (change) {
      var props = {};
      props[change[1]] = change[2];
      set(change[0], props);
    });
  }

  window.cnnviz = Object.assign(window.cnnviz || {}, {
    pushQuery: function (query, replace) {
      if (typeof query !== "string") { return window.dash_clientside.no_update; }
      var wanted = query && query !== "?" ? query : "";
      var path = window.location.pathname;
      if (wanted !== window.location.search) {
        // What a restored page writes back (the parameters its URL left out) completes that entry
        // rather than adding one, so that Forward still goes forward.
        var completes = restored && restored.path === path && restored.search === window.location.search
          && Date.now() < restored.until && fillsIn(PAGE_STATE[path] || {}, window.location.search, wanted);
        var url = path + wanted;
        if (replace || completes) {
          window.history.replaceState({cnnviz: true}, "", url);
        } else {
          window.history.pushState({cnnviz: true}, "", url);
        }
        restored = completes ? Object.assign(restored, {search: wanted}) : null;
      }
      remember();
      return window.dash_clientside.no_update;
    },
    navHrefs: function (run, search) {
      var params = new URLSearchParams(window.location.search || search || "");
      var active = params.get("run") || run || "";
      var outputs = window.dash_clientside.callback_context.outputs_list || [];
      return outputs.map(function (output) {
        var page = output.id.page;
        return active ? page + "?run=" + encodeURIComponent(active) : page;
      });
    }
  });

  remember();
  // A user's own input ends a restore: what it changes is a new entry.
  ["pointerdown", "keydown"].forEach(function (name) {
    window.addEventListener(name, function () { restored = null; }, true);
  });
  // dcc.Link and dcc.Location(refresh="callback-nav") announce their pushState with this event.
  window.addEventListener("_dashprivate_pushstate", remember);
  window.addEventListener("popstate", restore, true);
})();
