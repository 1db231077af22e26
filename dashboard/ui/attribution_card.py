"""The attributions card (issue 14, part 4): saliency, SmoothGrad or Grad-CAM of one digit, and their sanity check.

Shown on the Activations page (the chosen probe) and the Draw page (the drawn, uploaded or test
digit). The card is closed until its switch opens it: nothing is computed while it is closed, so
a stroke on the Draw page costs the card one short request and no model pass. Open, it shows the
chosen method's map from the network of the page's epoch, and the sanity check: the same map from
the untrained network (epoch 0) beside the trained one (the last epoch), with the Spearman rank
correlation of the two for every method. Maps come from the numpy engine
(:mod:`dashboard.inference.attribution`) and the run's stored per-epoch weights; no TensorFlow.

Each page places :func:`attribution_card` with the ids :func:`card_ids` gives it, and calls
:func:`register` with its digit, epoch and theme and :func:`probe_outputs` or :func:`digit_outputs`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html

from artifacts import ArtifactError, Run
from artifacts.config import conv_layers
from artifacts.format import DIGIT_CLASS_NAMES
from dashboard.figures.attributions import attribution_panels
from dashboard.inference import Network
from dashboard.inference import attribution as attr
from dashboard.store_access import resolve_run
from dashboard.ui.components import error_card, explanation, notice, run_class_names
from dashboard.ui.epochs import nearest_epoch

METHOD_LABELS = {attr.SALIENCY: "Saliency", attr.SMOOTHGRAD: "SmoothGrad", attr.GRADCAM: "Grad-CAM"}
GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}
CACHE_SIZE = 8  # networks kept per process: a run's untrained, trained and shown epochs, for two runs
ANSWER = "answer"  # the class dropdown's value for "the trained network's answer"
LOW_CHANGE = 0.8  # a correlation above this: the map barely depends on what the network learned

EXPLAINED = f"""
**Saliency** is the gradient of the class's probability with respect to each pixel: which pixels,
changed a little, would change the answer most. It is noisy. **SmoothGrad** averages the saliency of
{attr.SMOOTHGRAD_SAMPLES} copies of the digit with random noise added (standard deviation
{attr.SMOOTHGRAD_SIGMA:.0%} of the pixel range, the same noise every time), which keeps what is stable
and blurs the rest. **Grad-CAM** looks at one conv layer: each channel is weighted by how much the
class's score (before softmax) rises with it on average, the weighted channels are added up and only
the positive part is kept, then enlarged to 28x28. Early layers give sharp maps, later ones coarse
regions.

**The sanity check** (Adebayo et al., 2018, *Sanity Checks for Saliency Maps*): a map that explains
the model must change when the model's weights are replaced by random ones. The card computes every
method for the untrained network (epoch 0, the random initialisation) and for the trained one, for
the same class, and gives Spearman's rank correlation of the two maps (1: the same ranking of pixels,
0: unrelated). A method whose maps stay alike (close to 1) is showing the digit's edges, not what
the network learned; trust the ones that change.
"""


@dataclass(frozen=True)
class CardIds:
    """The card's component ids on one page (values start with the page's name)."""

    show: str
    box: str
    method: str
    layer: str
    target: str
    request: str
    figure: str
    table: str
    note: str


def card_ids(page: str) -> CardIds:
    """Return the card's ids on ``page`` ("activations", "draw")."""
    return CardIds(*(f"{page}-attribution-{part}" for part in
                     ("show", "box", "method", "layer", "target", "request", "figure", "table", "note")))


def outputs(ids: CardIds) -> list[dash.Output]:
    """Return the outputs of the card's callback, in the order :func:`card_outputs` returns them."""
    return [dash.Output(ids.box, "is_open"), dash.Output(ids.layer, "options"), dash.Output(ids.layer, "value"),
            dash.Output(ids.layer, "disabled"), dash.Output(ids.figure, "figure"), dash.Output(ids.table, "children"),
            dash.Output(ids.note, "children")]


