"""The two 3D views drawn on the server as images: a channel's surface and every layer stacked.

A WebGL scene costs a browser without a GPU 1.3-2 s of main-thread work to set up (issue 12);
the same scene as a palette PNG in a 2D figure costs it a few milliseconds. The scenes are
projected orthographically (numpy) and painted back to front (Pillow): the surface as shaded
quads, the stacked view as each layer's image warped onto its floor. Labels, ticks, the title and
the colour bar are Plotly's, so they follow the page's theme; the images hold no theme colour
(transparent background, grey lines), so one image serves both themes. The interactive WebGL
figures (:func:`dashboard.figures.activations.activation_surface`, ``stacked_layers``) stay for
hover values and free rotation, on demand.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from dashboard.figures.activations import DENSE_BAND, STACK_EYE, layer_plane, stack_aspect
from dashboard.figures.style import ACTIVATION_SCALE, TITLE_TOP, apply_theme

SURFACE_SIZE = (540, 400)  # image pixels (width, height), about the size the page shows it at
STACK_SIZE = (500, 560)
SURFACE_EYE = (1.3, -1.5, 1.1)  # the WebGL surface's default camera (activation_surface)
SURFACE_HEIGHT = 0.6  # the surface's height against its 1 x 1 floor, as the WebGL scene's aspect ratio
SURFACE_LEVELS = 50  # colour levels of the surface's palette ...
SHADES = 5  # ... times light levels: 250 palette entries
SURFACE_MAX_SIDE = 64  # larger maps are drawn from every n-th value (a 64 x 64 mesh is 4,000 quads)
STACK_LEVELS = 253  # colour levels of the stacked view's palette
LINE_GREY = (140, 140, 140)  # box, grid and floor outlines: readable on light and dark pages
GRID_ALPHA, LINE_ALPHA = 90, 200
STACK_LABEL_SPACE = 150  # image pixels right of the floors for their names (Plotly annotations)
TICK_FONT = dict(size=11)


def _basis(eye: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (right, up, toward the camera) unit vectors of an orthographic camera looking from ``eye``."""
    toward = np.asarray(eye, dtype=np.float64)
    toward /= np.linalg.norm(toward)
    right = np.cross(-toward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    return right, np.cross(right, -toward), toward


class _Camera:
    """Project scene points to image pixels: the points ``frame`` fitted into ``box`` (left, top, right, bottom)."""

    def __init__(self, eye, frame: np.ndarray, box: tuple[float, float, float, float]):
        self.right, self.up, self.toward = _basis(eye)
        u, v = frame @ self.right, frame @ self.up
        left, top, right, bottom = box
        self.scale = min((right - left) / (u.max() - u.min()), (bottom - top) / (v.max() - v.min()))
        # Centred in the box.
        self.u0 = u.min() - ((right - left) / self.scale - (u.max() - u.min())) / 2 - left / self.scale
        self.v0 = v.max() + ((bottom - top) / self.scale - (v.max() - v.min())) / 2 + top / self.scale

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """Return the (..., 2) image pixels (x right, y down) of (..., 3) scene points."""
        points = np.asarray(points, dtype=np.float64)
        return np.stack([(points @ self.right - self.u0) * self.scale,
                         (self.v0 - points @ self.up) * self.scale], axis=-1)

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Return how near the camera each point is (larger is nearer)."""
        return np.asarray(points, dtype=np.float64) @ self.toward


def _scale_colors(scale: str, count: int) -> np.ndarray:
    """Return ``count`` RGB colours (0-255) sampled evenly along a Plotly colour scale."""
    points = plotly.colors.sample_colorscale(plotly.colors.get_colorscale(scale), np.linspace(0, 1, count).tolist(),
                                             colortype="tuple")
    return np.rint(np.asarray(points) * 255).astype(np.uint8)


def _png(index: np.ndarray, palette: np.ndarray, alpha: np.ndarray) -> str:
    """Return an index image with its RGB ``palette`` and per-entry ``alpha`` as a PNG data URI."""
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=bytes(alpha.astype(np.uint8).tolist()), compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _surface_palette(scale: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return (RGB palette, alpha, grid index, line index): 0 see-through, then colour level x light level."""
    colors = _scale_colors(scale, SURFACE_LEVELS).astype(np.float64)
    shades = [np.rint(colors * (0.62 + 0.38 * shade / (SHADES - 1))) for shade in range(SHADES)]
    grid = 1 + SURFACE_LEVELS * SHADES
    palette = np.zeros((256, 3))
    palette[1:grid] = np.concatenate(shades)
    palette[grid] = palette[grid + 1] = LINE_GREY
    alpha = np.full(256, 255)
    alpha[0], alpha[grid], alpha[grid + 1] = 0, GRID_ALPHA, LINE_ALPHA
    return palette, alpha, grid, grid + 1


_PALETTES: dict[str, tuple] = {}


def nice_ticks(last: int, count: int = 6) -> list[int]:
    """Return round tick values from 0 to ``last`` (at most about ``count`` of them)."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 10**9) if last / s <= count - 1)
    return list(range(0, last + 1, step))


def _tick_text(value: float) -> str:
    return f"{value:.3g}"


def surface_range(channel_map: np.ndarray) -> tuple[float, float]:
    """Return the height and colour range of a surface: its finite values' min and max (1 wide if flat)."""
    finite = channel_map[np.isfinite(channel_map)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    return low, (high if high > low else low + 1.0)


def _surface_camera() -> _Camera:
    half = SURFACE_HEIGHT / 2
    box = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-half, half)])
    width, height = SURFACE_SIZE
    # Room for the tick labels (annotations) around the box.
    return _Camera(SURFACE_EYE, box, (70, 30, width - 40, height - 45))


