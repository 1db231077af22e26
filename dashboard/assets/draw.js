// The Draw page's drawing surface: a <canvas> driven by Pointer Events (mouse, pen, touch).
//
// Dash renders the page after this file loads and may replace the canvas at any time, so
// the listeners sit on the document and act on whichever canvas has the id below. Strokes
// are kept as point lists: Undo removes the last one and repaints. When a stroke ends the
// canvas is sent to the server as a PNG data URL through the page's dcc.Store; an empty
// canvas sends null. The board is white ink on black, like MNIST's digits. An uploaded or
// test digit is shown on the board as its 28x28 pixels; drawing on it starts a new drawing.
// Two resolutions ("pixels": a 28x28 grid whose cells are the network's pixels, sent as a
// 28x28 PNG; "smooth": the full board): the strokes are kept as points, so switching repaints
// the same drawing at the other resolution.
(function () {
  var CANVAS_ID = "draw-canvas";
  var STORE_ID = "draw-canvas-png";
  var UPLOAD_ID = "draw-upload";
  var MESSAGE_ID = "draw-message";
  var INK = "#ffffff";
  var BOARD = "#000000";
  var SIDE = 28;  // MNIST pixels per side
  var GRID_LINE = "rgba(255, 255, 255, 0.12)";
  var state = { canvas: null, strokes: [], current: null, brush: 18, picture: null, mode: "smooth" };

  function canvasElement() {
    return document.getElementById(CANVAS_ID);
  }

  function bind(canvas) {
    // A new canvas element (the page was rendered again) starts a new drawing.
    if (state.canvas !== canvas) {
      state.canvas = canvas;
      state.strokes = [];
      state.current = null;
      state.picture = null;
      repaint();
    }
    return canvas;
  }

  function context() {
    var ctx = state.canvas.getContext("2d");
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    return ctx;
  }

  function dot(ctx, point, width) {
    ctx.beginPath();
    ctx.arc(point[0], point[1], width / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segment(ctx, from, to, width) {
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }

  function paintPicture(ctx, canvas, pixels) {
    // Each MNIST pixel as a square of the board, grey levels as they are (no smoothing).
    var cell = canvas.width / SIDE;
    for (var row = 0; row < SIDE; row++) {
      for (var column = 0; column < SIDE; column++) {
        var value = Math.max(0, Math.min(255, Math.round(Number(pixels[row][column]) || 0)));
        if (value > 0) {
          ctx.fillStyle = "rgb(" + value + "," + value + "," + value + ")";
          ctx.fillRect(Math.floor(column * cell), Math.floor(row * cell),
                       Math.ceil(cell) + 1, Math.ceil(cell) + 1);
        }
      }
    }
  }

  // -- the 28x28 grid: a stroke lights every cell its brush square passes over ----------

  function cellsWide(stroke, cell) {
    return Math.max(1, Math.round(stroke.width / cell));
  }

  function lightPoint(grid, point, cell, wide) {
    var top = Math.floor(point[1] / cell - wide / 2 + 0.5);
    var left = Math.floor(point[0] / cell - wide / 2 + 0.5);
    for (var row = Math.max(top, 0); row < Math.min(top + wide, SIDE); row++) {
      for (var column = Math.max(left, 0); column < Math.min(left + wide, SIDE); column++) {
        grid[row][column] = 255;
      }
    }
  }

  function lightSegment(grid, from, to, cell, wide) {
    // Quarter-cell steps: no cell the stroke crosses is skipped.
    var steps = Math.ceil(Math.hypot(to[0] - from[0], to[1] - from[1]) / (cell / 4)) + 1;
    for (var i = 0; i <= steps; i++) {
      var t = i / steps;
      lightPoint(grid, [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t], cell, wide);
    }
  }

  function emptyGrid() {
    var grid = [];
    for (var row = 0; row < SIDE; row++) { grid.push(new Array(SIDE).fill(0)); }
    return grid;
  }

  function strokeGrid(grid, stroke, cell) {
    var wide = cellsWide(stroke, cell);
    lightPoint(grid, stroke.points[0], cell, wide);
    for (var i = 1; i < stroke.points.length; i++) {
      lightSegment(grid, stroke.points[i - 1], stroke.points[i], cell, wide);
    }
  }

  function drawingGrid() {
    var grid = emptyGrid();
    var cell = state.canvas.width / SIDE;
    state.strokes.forEach(function (stroke) { strokeGrid(grid, stroke, cell); });
    return grid;
  }

  function paintGridLines(ctx, canvas) {
    var cell = canvas.width / SIDE;
    ctx.strokeStyle = GRID_LINE;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (var k = 1; k < SIDE; k++) {
      var at = Math.round(k * cell) + 0.5;
      ctx.moveTo(at, 0); ctx.lineTo(at, canvas.height);
      ctx.moveTo(0, at); ctx.lineTo(canvas.width, at);
    }
    ctx.stroke();
  }

  function gridDataUrl(grid) {
    var small = document.createElement("canvas");
    small.width = SIDE;
    small.height = SIDE;
    var ctx = small.getContext("2d");
    var image = ctx.createImageData(SIDE, SIDE);
    for (var row = 0; row < SIDE; row++) {
      for (var column = 0; column < SIDE; column++) {
        var at = (row * SIDE + column) * 4;
        image.data[at] = image.data[at + 1] = image.data[at + 2] = grid[row][column];
        image.data[at + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    return small.toDataURL("image/png");
  }

  function isPicture(pixels) {
    return Array.isArray(pixels) && pixels.length === SIDE &&
      pixels.every(function (row) { return Array.isArray(row) && row.length === SIDE; });
  }

  function repaint() {
    var canvas = state.canvas;
    if (!canvas) { return; }
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = BOARD;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (state.picture) { paintPicture(ctx, canvas, state.picture); }
    canvas.setAttribute("data-mode", state.mode);
    if (state.mode === "pixels") {
      if (state.strokes.length) { paintPicture(ctx, canvas, drawingGrid()); }
      paintGridLines(ctx, canvas);
      return;
    }
    ctx = context();
    state.strokes.forEach(function (stroke) {
      dot(ctx, stroke.points[0], stroke.width);
      for (var i = 1; i < stroke.points.length; i++) {
        segment(ctx, stroke.points[i - 1], stroke.points[i], stroke.width);
      }
    });
  }

  function position(canvas, event) {
    // CSS may scale the canvas: map client pixels to canvas pixels.
    var rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * canvas.width / rect.width,
            (event.clientY - rect.top) * canvas.height / rect.height];
  }

  // What the server gets: the 28x28 grid itself, or the smooth board's picture.
  function drawingUrl() {
    if (!state.strokes.length) { return null; }
    return state.mode === "pixels" ? gridDataUrl(drawingGrid()) : state.canvas.toDataURL("image/png");
  }

  function publish() {
    var data = drawingUrl();
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(STORE_ID, { data: data });
    }
    return data;
  }

  function showMessage(text) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(MESSAGE_ID, { children: text, color: "danger", is_open: true });
    }
  }

  document.addEventListener("pointerdown", function (event) {
    var canvas = event.target;
    if (!canvas || canvas.id !== CANVAS_ID) { return; }
    if (event.pointerType === "mouse" && event.button !== 0) { return; }
    event.preventDefault();
    bind(canvas);
    if (state.picture) {
      // Drawing on a shown upload or test digit starts a new drawing.
      state.picture = null;
      repaint();
    }
    if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
    var width = state.brush * canvas.width / 280;
    state.current = { id: event.pointerId, width: width, points: [position(canvas, event)] };
    state.strokes.push(state.current);
    if (state.mode === "pixels") { repaint(); return; }
    dot(context(), state.current.points[0], width);
  });

  document.addEventListener("pointermove", function (event) {
    var stroke = state.current;
    if (!stroke || event.pointerId !== stroke.id || event.target !== state.canvas) { return; }
    event.preventDefault();
    // Coalesced events keep fast pen and finger strokes smooth.
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    if (!events.length) { events = [event]; }
    var ctx = context();
    var pixels = state.mode === "pixels";
    events.forEach(function (each) {
      var point = position(state.canvas, each);
      if (!pixels) { segment(ctx, stroke.points[stroke.points.length - 1], point, stroke.width); }
      stroke.points.push(point);
    });
    if (pixels) { repaint(); }
  });

  function finish(event) {
    var stroke = state.current;
    if (!stroke || event.pointerId !== stroke.id) { return; }
    state.current = null;
    publish();
  }
  document.addEventListener("pointerup", finish);
  document.addEventListener("pointercancel", finish);

  // The server refuses large files too; this only says so before the browser drops them.
  function checkSize(files, target) {
    var upload = target && target.closest ? target.closest("#" + UPLOAD_ID) : null;
    if (!upload || !files || !files.length) { return; }
    var limit = Number(upload.parentElement.getAttribute("data-max-bytes") || 0);
    if (limit && files[0].size > limit) {
      showMessage("The file is larger than the " + (limit / 1048576) + " MB limit.");
    }
  }
  document.addEventListener("change", function (event) {
    checkSize(event.target.files, event.target);
  }, true);
  document.addEventListener("drop", function (event) {
    checkSize(event.dataTransfer && event.dataTransfer.files, event.target);
  }, true);

  window.cnnvizDraw = {
    setBrush: function (width) {
      var value = Number(width);
      if (value > 0) { state.brush = value; }
      return value;
    },
    undo: function () {
      var canvas = canvasElement();
      if (!canvas) { return window.dash_clientside.no_update; }
      bind(canvas);
      state.strokes.pop();
      repaint();
      return drawingUrl();
    },
    clear: function (send) {
      var canvas = canvasElement();
      if (!canvas) { return window.dash_clientside.no_update; }
      bind(canvas);
      state.strokes = [];
      state.picture = null;
      repaint();
      return send ? null : window.dash_clientside.no_update;
    },
    // Switch the board's resolution ("pixels" or "smooth"): the same strokes, repainted and sent
    // again; nothing is sent when there is no drawing (an empty board, or a shown upload).
    setMode: function (mode) {
      state.mode = mode === "pixels" ? "pixels" : "smooth";
      var canvas = canvasElement();
      if (!canvas) { return window.dash_clientside.no_update; }
      bind(canvas);
      repaint();
      return state.strokes.length ? drawingUrl() : window.dash_clientside.no_update;
    },
    // Show an uploaded or test digit (the page's digit store value) on the board; a drawing
    // is already there. Returns what the board shows, for the page's store.
    show: function (digit) {
      var canvas = canvasElement();
      if (!canvas || !digit || digit.source === "drawing" || !isPicture(digit.pixels)) {
        return window.dash_clientside.no_update;
      }
      bind(canvas);
      state.strokes = [];
      state.current = null;
      state.picture = digit.pixels;
      repaint();
      return digit.source;
    }
  };
})();

// Cards drawn only while on screen (dashboard/draw/layout.py in_view_card): an element with
// data-in-view="<store id>" tells that store whether any of it is on screen, and the card's callback
// draws only when it is. No margin: a card just below the fold at the first answer (across training)
// would otherwise be drawn before the user sees it, and the first answer would wait for it.
// A card must stay on screen for SETTLE_MS before it counts: one that only passes through the viewport
// while the page's layout shifts (the answer's cards opening above it) is not drawn for that moment.
(function () {
  var SETTLE_MS = 100;  // under settle.js's quiet window (150 ms): a benchmark sees the draw it starts
  var watched = new WeakSet();
  var pending = {};
  var told = {};
  function tell(store, shown) {
    if (told[store] === shown) { return; }
    if (window.dash_clientside && window.dash_clientside.set_props) {
      told[store] = shown;
      window.dash_clientside.set_props(store, { data: shown });
    }
  }
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var store = entry.target.getAttribute("data-in-view");
      clearTimeout(pending[store]);
      if (!entry.isIntersecting) { tell(store, false); return; }
      var element = entry.target;
      pending[store] = setTimeout(function () {
        var box = element.getBoundingClientRect();
        var visible = box.bottom > 0 && box.top < window.innerHeight && box.width > 0 && box.height > 0;
        if (visible) { tell(store, true); }
      }, SETTLE_MS);
    });
  }, { rootMargin: "0px" }) : null;
  function watch() {
    document.querySelectorAll("[data-in-view]").forEach(function (element) {
      if (watched.has(element)) { return; }
      watched.add(element);
      if (observer) { observer.observe(element); } else { tell(element.getAttribute("data-in-view"), true); }
    });
  }
  // Dash renders the page after this file loads and again on navigation: look for new cards now and then.
  setInterval(watch, 250);
})();