def controls_inputs(ids: CardIds) -> list[dash.Input]:
    """Return the card's own inputs (switch, method, layer, class), the first of its callback's."""
    return [dash.Input(ids.show, "value"), dash.Input(ids.method, "value"), dash.Input(ids.layer, "value"),
            dash.Input(ids.target, "value")]


# In the browser: pass the page's digit, epoch and theme on to the card only while it is open. Closed,
# a new probe or stroke sends the server nothing for the card (the page's one request per interaction).
GATE = """function(show) {
    return show ? Array.prototype.slice.call(arguments, 1) : window.dash_clientside.no_update;
}"""


def register(ids: CardIds, source: dash.Input, epoch: dash.Input, theme: dash.Input, run: dash.State,
             work) -> None:
    """Register the card's callbacks on a page: the browser's gate, and the server's one callback.

    Args:
        source: the page's digit (the Activations probe, the Draw digit store).
        epoch: the page's epoch; theme: its theme; run: its run id.
        work: :func:`probe_outputs` or :func:`digit_outputs`, called with the source, epoch and theme in place.
    """
    dash.clientside_callback(GATE, dash.Output(ids.request, "data"), dash.Input(ids.show, "value"), source, epoch,
                             theme, prevent_initial_call=True)

    def answer(show, method, layer, target, request, run_id):
        parts = request if isinstance(request, list) and len(request) == 3 else [None, None, None]
        return work(show, method, layer, target, *parts, run_id)

    dash.callback(*outputs(ids), *controls_inputs(ids), dash.Input(ids.request, "data"), run,
                  prevent_initial_call=True)(answer)


def attribution_card(ids: CardIds, layers: list[str] | None = None, title: str = "Attributions you can check",
                     names=None) -> dbc.Card:
    """Return the card, closed: its switch, method, Grad-CAM's layer, the class explained, the maps, the table.

    Args:
        layers: the run's conv layers (the callback fills them in when None).
        names: the class names (None: the digits).
    """
    layers = list(layers or [])
    names = DIGIT_CLASS_NAMES if names is None else names
    targets = [{"label": "its answer", "value": ANSWER}] + [{"label": str(name), "value": index}
                                                            for index, name in enumerate(names)]
    return dbc.Card(dbc.CardBody([
        html.H5(title, className="card-title"),
        dcc.Store(id=ids.request),
        dbc.Switch(id=ids.show, value=False,
                   label="Show saliency, SmoothGrad and Grad-CAM, with the untrained network beside the trained"),
        dbc.Collapse([
            dbc.Row([
                dbc.Col([dbc.Label("Method", className="small mb-0 fw-semibold"),
                         dbc.RadioItems(id=ids.method, value=attr.SALIENCY, inline=True,
                                        options=[{"label": label, "value": value}
                                                 for value, label in METHOD_LABELS.items()])], md=6),
                dbc.Col([dbc.Label("Grad-CAM layer", className="small mb-0 fw-semibold"),
                         dcc.Dropdown(id=ids.layer, options=layers, value=layers[-1] if layers else None,
                                      clearable=False, disabled=True)], md=3),
                dbc.Col([dbc.Label("Explain the class", className="small mb-0 fw-semibold"),
                         dcc.Dropdown(id=ids.target, options=targets, value=ANSWER, clearable=False)], md=3),
            ], className="g-2 align-items-end mt-1"),
            html.Div(id=ids.note, className="small my-2"),
            dcc.Graph(id=ids.figure, config=GRAPH_CONFIG, style={"height": "250px"}),
            html.Div(id=ids.table, className="small"),
            explanation("Saliency, SmoothGrad, Grad-CAM and the sanity check", EXPLAINED),
        ], id=ids.box, is_open=False),
    ]), className="mb-3")


_NETWORKS: OrderedDict[tuple, Network] = OrderedDict()
_LOCK = threading.Lock()


def network_at(run: Run, epoch: int) -> Network:
    """Return the run's network after a stored ``epoch`` (cached per process, keyed by the weights file).

    Raises:
        ArtifactError: the weights cannot be read.
        ValueError: they do not fit the run's network.
        OSError: the file is gone.
    """
    return _kept_network(run, epoch, lambda: Network(run.info().config, run.weights(epoch)))