def _surface_points(channel_map: np.ndarray, low: float, high: float) -> np.ndarray:
    """Return the (h, w, 3) scene points of a map: column along x, row 0 at the far side, height in z."""
    rows, cols = channel_map.shape
    x = np.linspace(-0.5, 0.5, cols) if cols > 1 else np.zeros(1)
    y = np.linspace(0.5, -0.5, rows) if rows > 1 else np.zeros(1)
    z = (np.nan_to_num(channel_map, nan=low) - low) / (high - low) * SURFACE_HEIGHT - SURFACE_HEIGHT / 2
    grid_x, grid_y = np.meshgrid(x, y)
    return np.stack([grid_x, grid_y, z], axis=-1)


def surface_frame(channel_map: np.ndarray, scale: str = ACTIVATION_SCALE) -> dict:
    """Render one map as a shaded 3D surface: ``{"source": PNG data URI, "low", "high", "ticks"}``.

    ``ticks`` are the height axis's three labels (bottom, middle, top). The Activations page sends
    one per epoch for the browser to swap while the epoch slider is dragged.

    Raises:
        ValueError: ``channel_map`` is not 2-D.
    """
    channel_map = np.asarray(channel_map, dtype=np.float32)
    if channel_map.ndim != 2:
        raise ValueError(f"channel_map must be (h, w), not shape {channel_map.shape}")
    low, high = surface_range(channel_map)
    stride = max(1, -(-max(channel_map.shape) // SURFACE_MAX_SIDE))
    shown = channel_map[::stride, ::stride]
    if shown.shape[0] < 2 or shown.shape[1] < 2:
        shown = np.repeat(np.repeat(shown, 2 if shown.shape[0] < 2 else 1, 0), 2 if shown.shape[1] < 2 else 1, 1)
    palette, alpha, grid, line = _PALETTES.setdefault(scale, _surface_palette(scale))
    camera = _surface_camera()
    image = Image.new("P", SURFACE_SIZE, 0)
    draw = ImageDraw.Draw(image)
    _draw_box(draw, camera, grid, line)
    points = _surface_points(shown, low, high)
    corners = np.stack([points[:-1, :-1], points[:-1, 1:], points[1:, 1:], points[1:, :-1]], axis=2)
    # Colour: the quad's mean height; light: how much it faces a light above and behind the camera.
    level = (corners[..., 2].mean(axis=2) + SURFACE_HEIGHT / 2) / SURFACE_HEIGHT
    color = np.clip(np.rint(level * (SURFACE_LEVELS - 1)), 0, SURFACE_LEVELS - 1).astype(int)
    normal = np.cross(corners[:, :, 2] - corners[:, :, 0], corners[:, :, 3] - corners[:, :, 1])
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) * -1  # rows run towards -y: the cross points down
    light = np.asarray(SURFACE_EYE) + (0.0, 0.0, 2.0)
    facing = np.clip(normal @ (light / np.linalg.norm(light)), 0, 1)
    shade = np.clip(np.rint(facing * (SHADES - 1)), 0, SHADES - 1).astype(int)
    fill = 1 + shade * SURFACE_LEVELS + color
    quads = camera.pixels(corners)
    order = np.argsort(camera.depth(corners.mean(axis=2)), axis=None)
    flat_quads, flat_fill = quads.reshape(-1, 4, 2), fill.ravel()
    for index in order:  # far to near: nearer quads paint over farther ones
        polygon = [tuple(point) for point in flat_quads[index]]
        draw.polygon(polygon, fill=int(flat_fill[index]), outline=int(flat_fill[index]))
    middle = (low + high) / 2
    return {"source": _png(np.asarray(image), palette, alpha), "low": low, "high": high,
            "ticks": [_tick_text(low), _tick_text(middle), _tick_text(high)]}


def _draw_box(draw: ImageDraw.ImageDraw, camera: _Camera, grid: int, line: int) -> None:
    """Draw the floor and the two back walls of the surface's box, with a grid (behind everything)."""
    half = SURFACE_HEIGHT / 2

    def segment(start, end, color):
        (x0, y0), (x1, y1) = camera.pixels(np.array([start, end]))
        draw.line([(x0, y0), (x1, y1)], fill=color, width=1)

    for t in np.linspace(-0.5, 0.5, 6):
        segment((t, -0.5, -half), (t, 0.5, -half), grid)  # floor, along the rows
        segment((-0.5, t, -half), (0.5, t, -half), grid)  # floor, along the columns
        segment((t, 0.5, -half), (t, 0.5, half), grid)  # far wall, vertical
        segment((-0.5, t, -half), (-0.5, t, half), grid)  # left wall, vertical
    for z in (-half, 0.0, half):
        segment((-0.5, 0.5, z), (0.5, 0.5, z), grid)
        segment((-0.5, -0.5, z), (-0.5, 0.5, z), grid)
    for start, end in [((-0.5, -0.5, -half), (0.5, -0.5, -half)), ((0.5, -0.5, -half), (0.5, 0.5, -half)),
                       ((-0.5, -0.5, -half), (-0.5, -0.5, half))]:
        segment(start, end, line)  # the three axes: columns, rows, height


def _surface_labels(rows: int, cols: int, ticks: list[str], value: str) -> list[dict]:
    """Return the surface's axis labels as annotations in image pixels: the three height ticks first."""
    camera = _surface_camera()
    half = SURFACE_HEIGHT / 2

    def note(point, text, **extra):
        x, y = camera.pixels(np.asarray(point, dtype=np.float64))
        return dict(x=float(x), y=float(y), xref="x", yref="y", text=text, showarrow=False, font=TICK_FONT, **extra)

    labels = [note((-0.5, -0.5, z), text, xanchor="right", xshift=-6)
              for z, text in zip((-half, 0.0, half), ticks, strict=True)]
    for col in nice_ticks(cols - 1):
        x = col / max(cols - 1, 1) - 0.5
        labels.append(note((x, -0.5, -half), str(col), yanchor="top", yshift=-4))
    for row in nice_ticks(rows - 1):
        y = 0.5 - row / max(rows - 1, 1)
        labels.append(note((0.5, y, -half), str(row), xanchor="left", xshift=6))
    labels.append(note((0.0, -0.5, -half), "column", yanchor="top", yshift=-20))
    labels.append(note((0.5, 0.0, -half), "row", xanchor="left", xshift=28))
    labels.append(note((-0.5, -0.5, half), value, yanchor="bottom", yshift=8))
    return labels


def image_axes_layout(width: int, height: int) -> dict:
    """Return the layout of a figure that shows one ``width`` x ``height`` image at its own proportions."""
    return dict(
        xaxis=dict(visible=False, range=[-0.5, width - 0.5], constrain="domain", fixedrange=True),
        yaxis=dict(visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain", fixedrange=True),
        dragmode=False,
    )


def _colorbar_trace(low: float, high: float, title: str) -> go.Scatter:
    """An empty scatter that carries the view's colour bar (``marker.cmin``/``cmax``): trace 1."""
    return go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                      marker=dict(colorscale=ACTIVATION_SCALE, cmin=low, cmax=high, color=[low], showscale=True,
                                  colorbar=dict(title=dict(text=title, side="right"), thickness=12)))


def surface_image(channel_map: np.ndarray, title: str, theme: str | None = None, value: str = "activation",
                  frame: dict | None = None) -> go.Figure:
    """Draw one feature map as a 3D landscape in a server-rendered image: :func:`activation_surface`'s scene.

    Height and colour are the value, on the same colour scale, seen from the WebGL figure's default
    camera, with its axes (column, row, ``value``) and colour bar.

    Args:
        channel_map: (h, w) activations of one channel (or an image's pixels).
        title: figure title.
        theme: "light" or "dark".
        value: what the heights are (the height axis's and colour bar's title).
        frame: :func:`surface_frame` of ``channel_map`` if already rendered.

    Returns:
        Trace 0 the image (``source``), trace 1 the colour bar; ``layout.annotations[0:3]`` the
        height ticks (bottom, middle, top).

    Raises:
        ValueError: ``channel_map`` is not 2-D.
    """
    channel_map = np.asarray(channel_map, dtype=np.float32)
    frame = frame or surface_frame(channel_map)
    rows, cols = channel_map.shape
    figure = go.Figure([
        go.Image(source=frame["source"], hoverinfo="skip", name="surface"),
        _colorbar_trace(frame["low"], frame["high"], value),
    ])
    figure.update_layout(title=dict(text=title, font=dict(size=15)),
                         annotations=_surface_labels(rows, cols, frame["ticks"], value),
                         meta=dict(view="surface-image", rows=rows, cols=cols),
                         **image_axes_layout(*SURFACE_SIZE))
    apply_theme(figure, theme)
    # See-through plot area: the image's background is the page's card in either theme.
    figure.update_layout(margin=dict(l=0, r=0, t=TITLE_TOP, b=0), plot_bgcolor="rgba(0,0,0,0)")
    return figure


def _stack_geometry(shapes: list[tuple[int, int, bool]]) -> tuple[_Camera, list[np.ndarray]]:
    """Return the stacked view's camera and each floor's corners (origin, +columns, +rows) in scene space.

    ``shapes``: (rows, columns, dense) per floor, bottom first. Floors are as far apart, as wide and
    seen from where :func:`dashboard.figures.activations.stacked_layers` shows them.
    """
    aspect = stack_aspect(len(shapes))
    side, height = aspect["x"], aspect["z"]
    floors = []
    for level, (_, _, dense) in enumerate(shapes):
        z = height * level / max(len(shapes) - 1, 1)
        top, bottom = DENSE_BAND if dense else (0.0, 1.0)
        # Row 0 at the far side (+y), as the WebGL scene's reversed y axis puts it: the digit stands upright.
        origin = np.array([-side / 2, side * (0.5 - top), z])
        floors.append(np.array([origin, origin + (side, 0, 0), origin - (0, side * (bottom - top), 0)]))
    frame = np.concatenate([[f[0], f[1], f[2], f[1] + f[2] - f[0]] for f in floors])
    width, height_px = STACK_SIZE
    eye = (STACK_EYE["x"], STACK_EYE["y"], STACK_EYE["z"])
    return _Camera(eye, frame, (10, 15, width - STACK_LABEL_SPACE, height_px - 15)), floors


def stack_frame(planes: list[np.ndarray], dense: list[bool], scale: str = ACTIVATION_SCALE) -> dict:
    """Render the stacked floors: ``{"source": PNG data URI, "labels": [(x, y) image pixels per floor]}``.

    Args:
        planes: per floor, bottom first, its (rows, columns) values in [0, 1] (:func:`layer_plane`).
        dense: per floor, whether it is a dense layer (one row, drawn as a band across the floor).
    """
    geometry = [(plane.shape[0], plane.shape[1], flag) for plane, flag in zip(planes, dense, strict=True)]
    camera, floors = _stack_geometry(geometry)
    width, height = STACK_SIZE
    canvas = np.zeros((height, width), dtype=np.uint8)
    outline_index = STACK_LEVELS + 1
    for plane, corners in zip(planes, floors, strict=True):
        rows, cols = plane.shape
        index = 1 + np.clip(np.rint(np.nan_to_num(plane) * (STACK_LEVELS - 1)), 0, STACK_LEVELS - 1).astype(np.uint8)
        origin, along_cols, along_rows = camera.pixels(corners)
        # The floor's affine map from texture pixels (column, row) to image pixels, inverted for Pillow.
        forward = np.column_stack([(along_cols - origin) / cols, (along_rows - origin) / rows])
        inverse = np.linalg.inv(forward)
        shift = -inverse @ origin
        warped = Image.fromarray(index, mode="L").transform(
            (width, height), Image.Transform.AFFINE,
            (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1]),
            resample=Image.Resampling.NEAREST, fillcolor=0)
        warped = np.asarray(warped)
        canvas = np.where(warped > 0, warped, canvas)
        outline = Image.fromarray(canvas)
        far_corner = along_cols + along_rows - origin
        ImageDraw.Draw(outline).polygon([tuple(origin), tuple(along_cols), tuple(far_corner), tuple(along_rows)],
                                        outline=outline_index)
        canvas = np.asarray(outline).copy()
    palette = np.zeros((256, 3))
    palette[1:STACK_LEVELS + 1] = _scale_colors(scale, STACK_LEVELS)
    palette[outline_index] = LINE_GREY
    alpha = np.full(256, 255)
    alpha[0], alpha[outline_index] = 0, LINE_ALPHA
    labels = []
    for corners in floors:
        origin, along_cols, along_rows = camera.pixels(corners)
        x, y = (along_cols + (along_cols + along_rows - origin)) / 2  # the middle of the floor's right edge
        labels.append((float(x), float(y)))
    return {"source": _png(canvas, palette, alpha), "labels": labels}


