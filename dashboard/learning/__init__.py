"""The test set over training, numpy only: each epoch's embedding and when each test digit is learned.

``history.py`` reads a run's per-epoch test records into arrays, ``projection.py`` projects the dense
layer's activations to 2D, ``learned.py`` tabulates when each digit became (and stayed) correct.
"""
