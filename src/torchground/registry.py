"""Registries: every name a user can type maps to one PyTorch object, with a one-line help.

Four kinds: activations, losses, optimisers and initialisers. Each :class:`Registry` holds
usable entries and *refused* entries — names from ``torch.nn`` / ``torch.optim`` that do
not fit a network with one output trained on ±1 labels or regression targets — so that a
refusal always comes with its reason instead of "unknown name".

Example:
    >>> ACTIVATIONS.get("tanh").build()
    Tanh()
    >>> "softmax" in ACTIVATIONS.refused()
    True
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Mapping, TypeVar

import torch
from torch import nn

from torchground.errors import RegistryError
from torchground.i18n import Text, t

__all__ = [
    "Entry",
    "Registry",
    "LossFunction",
    "ClassIndexLoss",
    "ACTIVATIONS",
    "LOSSES",
    "OPTIMIZERS",
    "INITS",
    "INIT_STEPS",
    "init_layer",
    "init_code",
    "optimizer_params",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registry entry.

    Args:
        name: the lower-case name users type.
        build: factory for the object (``None`` for refused entries).
        refused: catalogue key of the reason this name is refused, or ``None``.
        info: kind-specific facts (e.g. which problems a loss fits).
    """

    kind: str
    name: str
    build: Callable[..., T] | None = None
    refused: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def summary(self, lang: str | None = None) -> str:
        """The one-line explanation in ``lang``."""
        return t(f"registry.{self.kind}.{self.name}", lang)

    def reason(self, lang: str | None = None) -> str:
        """Why this entry is refused (empty for usable entries)."""
        return t(self.refused, lang) if self.refused else ""


class Registry(Generic[T]):
    """Name → :class:`Entry` for one kind, with aliases and refusals."""

    def __init__(self, kind: str, entries: Iterable[Entry[T]], aliases: Mapping[str, str] | None = None):
        self.kind = kind
        self._entries = {e.name: e for e in entries}
        self._aliases = dict(aliases or {})

    def canonical(self, name: str) -> str:
        """Normalise ``name`` (case, ``-``/``_``, aliases) without checking it exists."""
        key = str(name).strip().lower().replace("-", "_")
        return self._aliases.get(key, key)

    def get(self, name: str) -> Entry[T]:
        """Return the usable entry for ``name``; raise :class:`RegistryError` otherwise."""
        entry = self._entries.get(self.canonical(name))
        if entry is None:
            raise RegistryError(
                "registry.unknown", kind=Text(f"registry.kind.{self.kind}"), name=name, allowed=", ".join(self.names())
            )
        if entry.refused:
            raise RegistryError("registry.refused", name=entry.name, reason=Text(entry.refused))
        return entry

    def names(self) -> tuple[str, ...]:
        """Usable names, in registry order."""
        return tuple(n for n, e in self._entries.items() if not e.refused)

    def refused(self) -> tuple[str, ...]:
        """Names that are known but refused with a reason."""
        return tuple(n for n, e in self._entries.items() if e.refused)

    def entry(self, name: str) -> Entry[T]:
        """Any entry, usable or refused (``KeyError`` if unknown)."""
        return self._entries[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._entries and not self.entry(name).refused


# --- activations ---------------------------------------------------------------------------
# Threshold needs its two constants; 0.0/0.0 makes it a hard step at zero like ReLU's knee.
_ACTIVATION_FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "elu": nn.ELU,
    "hardshrink": nn.Hardshrink,
    "hardtanh": nn.Hardtanh,
    "leakyrelu": nn.LeakyReLU,
    "logsigmoid": nn.LogSigmoid,
    "prelu": nn.PReLU,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "rrelu": nn.RReLU,
    "selu": nn.SELU,
    "celu": nn.CELU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "softshrink": nn.Softshrink,
    "softsign": nn.Softsign,
    "tanh": nn.Tanh,
    "tanhshrink": nn.Tanhshrink,
    "threshold": lambda: nn.Threshold(0.0, 0.0),
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "hardsigmoid": nn.Hardsigmoid,
    "hardswish": nn.Hardswish,
    "identity": nn.Identity,
}
_REFUSED_ACTIVATIONS = ("softmax", "softmin", "logsoftmax", "softmax2d", "multiheadattention", "adaptivelogsoftmaxwithloss")