def _kept_network(run: Run, epoch: int, build):
    """Return the network ``build()`` makes from the weights after ``epoch``, kept per process under the weights
    file's identity (a file written again is a new key), at most :data:`CACHE_SIZE` of them.

    Raises:
        OSError: the weights file is gone; and whatever ``build`` raises.
    """
    path = run.weights_path(epoch)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _LOCK:
        if key in _NETWORKS:
            _NETWORKS.move_to_end(key)
            return _NETWORKS[key]
    network = build()
    with _LOCK:
        _NETWORKS[key] = network
        while len(_NETWORKS) > CACHE_SIZE:
            _NETWORKS.popitem(last=False)
    return network


_CHECKS: OrderedDict[tuple, tuple[Network, Network, list]] = OrderedDict()


def sanity_checks(untrained: Network, trained: Network, image: np.ndarray, layers: list[str],
                  cls: int | None) -> list[tuple[str, attr.SanityCheck]]:
    """Return (method name, its sanity check) for every method, Grad-CAM for each of ``layers``.

    The last few digits' are kept: choosing another method or layer for the same digit redraws the
    maps without recomputing the table (SmoothGrad's two batched passes are most of its time).

    Raises:
        ValueError: see :func:`dashboard.inference.attribution.attribute`.
    """
    key = (id(untrained), id(trained), np.ascontiguousarray(image, dtype=np.float32).tobytes(), tuple(layers), cls)
    with _LOCK:
        kept = _CHECKS.get(key)
        # The networks are held with the result, so their ids cannot be reused while it is kept.
        if kept is not None and kept[0] is untrained and kept[1] is trained:
            _CHECKS.move_to_end(key)
            return kept[2]
    every = [(attr.SALIENCY, None), (attr.SMOOTHGRAD, None), *((attr.GRADCAM, name) for name in layers)]
    checks = [(method_name(way, where), attr.sanity_check(untrained, trained, image, way, where, cls))
              for way, where in every]
    with _LOCK:
        _CHECKS[key] = (untrained, trained, checks)
        while len(_CHECKS) > CACHE_SIZE:
            _CHECKS.popitem(last=False)
    return checks


IMPORTED_CHECK = ("The sanity check compares the untrained network with the trained one: an imported model has "
                  "only the network as it was imported, so its maps are shown without the check.")


def imported_network_of(run: Run):
    """Return an imported run's numpy network (:mod:`dashboard.inference.graph`), cached like :func:`network_at`.

    Raises:
        ArtifactError: the weights or the manifest cannot be read.
        dashboard.inference.graph.UnsupportedModel: a layer the engine does not run.
        OSError: the weights file is missing.
    """
    from artifacts import format as fmt
    from dashboard.inference.graph import imported_network

    epoch = fmt.IMPORTED_WEIGHTS_EPOCH
    return _kept_network(run, epoch, lambda: imported_network(run.info(), run.weights(epoch)))


