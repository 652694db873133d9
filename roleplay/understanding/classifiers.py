"""The fitted linear models, as shipped: loading ``model/classifiers.npz`` and scoring sentences.

Fitting happens in :mod:`roleplay.understanding.fit` (scikit-learn, offline); reading only
needs numpy: a dot product with the embedding, a gather over the hashed wording, a sigmoid.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from roleplay.errors import ConfigError
from roleplay.understanding.features import EMBEDDING_WEIGHT, Features


def model_dir() -> Path:
    return Path(str(resources.files("roleplay.understanding").joinpath("model")))


@dataclass(frozen=True)
class Head:
    """One-vs-rest logistic models for a set of labels, with the thresholds chosen when fitted:
    below ``absent`` the label is not there; from ``decide`` it is; from ``certain`` a
    decisive label is acted on without review."""

    labels: list[str]
    w_embedding: NDArray[np.float32]
    w_wording: NDArray[np.float32]
    bias: NDArray[np.float32]
    absent: NDArray[np.float32]
    decide: NDArray[np.float32]
    certain: NDArray[np.float32]

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def probabilities(self, f: Features) -> NDArray[np.float32]:
        """(sentences, labels) probabilities."""
        z = (f.embeddings * EMBEDDING_WEIGHT) @ self.w_embedding.T + self.bias
        for row, (index, value) in enumerate(f.wording):
            if len(index):
                z[row] += self.w_wording[:, index] @ value
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)


ITEM_KINDS = ("fact", "resolution", "rule")


class Heads:
    """The shipped heads, loaded once per process."""

    _lock = threading.Lock()
    _loaded: tuple[dict[str, Head], dict[str, tuple[float, float, float]]] | None = None

    @classmethod
    def _all(cls) -> tuple[dict[str, Head], dict[str, tuple[float, float, float]]]:
        if cls._loaded is None:
            with cls._lock:
                if cls._loaded is None:
                    cls._loaded = _load(model_dir() / "classifiers.npz")
        return cls._loaded

    @classmethod
    def get(cls, name: str) -> Head:
        return cls._all()[0][name]

    @classmethod
    def items(cls) -> dict[str, tuple[float, float, float]]:
        """Per item kind, the (support, margin, bias) weights of the item matcher."""
        return cls._all()[1]

    @classmethod
    def report(cls) -> dict[str, Any]:
        """What the fitting recorded: sources, split and held-out figures."""
        data: dict[str, Any] = json.loads((model_dir() / "classifiers.json").read_text("utf-8"))
        return data


def _load(path: Path) -> tuple[dict[str, Head], dict[str, tuple[float, float, float]]]:
    if not path.exists():
        raise ConfigError(
            f"the reader's classifiers are missing ({path.name})",
            hint="reinstall the package, or run `python -m roleplay.understanding.fit`",
        )
    data = np.load(path, allow_pickle=False)
    heads: dict[str, Head] = {}
    for name in ("acts", "moves", "rules"):
        thresholds = data[f"{name}.thresholds"].astype(np.float32)
        heads[name] = Head(
            labels=[str(x) for x in data[f"{name}.labels"]],
            w_embedding=data[f"{name}.w_embedding"].astype(np.float32),
            w_wording=data[f"{name}.w_wording"].astype(np.float32),
            bias=data[f"{name}.bias"].astype(np.float32),
            absent=thresholds[:, 0],
            decide=thresholds[:, 1],
            certain=thresholds[:, 2],
        )
    coef = data["items.coef"].astype(float)
    items = {kind: (coef[k, 0], coef[k, 1], coef[k, 2]) for k, kind in enumerate(ITEM_KINDS)}
    return heads, items
