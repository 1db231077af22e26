"""The Dash dashboard: reads the artifact store and shows runs, metrics and activations.

Importing it never imports TensorFlow; only :mod:`dashboard.draw.live_model` (the Draw
page's model) does, lazily.
"""
