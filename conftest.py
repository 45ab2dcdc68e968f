"""Collection rules for the whole repository (doctests of src/ included)."""

import importlib.util

# The fused CUDA steps import Triton, which the test extra installs; without it there is
# nothing in that module to collect (tests/test_fused.py skips itself).
collect_ignore = [] if importlib.util.find_spec("triton") else ["src/torchground/engine/kernels/triton_steps.py"]
