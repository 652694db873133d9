"""How a sentence becomes numbers the reader's linear models can weigh.

Two views of the same sentence, side by side:

* **meaning**: a sentence embedding from a static model distilled from all-MiniLM-L6-v2
  (``model2vec``; numpy only, about 0.1 ms a sentence, no PyTorch). It carries paraphrase:
  "take the block off" sits near "unblock".
* **wording**: hashed word unigrams and bigrams and character 3- and 4-grams inside words. They
  carry what an averaged embedding blurs: negation ("can't send" against "send"), typos and
  spelling variants, and words of languages the embedding model knows poorly (Norwegian).

The hashing is a stable CRC32 of each feature string, so the features are the same in every
process and on every machine; the same code builds them when fitting (``fit.py``) and when
reading.
"""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Size of the hashed wording space the linear models weigh.
HASH_DIMS = 1 << 15
#: The wording space folded smaller, for comparing sentences with each other.
SIMILARITY_DIMS = 1 << 12
#: Weight of the meaning view against the wording view (both are unit length).
EMBEDDING_WEIGHT = 1.0

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

Vector = NDArray[np.float32]


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % HASH_DIMS


def wording(text: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The hashed wording features of ``text``: indices and values (unit length)."""
    words = [w.replace("’", "'") for w in _WORD.findall(text.lower())]
    feats: dict[int, float] = {}

    def add(name: str, weight: float = 1.0) -> None:
        index = _hash(name)
        feats[index] = feats.get(index, 0.0) + weight

    for i, word in enumerate(words):
        add("w:" + word)
        if i:
            add(f"b:{words[i - 1]}_{word}")
        padded = f"<{word}>"
        for n in (3, 4):
            for j in range(len(padded) - n + 1):
                add(f"c{n}:{padded[j : j + n]}", 0.5)
    if "?" in text:
        add("p:?")
    if "!" in text:
        add("p:!")
    if _shouting(text):
        add("p:caps", 2.0)
    if not feats:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    index = np.fromiter(feats.keys(), dtype=np.int64, count=len(feats))
    value = np.fromiter(feats.values(), dtype=np.float32, count=len(feats))
    value /= np.linalg.norm(value)
    return index, value


def _shouting(text: str) -> bool:
    """Written in capitals: mostly upper-case letters, or three or more words in capitals."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        return True
    return sum(1 for w in _WORD.findall(text) if len(w) >= 3 and w.isupper()) >= 3


def encoder_dir() -> Path:
    """The shipped static embedding model (see ``model/PROVENANCE.md``)."""
    return Path(str(resources.files("roleplay.understanding").joinpath("model"))) / "encoder"


class Encoder:
    """The static sentence embedding model, loaded once per process (thread-safe)."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def model(cls) -> Any:
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    from model2vec import StaticModel

                    # A local folder: nothing is downloaded, whatever the environment says.
                    cls._model = StaticModel.from_pretrained(str(encoder_dir()), normalize=True)
        return cls._model

    @classmethod
    def embed(cls, texts: list[str]) -> NDArray[np.float32]:
        """Unit-length embeddings, one row per text."""
        if not texts:
            return np.zeros((0, cls.dims()), dtype=np.float32)
        vectors = np.asarray(cls.model().encode(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.asarray(vectors / norms, dtype=np.float32)

    @classmethod
    def dims(cls) -> int:
        return int(cls.model().dim)


@dataclass(frozen=True)
class Features:
    """Both views of a batch of sentences."""

    embeddings: NDArray[np.float32]  # (n, dims)
    wording: list[tuple[NDArray[np.int64], NDArray[np.float32]]]

    def __len__(self) -> int:
        return len(self.wording)


def featurize(texts: list[str]) -> Features:
    return Features(Encoder.embed(texts), [wording(t) for t in texts])


@lru_cache(maxsize=4096)
def _cached(text: str) -> tuple[Vector, NDArray[np.int64], NDArray[np.float32]]:
    index, value = wording(text)
    return Encoder.embed([text])[0], index, value


def featurize_cached(texts: list[str]) -> Features:
    """Like :func:`featurize`, remembering sentences seen before (persona examples,
    replayed transcripts)."""
    rows = [_cached(t) for t in texts]
    if not rows:
        return featurize([])
    return Features(np.stack([r[0] for r in rows]), [(r[1], r[2]) for r in rows])


class Idf:
    """How rare each hashed wording feature is in a reference corpus (fitted with the
    classifiers): comparing sentences, shared rare words count, shared "the" and "you" barely."""

    _weights: NDArray[np.float32] | None = None

    @classmethod
    def weights(cls) -> NDArray[np.float32]:
        if cls._weights is None:
            path = Path(str(resources.files("roleplay.understanding").joinpath("model")))
            found = path / "classifiers.npz"
            if found.exists():
                with np.load(found, allow_pickle=False) as data:
                    if "wording.idf" in data:
                        cls._weights = data["wording.idf"].astype(np.float32)
            if cls._weights is None:
                cls._weights = np.ones(HASH_DIMS, dtype=np.float32)
        return cls._weights


def folded(f: Features) -> NDArray[np.float32]:
    """The wording view as dense rows in the smaller similarity space (unit length), each
    feature weighted by its rarity."""
    idf = Idf.weights()
    dense = np.zeros((len(f), SIMILARITY_DIMS), dtype=np.float32)
    for row, (index, value) in enumerate(f.wording):
        np.add.at(dense[row], index % SIMILARITY_DIMS, value * idf[index])
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(dense / norms, dtype=np.float32)


@dataclass(frozen=True)
class Bank:
    """Sentences prepared for comparison: their embeddings and folded wording."""

    embeddings: NDArray[np.float32]
    words: NDArray[np.float32]

    @classmethod
    def of(cls, f: Features) -> Bank:
        return cls(f.embeddings, folded(f))

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])


def similarity(a: Bank, b: Bank) -> NDArray[np.float32]:
    """Cosine similarity of every sentence in ``a`` with every one in ``b``, averaging the
    meaning view and the wording view."""
    meaning = a.embeddings @ b.embeddings.T
    words = a.words @ b.words.T
    return np.asarray(
        (EMBEDDING_WEIGHT * meaning + words) / (1 + EMBEDDING_WEIGHT), dtype=np.float32
    )
