"""Lesson 2 (curriculum part 2): the tensor cheat sheet, run live.

dtypes (from real tensors' ``dtype`` and ``element_size()``), creation, size and shape,
the ways to add, indexing and ``item()``, the NumPy bridge (shared memory both ways, and a
dtype conversion that copies), and devices (CUDA when present, the CPU otherwise).
``torch.empty`` gives whatever was in memory, so the lesson shows only its shape.

Example:
    >>> values = lesson2(step=6, lang="en").step(6).values
    >>> values["numpy_follows_tensor"], values["tensor_follows_numpy"], values["copy_unchanged"]
    (True, True, True)
"""

from __future__ import annotations

from torchground.lessons.steps import Lesson, LessonResult, Step, run_lesson

__all__ = ["LESSON2", "lesson2"]

_DTYPES = '''\
import torch

# name, dtype (the second name is an alias of the same dtype object)
dtypes = [
    ("bool", torch.bool),
    ("uint8", torch.uint8),
    ("int8", torch.int8),
    ("int16 / short", torch.short),
    ("int32 / int", torch.int),
    ("int64 / long", torch.long),
    ("float16 / half", torch.half),
    ("float32 / float", torch.float),
    ("float64 / double", torch.double),
]
dtype_table = []
print(f"{'name':<18}{'tensor.dtype':<16}{'bytes':>5}  values")
for name, dtype in dtypes:
    x = torch.tensor([0, 1], dtype=dtype)  # a real tensor of that dtype
    dtype_table.append((name, str(x.dtype), x.element_size()))
    print(f"{name:<18}{str(x.dtype):<16}{x.element_size():>5}  {x.tolist()}")

print(torch.short is torch.int16, torch.long is torch.int64,
      torch.double is torch.float64)

# One tensor has one dtype: mixed Python values are converted to a common one
mixed = torch.tensor([1, 2.5, True])
print(mixed, mixed.dtype)
'''

_CREATION = '''\
x = torch.empty(2, 3)  # memory as it was: arbitrary values, never use them
print(x.shape, x.dtype)

torch.manual_seed(0)  # so the random numbers are the same every run
x = torch.rand(2, 3)  # uniform random numbers in [0, 1)
print(x)

x = torch.zeros(2, 3, dtype=torch.long)
print(x)

x = torch.ones(2, 3)
print(x)

x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # from (nested) Python lists
print(x)

y = x.new_ones(2, 2, dtype=torch.int32)  # new_*: x's device, dtype as asked
print(y)

z = torch.ones_like(x, dtype=torch.float64)  # *_like: same shape as x
print(z)
'''

_SHAPE = '''\
x = torch.zeros(4, 6)
print(x.size())  # torch.Size([4, 6])
print(x.shape)   # the same, as an attribute
print(len(x))    # the size of the first dimension
print(x.ndim)    # number of dimensions

y = x.view(24)     # reshape (same data, no copy)
z = x.view(-1, 8)  # -1: "whatever fits"
print(y.shape, z.shape)
shapes = (tuple(x.shape), len(x), x.ndim, tuple(y.shape), tuple(z.shape))
'''

_ARITHMETIC = '''\
x = torch.tensor([1.0, 2.0, 3.0])
y = torch.tensor([10.0, 20.0, 30.0])

print(x + y)            # 1. the operator
print(torch.add(x, y))  # 2. the function

result = torch.empty(3)
torch.add(x, y, out=result)  # 3. into an existing tensor
print(result)

y.add_(x)  # in place: a trailing underscore changes y itself
print(y)
'''

_INDEXING = '''\
x = torch.tensor([[1.0, 2.0, 3.0],
                  [4.0, 5.0, 6.0]])
print(x[0])        # first row
print(x[:, 1])     # second column
print(x[1, 1:])    # row 2, columns 2 and 3
print(x[x > 2.5])  # a boolean mask

value = x[1, 2].item()  # one element as a Python number
print(value, type(value))
'''

_NUMPY = '''\
import numpy as np

# Tensor → NumPy: numpy() shares the memory
a = torch.ones(3)
b = a.numpy()
a.add_(1)  # change the tensor ...
print(a, b)  # ... and the array changed too
numpy_follows_tensor = bool((b == 2.0).all())

# NumPy → tensor: from_numpy() shares the memory
c = np.ones(3)  # float64
d = torch.from_numpy(c)
np.add(c, 1, out=c)  # change the array in place ...
print(c, d)  # ... and the tensor changed too
tensor_follows_numpy = bool((d == 2.0).all())

# A dtype conversion makes a copy: float() turns float64 into new float32
e = d.float()
c[0] = 100.0  # change the array again
print(d, e)   # d follows, the copy e does not
copy_unchanged = e[0].item() == 2.0
print(numpy_follows_tensor, tensor_follows_numpy, copy_unchanged)
'''

_DEVICES = '''\
from torch import nn

cuda = torch.cuda.is_available()
print("CUDA available:", cuda)
if cuda:
    device_names = [torch.cuda.get_device_name(i)
                    for i in range(torch.cuda.device_count())]
    print("GPUs:", device_names)
else:
    device_names = []
    print("No CUDA GPU here: everything below stays on the CPU.")

device = torch.device("cuda" if cuda else "cpu")
print("device:", device)

x = torch.ones(2, 2, device=device)  # create directly on the device
y = torch.ones(2, 2).to(device)      # or move with to()
if cuda:
    y = torch.ones(2, 2).cuda()      # cuda(): the same as to("cuda")
z = (x + y).cpu()                    # back to the CPU (numpy() needs the CPU)
print(x.device, y.device, z.device)

model = nn.Linear(2, 1).to(device)  # to() moves every parameter of a model
print(next(model.parameters()).device)
'''


def _device_params(ns: dict) -> dict:
    return {"device": str(ns["device"])}


LESSON2 = Lesson(
    2,
    "lessons.l2",
    (
        Step("lessons.l2.dtypes", _DTYPES, ("dtype_table", "mixed")),
        Step("lessons.l2.creation", _CREATION, ("x", "y", "z")),
        Step("lessons.l2.shape", _SHAPE, ("shapes",)),
        Step("lessons.l2.arithmetic", _ARITHMETIC, ("x", "y", "result")),
        Step("lessons.l2.indexing", _INDEXING, ("x", "value")),
        Step(
            "lessons.l2.numpy",
            _NUMPY,
            ("a", "b", "c", "d", "e", "numpy_follows_tensor", "tensor_follows_numpy", "copy_unchanged"),
        ),
        Step("lessons.l2.devices", _DEVICES, ("cuda", "device_names", "device", "z", "model"), _device_params),
    ),
    uses_cuda=True,
)


def lesson2(step: int | None = None, lang: str | None = None) -> LessonResult:
    """Run lesson 2 (tensors and dtypes) and return its steps with their values.

    Args:
        step: run only up to this step (1–7) and return it alone. Default: all steps.
        lang: "en" or "ja". Default: the current language.

    Values (``result.step(n).values``): 1 ``dtype_table`` (name, dtype, bytes), ``mixed``;
    2 ``x``, ``y``, ``z``; 3 ``shapes``; 4 ``x``, ``y``, ``result``; 5 ``x``, ``value``;
    6 ``a``, ``b``, ``c``, ``d``, ``e``, ``numpy_follows_tensor``,
    ``tensor_follows_numpy``, ``copy_unchanged``; 7 ``cuda``, ``device_names``,
    ``device``, ``z``, ``model``.

    Raises:
        TorchgroundError: a step outside 1–7 or an unknown language.
    """
    return run_lesson(LESSON2, step, lang)
