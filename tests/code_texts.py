"""Test helper: split generated Python code into its program and its texts for the reader.

The code torchground shows or writes (lesson steps, ``export script|notebook``) is the same
program in every language; only what a reader reads changes: comments, docstrings, the
strings a ``print`` shows (whose fields a translation may reorder), and a ``lang=`` argument (the language of messages that a
torchground call prints). :func:`program` is the code with exactly those masked, so two
languages' code must give equal programs; :func:`texts` lists those texts, for the scan
for English words in Japanese output.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

__all__ = ["program", "texts", "english_words", "identifiers", "registry_names", "ALLOWED_WORDS", "SPEC_LINE"]


def _is_docstring(node: ast.AST, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(parent, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and isinstance(body, list) and body and body[0] is node
        and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    )


def _print_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]


def _strings_in(node: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def program(source: str) -> str:
    """``source`` without comments, docstrings, printed strings and ``lang=`` values (an AST dump)."""
    tree = ast.parse(source)
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0], parent):
            body[0].value.value = "<docstring>"
    for call in _print_calls(tree):
        for const in _strings_in(call):
            const.value = "<text>"
        for fstring in [n for n in ast.walk(call) if isinstance(n, ast.JoinedStr)]:
            # a translation may put the message's fields in another order
            fields = [v for v in fstring.values if isinstance(v, ast.FormattedValue)]
            fstring.values = [ast.Constant("<text>"), *sorted(fields, key=ast.dump)]
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "lang":
            node.value = ast.Constant("<lang>")
    return ast.dump(tree)


def texts(source: str) -> list[str]:
    """The reader's texts of ``source``: comments, docstrings and the strings ``print`` shows."""
    found = [tok.string.lstrip("#").strip() for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    tree = ast.parse(source)
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0], parent):
            found.append(body[0].value.value)
    for call in _print_calls(tree):
        found += [c.value for c in _strings_in(call)]
    return [text for text in found if text.strip()]


#: Words allowed in Japanese text: names of libraries, classes, functions and units that
#: Japanese writing keeps in Latin letters (as the original article does).
ALLOWED_WORDS = frozenset(
    """
    PyTorch NumPy Python Jupyter matplotlib pyplot torch torchground numpy nn optim tanh sigmoid softmax relu
    ReLU Tanh Sigmoid Softmax Softmin Linear Adam AdamW SGD LBFGS RMSprop Adagrad Adadelta Adamax NAdam RAdam
    Xavier Glorot Kaiming He PReLU RReLU ELU SELU CELU GELU Keras Dense TensorFlow Playground Neural Network
    Graphviz dot torchviz make_dot Agg DataLoader TensorDataset Module Parameter Triton Ray Inductor CUDA
    Softplus Softshrink Softsign Hardtanh Hardshrink LeakyReLU LogSigmoid Tanhshrink Threshold MSELoss
    state_dict float double half int long bool dtype cuda cpu
    Epoch loss acc val_loss val_acc r2 val_r2 epoch
    x y w b e pi exp log sin cos tan sqrt abs max min mean sum nan inf
    ja en ms s px True False None onnx ONNX seedrandom
    """.split()
)

_WORD = re.compile(r"(?<![\w./\\-])[A-Za-z][A-Za-z']*(?![\w(/\\=-]|\.\w)")
# An item of a Japanese enumeration (none、step、cosine): a value or a name, never prose.
_LISTED = re.compile(r"(?<=、)[A-Za-z][\w-]*|[A-Za-z][\w-]*(?=、)")


def english_words(text: str, identifiers: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """ASCII words in ``text`` that read as English prose.

    Left out: `code spans`, URLs, an English gloss in brackets right after a Japanese term,
    items of a list written with 、 (values: none、step、cosine), ``name=`` (a setting), words with digits, dots, underscores or slashes
    (identifiers, paths), --flags, all-capital acronyms (CPU, TOML), camel-case names
    (NumPy), single letters, ``identifiers`` (names the code defines) and
    :data:`ALLOWED_WORDS`.
    """
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"(?<![\w-])--?[\w-]+", " ", text)
    text = _LISTED.sub(" ", text)
    text = re.sub(r"(?<=[\u3000-\u9fff])[（(][A-Za-z][A-Za-z -]*[)）]", " ", text)  # a gloss: 要素ごと（element-wise）
    out = []
    for match in _WORD.finditer(text):
        word = match.group(0).strip("'")
        if len(word) <= 1 or word.isupper() or re.search(r"[a-z][A-Z]", word):
            continue
        if word in ALLOWED_WORDS or word in identifiers or word.lower() in ALLOWED_WORDS:
            continue
        out.append(word)
    return out


#: A comment line of the spec written as TOML in an exported script's header (data, not prose).
SPEC_LINE = re.compile(r"^[a-z_0-9]+ = ")


def identifiers(source: str) -> set[str]:
    """Names and attributes that ``source`` uses (code a comment may quote)."""
    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, (ast.arg, ast.keyword)) and n.arg}
    return names


def registry_names() -> set[str]:
    """The names torchground's registries, data sets and features answer to (identifiers too)."""
    from torchground.data.datasets import DATASETS
    from torchground.data.features import FEATURES
    from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS

    names = set(DATASETS) | set(FEATURES)
    for registry in (ACTIVATIONS, LOSSES, OPTIMIZERS, INITS):
        names |= set(registry.names())
    return names | {part for name in names for part in re.split(r"[-_]", name)} | {"train", "val", "test"}