ACTIVATIONS: Registry[nn.Module] = Registry(
    "activation",
    [Entry("activation", n, f) for n, f in _ACTIVATION_FACTORIES.items()]
    + [Entry("activation", n, refused=f"registry.refused.activation.{n}") for n in _REFUSED_ACTIVATIONS],
    aliases={"linear": "identity", "none": "identity", "leaky_relu": "leakyrelu", "swish": "silu", "log_softmax": "logsoftmax"},
)


# --- losses --------------------------------------------------------------------------------
class LossFunction(nn.Module):
    """A ``torch.nn`` loss with the label mapping it needs made explicit (BCE losses).

    ``forward(output, target)`` computes ``criterion(output_map(output), target_map(target))``
    where the maps are either the identity or ``v ↦ (v + 1) / 2`` (±1 → 0/1). The
    criterion uses ``reduction="mean"``.

    Shape:
        output, target: (B, 1). Returns a scalar.
    """

    def __init__(self, criterion: nn.Module, to_unit_output: bool = False, to_unit_target: bool = False):
        super().__init__()
        self.criterion = criterion
        self.to_unit_output = to_unit_output
        self.to_unit_target = to_unit_target

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.to_unit_output:
            output = (output + 1) / 2  # tanh range [-1, 1] → probability [0, 1]
        if self.to_unit_target:
            target = (target + 1) / 2  # labels ±1 → 0/1
        return self.criterion(output, target)

    def extra_repr(self) -> str:
        maps = []
        if self.to_unit_output:
            maps.append("output ↦ (output + 1) / 2")
        if self.to_unit_target:
            maps.append("target ↦ (target + 1) / 2")
        return ", ".join(maps)


