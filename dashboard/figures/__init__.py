"""Pure figure builders: arrays or DataFrames in, ``go.Figure`` out. No store access, no Dash.

Modules by topic: ``training`` (curves), ``metrics`` (per-class bars, confusion
matrices), ``activations`` (feature-map mosaics, 3D surface, stacked 3D view,
saliency, probabilities), ``architecture`` (layer blocks, filter grids),
``digits`` (digit thumbnails and galleries). Shared styling lives in ``style``.
"""
