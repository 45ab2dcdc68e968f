"""Source text for your own data and K classes in the exported code.

* a CSV data file: its text embedded in the script when small (at most
  :data:`EMBED_ROWS` rows), else read from the file the spec names (a run folder's
  copy); parsed with the class names of the spec, shuffled once with the data seed and
  standardised with the spec's mean and scale — what
  :func:`torchground.data.spec_data.load_data` does, in the same order;
* the K-class data sets ``blobs`` and ``spiral-k``, as in :mod:`torchground.data.datasets`;
* K outputs: the argmax as the class, and ``nn.CrossEntropyLoss`` fed class indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchground.codegen.sources import literal
from torchground.data.csv_io import read_bytes

__all__ = ["EMBED_ROWS", "csv_data_code", "MULTI_GENERATORS", "multi_discretize_code", "class_index_loss_code"]

#: Data files of at most this many rows are embedded in the script.
EMBED_ROWS = 2000


def csv_data_code(spec: Any) -> str:
    """Code that sets ``points`` (N, 2) and ``labels`` (N,) from the spec's data file."""
    text = read_bytes(spec.data_file).decode("utf-8-sig")
    rows = len([line for line in text.splitlines() if line.strip()]) - 1
    if rows <= EMBED_ROWS and '"""' not in text and "\\" not in text:
        body = "\n".join(line.rstrip() for line in text.strip().splitlines())
        source = f'DATA_CSV = """\\\n{body}\n"""  # «own_data_embedded»\n'
    else:
        path = str(Path(spec.data_file).resolve())
        source = (
            f"DATA_FILE = {path!r}  # «own_data_file»\n"
            'with open(DATA_FILE, encoding="utf-8-sig") as f:\n'
            "    DATA_CSV = f.read()\n"
        )
    if spec.problem == "classification":
        names = literal(tuple(spec.class_names))
        numeric = all(_is_number(n) for n in spec.class_names)
        key = "float(cell)" if numeric else "cell"
        keys = "[float(n) for n in CLASS_NAMES]" if numeric else "list(CLASS_NAMES)"
        labels = f'''\
CLASS_NAMES = {names}  # «own_data_names»
class_keys = {keys}
index = np.array([class_keys.index({key}) for cell in cells], dtype=np.float64)  # (N,)
'''
        labels += (
            "labels = np.where(index == 0, -1.0, 1.0)  # «own_data_two»\n"
            if spec.classes == 2
            else "labels = index  # «own_data_k»\n"
        )
    else:
        labels = "labels = np.array([float(cell) for cell in cells])  # (N,)\n"
    code = source + f'''
rows = [line.split(",") for line in DATA_CSV.strip().splitlines()[1:] if line.strip()]
points = np.array([[float(r[0]), float(r[1])] for r in rows])  # (N, 2)
cells = [r[2].strip() for r in rows]
{labels}
order = np.random.default_rng(DATA_SEED).permutation(N_SAMPLES)  # «own_data_shuffle»
points, labels = points[order], labels[order]
'''
    if spec.standardize:
        code += (
            f"INPUT_MEAN = np.array({literal(tuple(spec.input_mean))})  # «own_data_mean»\n"
            f"INPUT_SCALE = np.array({literal(tuple(spec.input_scale))})\n"
            "points = (points - INPUT_MEAN) / INPUT_SCALE  # «own_data_standardise»\n"
        )
    return code


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_COUNTS = "    counts = [n // k + (1 if c < n % k else 0) for c in range(k)]  # «k_counts»\n"

#: K-class data set name → source of ``make_<name>(rng, n, noise, k=CLASSES)``.
MULTI_GENERATORS: dict[str, str] = {
    "blobs": '''\
def make_blobs(rng, n, noise, k=CLASSES):
    """«gen_blobs»"""
''' + _COUNTS + '''\
    labels = np.repeat(np.arange(k, dtype=np.float64), counts)  # (N,)
    angle = 2.0 * math.pi * np.arange(k) / k + math.pi / 2.0
    centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (K, 2)
    variance = 0.3 + (3.0 - 0.3) * noise / 0.5
    points = centres[labels.astype(int)] + math.sqrt(variance) * rng.standard_normal((n, 2))  # (N, 2)
    return points, labels
''',
    "spiral-k": '''\
def make_spiral_k(rng, n, noise, k=CLASSES):
    """«gen_spiral_k»"""
''' + _COUNTS + '''\
    arms = []
    for c, m in enumerate(counts):
        frac = np.arange(m) / m
        t = 1.75 * 2.0 * math.pi * frac + 2.0 * math.pi * c / k
        arms.append(np.stack([5.0 * frac * np.sin(t), 5.0 * frac * np.cos(t)], axis=1))  # (m, 2)
    points = np.concatenate(arms) + rng.uniform(-1.0, 1.0, (n, 2)) * noise  # (N, 2)
    return points, np.repeat(np.arange(k, dtype=np.float64), counts)
''',
}


def multi_discretize_code() -> str:
    """``discretize`` for K outputs: the most likely class, as a (B, 1) column of indices."""
    return '''

def discretize(output):
    """«k_discretize_doc»"""
    return output.argmax(dim=1, keepdim=True).to(output.dtype)  # (B, 1)
'''


def class_index_loss_code(criterion: str) -> str:
    """The K-class loss fed class indices (targets stay a (B, 1) float column)."""
    return f'''torch_loss = {criterion}


def criterion(output, target):
    """«k_loss_doc»"""
    return torch_loss(output, target.reshape(-1).long())
'''
