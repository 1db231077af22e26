"""The Keras pipeline: data sources, model builder, training with captures, evaluation, CLI.

Importing this package does not import TensorFlow; ``pipeline.train`` and the
modules it uses load it when training starts.
"""
