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

# «dtypes_1»
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
print(f"{'«dtypes_name»':<18}{'tensor.dtype':<16}{'«dtypes_bytes»':>5}  «dtypes_values»")
for name, dtype in dtypes:
    x = torch.tensor([0, 1], dtype=dtype)  # «dtypes_2»
    dtype_table.append((name, str(x.dtype), x.element_size()))
    print(f"{name:<18}{str(x.dtype):<16}{x.element_size():>5}  {x.tolist()}")

print(torch.short is torch.int16, torch.long is torch.int64,
      torch.double is torch.float64)

# «dtypes_3»
mixed = torch.tensor([1, 2.5, True])
print(mixed, mixed.dtype)
'''

_CREATION = '''\
x = torch.empty(2, 3)  # «creation_1»
print(x.shape, x.dtype)

torch.manual_seed(0)  # «creation_2»
x = torch.rand(2, 3)  # «creation_3»
print(x)

x = torch.zeros(2, 3, dtype=torch.long)
print(x)

x = torch.ones(2, 3)
print(x)

x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # «creation_4»
print(x)

y = x.new_ones(2, 2, dtype=torch.int32)  # «creation_5»
print(y)

z = torch.ones_like(x, dtype=torch.float64)  # «creation_6»
print(z)
'''

_SHAPE = '''\
x = torch.zeros(4, 6)
print(x.size())  # «shape_1»
print(x.shape)   # «shape_2»
print(len(x))    # «shape_3»
print(x.ndim)    # «shape_4»

y = x.view(24)     # «shape_5»
z = x.view(-1, 8)  # «shape_6»
print(y.shape, z.shape)
shapes = (tuple(x.shape), len(x), x.ndim, tuple(y.shape), tuple(z.shape))
'''

_ARITHMETIC = '''\
x = torch.tensor([1.0, 2.0, 3.0])
y = torch.tensor([10.0, 20.0, 30.0])

print(x + y)            # «arithmetic_1»
print(torch.add(x, y))  # «arithmetic_2»

result = torch.empty(3)
torch.add(x, y, out=result)  # «arithmetic_3»
print(result)

y.add_(x)  # «arithmetic_4»
print(y)
'''

_INDEXING = '''\
x = torch.tensor([[1.0, 2.0, 3.0],
                  [4.0, 5.0, 6.0]])
print(x[0])        # «indexing_1»
print(x[:, 1])     # «indexing_2»
print(x[1, 1:])    # «indexing_3»
print(x[x > 2.5])  # «indexing_4»

value = x[1, 2].item()  # «indexing_5»
print(value, type(value))
'''

_NUMPY = '''\
import numpy as np

# «numpy_1»
a = torch.ones(3)
b = a.numpy()
a.add_(1)  # «numpy_2»
print(a, b)  # «numpy_3»
numpy_follows_tensor = bool((b == 2.0).all())

# «numpy_4»
c = np.ones(3)  # «numpy_5»
d = torch.from_numpy(c)
np.add(c, 1, out=c)  # «numpy_6»
print(c, d)  # «numpy_7»
tensor_follows_numpy = bool((d == 2.0).all())

# «numpy_8»
e = d.float()
c[0] = 100.0  # «numpy_9»
print(d, e)   # «numpy_10»
copy_unchanged = e[0].item() == 2.0
print(numpy_follows_tensor, tensor_follows_numpy, copy_unchanged)
'''

_DEVICES = '''\
from torch import nn

cuda = torch.cuda.is_available()
print("«devices_available»", cuda)
if cuda:
    device_names = [torch.cuda.get_device_name(i)
                    for i in range(torch.cuda.device_count())]
    print("«devices_gpus»", device_names)
else:
    device_names = []
    print("«devices_none»")

device = torch.device("cuda" if cuda else "cpu")
print("«devices_device»", device)

x = torch.ones(2, 2, device=device)  # «devices_1»
y = torch.ones(2, 2).to(device)      # «devices_2»
if cuda:
    y = torch.ones(2, 2).cuda()      # «devices_3»
z = (x + y).cpu()                    # «devices_4»
print(x.device, y.device, z.device)

model = nn.Linear(2, 1).to(device)  # «devices_5»
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
