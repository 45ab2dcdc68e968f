"""Pictures: loss curves, decision boundaries, data plots and rendered graphs (matplotlib,
Graphviz). Layer 4 (output)."""
