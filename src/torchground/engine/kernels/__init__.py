"""The compiled path of the stacked engine: which kernel trains a group, and the kernels
(the table of rules and paths: :mod:`torchground.engine`).

* :mod:`~torchground.engine.kernels.dispatch` — the router (``CompiledEpoch``, its state
  ``Path``): fused kernel → first-epoch check → ``torch.compile`` (Inductor) → eager.
* :mod:`~torchground.engine.kernels.rules` — the fused kernels' element-wise rules, written
  once as data; :mod:`~torchground.engine.kernels.rule_text` writes them as C, Triton and
  torch functions.
* :mod:`~torchground.engine.kernels.fused_steps` — what both fused kernels share (scope,
  per-model tables, Adam's per-step scalars).
* :mod:`~torchground.engine.kernels.native` (+ ``native.c``) — the fused C kernel (CPU).
* :mod:`~torchground.engine.kernels.triton_steps`, ``triton_rules``, ``triton_tiled``,
  ``triton_unrolled`` — the fused Triton kernels (CUDA).
* :mod:`~torchground.engine.kernels.cuda_graph` — one epoch captured as a CUDA graph.
* ``batch_orders.c`` — many models' batch orders drawn in C
  (:mod:`torchground.engine.batch_orders` loads it).
* :mod:`~torchground.engine.kernels.build_cache` — building C sources and caching them;
  :mod:`~torchground.engine.kernels.generated` — generated source saved for the compiler
  and Triton.
"""