def stacked_image(layers: list[tuple[str, np.ndarray]], theme: str | None = None,
                  channel: int | None = None) -> go.Figure:
    """Stack every layer of one digit as a floor, input at the bottom, in a server-rendered image.

    :func:`dashboard.figures.activations.stacked_layers`'s scene (the same planes, colours, floor
    spacing and camera), each floor named with its shape beside it.

    Args:
        layers: (name, activation) in network order; activations (h, w, c), (h, w) or (n,).
        theme: "light" or "dark".
        channel: show this channel of layers that have it instead of the channel mean.

    Returns:
        Trace 0 the image, trace 1 the colour bar; one annotation per layer (bottom first).

    Raises:
        ValueError: no layers, or a layer of unsupported shape.
    """
    if not layers:
        raise ValueError("stacked_image needs at least one layer")
    planes, dense, names = [], [], []
    for name, array in layers:
        planes.append(layer_plane(array, channel))
        dense.append(np.ndim(array) == 1)
        shape = "x".join(str(size) for size in np.shape(array))
        names.append((name, shape))
    frame = stack_frame(planes, dense)
    annotations = [dict(x=x + 8, y=y, xref="x", yref="y", xanchor="left", showarrow=False, font=TICK_FONT,
                        text=f"{name}<br>{shape}", hovertext=f"{name}: output {shape}")
                   for (x, y), (name, shape) in zip(frame["labels"], names, strict=True)]
    figure = go.Figure([
        go.Image(source=frame["source"], hoverinfo="skip", name="layers"),
        _colorbar_trace(0.0, 1.0, "activation<br>(0 = layer min,<br>1 = layer max)"),
    ])
    figure.update_layout(title=dict(text="All layers stacked (input at the bottom)", font=dict(size=15)),
                         annotations=annotations, meta=dict(view="stack-image", layers=[n for n, _ in names]),
                         showlegend=False, **image_axes_layout(*STACK_SIZE))
    apply_theme(figure, theme)
    # See-through plot area: the image's background is the page's card in either theme.
    figure.update_layout(margin=dict(l=0, r=0, t=TITLE_TOP, b=0), plot_bgcolor="rgba(0,0,0,0)")
    return figure
