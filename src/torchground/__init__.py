"""torchground: a neural-network playground in which every model is real PyTorch."""

__all__: list[str] = []
