"""Data: the Playground's data sets, input features, and CSV files.

Layer 1 (core): pure functions of their arguments; reading and writing files lives in
:mod:`~torchground.data.csv_io`.
"""
