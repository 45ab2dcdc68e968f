"""The compiled path of the stacked engine: which kernel trains a group, and the kernels.

* :mod:`~torchground.engine.kernels.dispatch` — the router: fused kernel → first-epoch
  check → ``torch.compile`` (Inductor) → eager.
* :mod:`~torchground.engine.kernels.fused` — what both fused kernels share (the block of
  models, the first-epoch check's inputs).
* :mod:`~torchground.engine.kernels.native` (+ ``native.c``) — the fused C kernel (CPU).
* :mod:`~torchground.engine.kernels.triton_steps`, ``triton_ops``, ``triton_tiled``,
  ``triton_unrolled`` — the fused Triton kernels (CUDA).
* :mod:`~torchground.engine.kernels.cuda_graph` — one epoch captured as a CUDA graph.
* :mod:`~torchground.engine.kernels.batch_orders` (+ ``batch_orders.c``) — many models'
  batch orders drawn in C.
* :mod:`~torchground.engine.kernels.build_cache` — building C sources and caching them.
"""
