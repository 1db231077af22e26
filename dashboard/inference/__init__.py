"""Inference without TensorFlow: a run's network in numpy, from the weights stored for each epoch.

:class:`Network` builds the network a run's config describes from one epoch's weights and
returns what the Draw page shows of a digit (activations, probabilities, saliency);
:meth:`Network.gradients` returns a class score's gradient at the pixels and at any layer's output,
from which :mod:`dashboard.inference.attribution` computes Grad-CAM, SmoothGrad and the sanity check.
"""

from dashboard.inference.network import Gradients, Network, Result

__all__ = ["Gradients", "Network", "Result"]