def imported_outputs(run: Run, image: np.ndarray, method: str, layer: object, target: object, theme: str | None,
                     label: object = None) -> tuple:
    """Return the open card's outputs for an imported run: the chosen method's map from the model as imported,
    and why there is no sanity check (see :func:`card_outputs`)."""
    from dashboard.inference.graph import UnsupportedModel

    try:
        network = imported_network_of(run)
    except (ArtifactError, OSError) as error:
        return _failed(f"The weights of this imported model cannot be read: {getattr(error, 'reason', None) or error}"
                       ". Import it again to compute attributions here.")
    except UnsupportedModel as error:
        return True, [], None, True, {}, None, notice(f"Attributions cannot be computed here: {error}.", "warning")
    kinds = {spec.name: spec.kind for spec in run.info().layers()}
    layers = [name for name in network.layer_names if kinds.get(name) in ("Conv2D", "DepthwiseConv2D")]
    layer = layer if layer in layers else (layers[-1] if layers else None)
    keep = (True, layers, layer, method != attr.GRADCAM)
    if method == attr.GRADCAM and layer is None:
        return (*keep, {}, None, error_card("This network has no conv layer, so Grad-CAM has nothing to look at."))
    names = run_class_names(run)
    try:
        result = attr.attribute(network, image, method, layer, _index(target, len(names)))
    except ValueError as error:
        return (*keep, {}, None, error_card(f"Attributions cannot be computed for this digit ({error})."))
    chosen = method_name(method, layer)
    figure = attribution_panels(image, [("the model as imported", result.heatmap)], theme)
    share = f"it gives that class {float(result.probabilities[result.cls]):.0%}"
    asked = _index(target, len(names)) is not None
    note = [html.Strong(f"{chosen}: "), f"what speaks for class {names[result.cls]} ({share}). " if asked
            else f"why the network says {names[result.cls]} ({share}). "]
    label = _index(label, len(names))
    if label is not None and label != result.cls:
        note.append(f"The true label is {names[label]}. ")
    return (*keep, figure, html.Span(IMPORTED_CHECK, className="text-body-secondary"), html.Span(note))


def correlation_text(rho: float | None) -> str:
    """Return a correlation for the table: two decimals, or why there is none."""
    return "undefined (a map is all zero)" if rho is None else f"{rho:.2f}"


def verdict(rho: float | None) -> str:
    """Return what a trained-vs-untrained correlation says about the method, in a few words."""
    if rho is None:
        return "one network's map is empty"
    return "barely changes with the weights" if rho > LOW_CHANGE else "changes with the weights"


