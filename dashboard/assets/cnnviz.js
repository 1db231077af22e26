// Client-side helpers: shareable URLs without re-rendering the page.
//
// Pages keep their state (run, digit, layer, epoch...) in the query string. A
// page's callbacks write the wanted query into a dcc.Store; pushQuery puts it in
// the address bar with history.pushState, which Dash does not observe, so the
// page is not rebuilt. Back and forward fire popstate, Dash's router re-renders
// the page from the URL, and the page comes back in the state it had.
window.cnnviz = Object.assign(window.cnnviz || {}, {
  pushQuery: function (query, replace) {
    if (typeof query !== "string") { return window.dash_clientside.no_update; }
    var wanted = query && query !== "?" ? query : "";
    if (wanted !== window.location.search) {
      var url = window.location.pathname + wanted;
      if (replace) {
        window.history.replaceState({cnnviz: true}, "", url);
      } else {
        window.history.pushState({cnnviz: true}, "", url);
      }
    }
    window.cnnviz.lastPath = window.location.pathname;
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

window.addEventListener("popstate", function () {
  if (window.cnnviz.lastPath && window.cnnviz.lastPath === window.location.pathname) {
    window.location.reload();
  }
  window.cnnviz.lastPath = window.location.pathname;
});
