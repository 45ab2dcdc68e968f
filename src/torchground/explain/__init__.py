"""Looking inside: autograd graphs as plain data, formulas and their gradients, one neuron.

Layer 3 (introspection): pure functions that compute what the ``graph``, ``grad`` and
``neuron`` commands and the page's Graph panel show; drawing lives in :mod:`torchground.viz`.
"""