def sanity_table(checks: list[tuple[str, attr.SanityCheck]], chosen: str) -> dbc.Table:
    """Return the table of every method's trained-vs-untrained rank correlation, the chosen method in bold."""
    rows = [html.Tr([html.Td(html.Strong(name) if name == chosen else name),
                     html.Td(correlation_text(check.correlation)), html.Td(verdict(check.correlation))])
            for name, check in checks]
    head = html.Thead(html.Tr([html.Th("Method"), html.Th("Spearman ρ, untrained vs trained"), html.Th("")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", bordered=False, className="mb-1")


def method_name(method: str, layer: str | None) -> str:
    """Return a method's name as the card writes it ("Grad-CAM conv_2")."""
    return f"{METHOD_LABELS[method]} {layer}" if method == attr.GRADCAM else METHOD_LABELS[method]


def card_outputs(run: Run, image: np.ndarray, method: object, layer: object, target: object, epoch: object,
                 theme: str | None, label: object = None) -> tuple:
    """Return the open card's outputs (see :func:`outputs`) for one (28, 28) digit of ``run``.

    Args:
        method: a value of :data:`METHOD_LABELS` (anything else: saliency; the client may send anything).
        layer: Grad-CAM's conv layer (anything not one: the last conv layer).
        target: the class explained, an index of the run's classes (anything else: the trained network's answer).
        epoch: the page's epoch (the nearest stored one is shown; None: the last).
        label: the digit's true label when known.
    """
    method = method if method in METHOD_LABELS else attr.SALIENCY
    try:
        if run.info().is_imported:
            return imported_outputs(run, image, method, layer, target, theme, label)
        config = run.info().config
        layers = conv_layers(config)
        epochs = run.weight_epochs()
    except (ArtifactError, OSError, TypeError, ValueError) as error:
        return _failed(f"This run cannot be read: {getattr(error, 'reason', error)}.")
    layer = layer if layer in layers else (layers[-1] if layers else None)
    keep = (True, layers, layer, method != attr.GRADCAM)
    if config.epochs not in epochs or 0 not in epochs:
        return (*keep, {}, None, error_card("This run did not store the weights of its untrained and trained "
                                            "networks, so attributions cannot be computed here. Train a new run."))
    if method == attr.GRADCAM and layer is None:
        return (*keep, {}, None, error_card("This network has no conv layer, so Grad-CAM has nothing to look at."))
    shown = nearest_epoch(epochs, epoch if epoch is not None else config.epochs)
    names = run_class_names(run)
    cls = _index(target, len(names))
    try:
        untrained, trained = network_at(run, 0), network_at(run, config.epochs)
        checks = sanity_checks(untrained, trained, image, layers, cls)
        chosen = method_name(method, layer)
        check = dict(checks)[chosen]
        # The page's epoch is often one of the two (the last, by default): then its map is already drawn.
        between = None if shown in (0, config.epochs) else attr.attribute(network_at(run, shown), image, method,
                                                                           layer, check.trained.cls)
    except (ArtifactError, OSError) as error:
        return (*keep, {}, None, error_card(f"The weights of this run cannot be read: "
                                            f"{getattr(error, 'reason', None) or error}."))
    except ValueError as error:
        return (*keep, {}, None, error_card(f"Attributions cannot be computed for this digit ({error})."))
    label = _index(label, len(names))
    panels = [("untrained (epoch 0)", check.untrained.heatmap),
              (f"trained (epoch {config.epochs})", check.trained.heatmap)]
    if between is not None:
        panels.insert(1, (f"epoch {shown} (the page's epoch)", between.heatmap))
    figure = attribution_panels(image, panels, theme)
    explained = check.trained.cls
    shares = (f"the trained network gives it {float(check.trained.probabilities[explained]):.0%}, the untrained "
              f"one {float(check.untrained.probabilities[explained]):.0%}")
    if cls is None:
        note = [html.Strong(f"{chosen}: "), f"why the network says {names[explained]} (its answer; {shares}). "]
    else:
        note = [html.Strong(f"{chosen}: "), f"what speaks for class {names[explained]} ({shares}). "]
    if label is not None and label != explained:
        note.append(f"The true label is {names[label]}. ")
    note.append(f"Rank correlation untrained vs trained: {correlation_text(check.correlation)}.")
    return (*keep, figure, sanity_table(checks, chosen), html.Span(note))


def _index(value: object, count: int) -> int | None:
    """Return ``value`` when it is a whole number from 0 to count - 1 (a class), else None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < count:
        return int(value)
    return None


def _failed(message: str) -> tuple:
    return True, [], None, True, {}, None, error_card(message)


def _closed() -> tuple:
    return (False, *(dash.no_update,) * 6)


def probe_outputs(show, method, layer, target, probe, epoch, theme, run_id) -> tuple:
    """The Activations page's callback: the card for the chosen probe at the slider's epoch (closed: nothing)."""
    if not show:
        return _closed()
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return _failed(resolved.error)
    try:
        probes = resolved.run.probes()
        index = int(probe)
        if index < 0:
            raise IndexError(index)
        image, label = probes["images"][index], int(probes["labels"][index])
    except ArtifactError as error:
        return _failed(f"The probe digits cannot be read: {error.reason}.")
    except (TypeError, ValueError, IndexError):
        return _failed("Choose a probe digit.")
    return card_outputs(resolved.run, np.asarray(image, dtype=np.float32), method, layer, target, epoch, theme, label)


def digit_outputs(show, method, layer, target, digit, epoch, theme, run_id) -> tuple:
    """The Draw page's callback: the card for the page's digit (drawn, uploaded or test) at its epoch."""
    if not show:
        return _closed()
    pixels = digit_pixels(digit)
    if pixels is None:
        return _failed("Draw, upload or pick a digit first.")
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return _failed(resolved.error)
    return card_outputs(resolved.run, pixels, method, layer, target, epoch, theme, digit.get("label"))


def digit_pixels(digit: object) -> np.ndarray | None:
    """Return the (28, 28) float32 pixels (clipped to 0-255) of a Draw page digit store value, or None."""
    if not isinstance(digit, dict):
        return None
    try:
        pixels = np.asarray(digit.get("pixels"), dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if pixels.shape != (28, 28) or not np.isfinite(pixels).all():
        return None
    return np.clip(pixels, 0, 255)