class _HalfSquaredError(nn.Module):
    """The Playground's loss: mean of 0.5·(output − target)²."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.mean((output - target) ** 2)


class ClassIndexLoss(nn.Module):
    """A K-class ``torch.nn`` loss fed class indices: ``criterion(output, target.long())``.

    The networks keep every target in a (B, 1) float column (±1, a real value or, with K
    classes, the class index 0 … K−1); losses over K outputs such as
    ``nn.CrossEntropyLoss`` (softmax included) want a (B,) tensor of class indices.

    Shape:
        output (B, K) of logits, target (B, 1) of class indices. Returns a scalar.
    """

    def __init__(self, criterion: nn.Module):
        super().__init__()
        self.criterion = criterion

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.criterion(output, target.reshape(-1).long())

    def extra_repr(self) -> str:
        return "target ↦ class index"


_BOTH = ("classification", "regression")
_CLS = ("classification",)
#: Losses of K = 3 to 10 classes (one output per class) fit the "multiclass" problem only.
_MULTI = ("multiclass",)


def _loss(
    name: str,
    make: Callable[[], nn.Module],
    problems: tuple[str, ...],
    unit_out: bool = False,
    unit_target: bool = False,
    output_range: tuple[float, float] | None = None,
) -> Entry[nn.Module]:
    def build() -> nn.Module:
        if problems == _MULTI:
            return ClassIndexLoss(make())
        # Without a label mapping the plain torch.nn loss is used as is (one module call less per step).
        return LossFunction(make(), unit_out, unit_target) if unit_out or unit_target else make()

    return Entry(
        "loss",
        name,
        build,
        info={"problems": problems, "unit_output": unit_out, "unit_target": unit_target, "output_range": output_range},
    )


_REFUSED_LOSSES = (
    "nll", "ctc", "poissonnll", "gaussiannll", "kldiv", "marginranking", "hingeembedding",
    "multilabelmargin", "multilabelsoftmargin", "cosineembedding", "tripletmargin",
    "tripletmarginwithdistance", "adaptivelogsoftmaxwithloss", "linearcrossentropy",
)

LOSSES: Registry[nn.Module] = Registry(
    "loss",
    [
        _loss("mse", nn.MSELoss, _BOTH),
        _loss("half_mse", _HalfSquaredError, _BOTH),
        _loss("l1", nn.L1Loss, _BOTH),
        _loss("smooth_l1", nn.SmoothL1Loss, _BOTH),
        _loss("huber", nn.HuberLoss, _BOTH),
        _loss("soft_margin", nn.SoftMarginLoss, _CLS),
        _loss("bce_with_logits", nn.BCEWithLogitsLoss, _CLS, unit_target=True),
        _loss("bce", nn.BCELoss, _CLS, unit_out=True, unit_target=True, output_range=(-1.0, 1.0)),
        _loss("crossentropy", nn.CrossEntropyLoss, _MULTI),
        _loss("multimargin", nn.MultiMarginLoss, _MULTI),
    ]
    + [Entry("loss", n, refused=f"registry.refused.loss.{n}") for n in _REFUSED_LOSSES],
    aliases={
        "mseloss": "mse", "squared": "half_mse", "l1loss": "l1", "mae": "l1", "smoothl1": "smooth_l1",
        "smoothl1loss": "smooth_l1", "huberloss": "huber", "softmargin": "soft_margin",
        "softmarginloss": "soft_margin", "bcewithlogits": "bce_with_logits", "bcewithlogitsloss": "bce_with_logits",
        "bceloss": "bce", "cross_entropy": "crossentropy", "crossentropyloss": "crossentropy", "nllloss": "nll",
        "ctcloss": "ctc", "kl_div": "kldiv", "kldivloss": "kldiv",
        "linearcrossentropyloss": "linearcrossentropy", "linear_cross_entropy": "linearcrossentropy",
    },
)


# --- optimisers ----------------------------------------------------------------------------
# Arguments of torch.optim constructors that are implementation switches, not
# hyper-parameters a learner sets (or that would break determinism or the trainer).
_IMPLEMENTATION_ARGS = {"params", "self", "lr", "weight_decay", "foreach", "fused", "capturable", "differentiable"}

_OPTIMIZER_CLASSES: dict[str, str] = {
    "sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam",
    "adadelta": "Adadelta", "adagrad": "Adagrad", "asgd": "ASGD", "rmsprop": "RMSprop", "rprop": "Rprop",
    "lbfgs": "LBFGS", "adafactor": "Adafactor",
}


_FOREACH_EXACT = {"sgd", "adam", "adamw", "adamax", "adadelta", "adagrad", "rmsprop", "rprop"}


def _optimizer_entry(name: str, cls_name: str) -> Entry[torch.optim.Optimizer] | None:
    cls = getattr(torch.optim, cls_name, None)
    if cls is None:  # e.g. Adafactor on an older torch
        return None
    params = inspect.signature(cls.__init__).parameters
    return Entry(
        "optimizer",
        name,
        cls,
        info={
            "class": cls_name,
            "weight_decay": "weight_decay" in params,
            "needs_closure": name == "lbfgs",
            # The multi-tensor ("foreach") kernels of these optimisers give bit-identical
            # results to the per-tensor loop on CPU (tested) and save per-step overhead.
            "foreach_exact": name in _FOREACH_EXACT,
            "defaults": {k: p.default for k, p in params.items() if k not in _IMPLEMENTATION_ARGS and p.default is not inspect.Parameter.empty},
        },
    )


OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry(
    "optimizer",
    [e for n, c in _OPTIMIZER_CLASSES.items() if (e := _optimizer_entry(n, c)) is not None]
    + [
        Entry("optimizer", "sparseadam", refused="registry.refused.optimizer.sparseadam"),
        Entry("optimizer", "muon", refused="registry.refused.optimizer.muon"),
    ],
    aliases={"sparse_adam": "sparseadam"},
)


def optimizer_params(name: str) -> dict[str, Any]:
    """The hyper-parameters (besides ``lr``/``weight_decay``) optimiser ``name`` accepts, with defaults.

    >>> sorted(optimizer_params("sgd"))
    ['dampening', 'maximize', 'momentum', 'nesterov']
    """
    return dict(OPTIMIZERS.get(name).info["defaults"])


# --- initialisers --------------------------------------------------------------------------
#: Each initialiser as data: the ``nn.init`` call (function, arguments, keyword arguments)
#: on a linear layer's weight, then on its bias; ``None`` for "torch", which keeps what
#: ``nn.Linear`` drew when it was made. :func:`init_layer` runs them (the registry's
#: entries, the engine's initial weights) and :func:`init_code` writes them (exported code).
INIT_STEPS: dict[str, tuple[tuple[str, tuple[float, ...], dict[str, str]], ...] | None] = {
    "xavier": (("xavier_uniform_", (), {}), ("zeros_", (), {})),
    "playground": (("uniform_", (-0.5, 0.5), {}), ("constant_", (0.1,), {})),
    "zero": (("zeros_", (), {}), ("zeros_", (), {})),
    "kaiming": (("kaiming_uniform_", (), {"nonlinearity": "relu"}), ("zeros_", (), {})),
    "torch": None,
}
_DRAWS = frozenset({"uniform_", "xavier_uniform_", "kaiming_uniform_"})  # the calls that take a generator


def init_layer(name: str, weight: torch.Tensor, bias: torch.Tensor, generator: torch.Generator | None = None) -> None:
    """Initialise one linear layer's ``weight`` and ``bias`` in place with the initialiser
    ``name`` (canonical), drawing from ``generator`` (default: torch's global generator,
    as ``model.apply`` in a plain script draws).

    Example:
        >>> w, b = torch.empty(2, 3), torch.empty(2)
        >>> init_layer("playground", w, b, torch.Generator().manual_seed(0))
        >>> b.tolist(), bool((w.abs() <= 0.5).all())
        ([0.10000000149011612, 0.10000000149011612], True)
    """
    steps = INIT_STEPS[name]
    for (fn, args, kwargs), tensor in zip(steps or (), (weight, bias)):
        extra = {"generator": generator} if fn in _DRAWS else {}
        getattr(nn.init, fn)(tensor, *args, **kwargs, **extra)


def init_code(name: str) -> tuple[str, str] | None:
    """The initialiser ``name`` as source lines for a layer ``m`` (weight line, bias line),
    exactly the calls :func:`init_layer` makes; ``None`` for "torch".

    >>> init_code("kaiming")
    ('nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")', 'nn.init.zeros_(m.bias)')
    """
    steps = INIT_STEPS[name]
    if steps is None:
        return None

    def call(step: tuple[str, tuple[float, ...], dict[str, str]], target: str) -> str:
        fn, args, kwargs = step
        parts = [target, *map(repr, args), *(f'{k}="{v}"' for k, v in kwargs.items())]
        return f"nn.init.{fn}({', '.join(parts)})"

    return call(steps[0], "m.weight"), call(steps[1], "m.bias")


def _apply_init(name: str) -> Callable[[nn.Module], None]:
    """What ``model.apply`` takes for the initialiser ``name``: :func:`init_layer` on every linear layer."""

    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            init_layer(name, m.weight, m.bias)

    init.__doc__ = f"The {name!r} initialiser on a linear layer (global generator)."
    return init


INITS: Registry[Callable[[nn.Module], None]] = Registry(
    "init",
    [
        *(Entry("init", name, lambda name=name: _apply_init(name)) for name in INIT_STEPS),
    ],
    aliases={"xavier_uniform": "xavier", "glorot": "xavier", "zeros": "zero", "he": "kaiming", "default": "torch"},
)
