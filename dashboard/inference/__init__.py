"""Inference without TensorFlow: a run's network in numpy, from the weights stored for each epoch.

:class:`Network` builds the network a run's config describes from one epoch's weights and
returns what the Draw page shows of a digit (activations, probabilities, saliency).
"""

from dashboard.inference.network import Network, Result

__all__ = ["Network", "Result"]
