"""Fit the tone model's weights: ``python -m grading.fit_politeness --data ../shared/data``.

Reproducible: a fixed split (``grading.calibration.part_of``), a fixed seed, plain
L2-regularised logistic regression by stochastic gradient descent on the top and bottom
quartiles of the training part only. Writes ``grading/data/politeness_model.json`` with the
weights and their provenance, including the figures on the training and held-out parts.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path

from grading.calibration import (
    TEST_PERCENT,
    load_politeness,
    part_of,
    politeness_figures,
    quartile_bounds,
    quartile_rows,
)
from grading.tone import politeness_features

OUT = Path(__file__).resolve().parent / "data" / "politeness_model.json"
SEED, EPOCHS, RATE, L2, PRUNE = 0, 30, 0.1, 1e-3, 0.01


def fit(examples: list[tuple[dict[str, float], int]]) -> dict[str, float]:
    weights: dict[str, float] = {}
    order = list(range(len(examples)))
    rng = random.Random(SEED)
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for i in order:
            feats, label = examples[i]
            z = sum(weights.get(k, 0.0) * v for k, v in feats.items())
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = p - label
            for k, v in feats.items():
                w = weights.get(k, 0.0)
                weights[k] = w - RATE * (g * v + L2 * w)
    return {k: round(w, 5) for k, w in sorted(weights.items()) if abs(w) >= PRUNE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = load_politeness(args.data)
    bounds = quartile_bounds(rows)
    train = [r for r in rows if part_of(r.id) == "train"]
    test = [r for r in rows if part_of(r.id) == "test"]
    examples = [(politeness_features(r.text), label) for r, label in quartile_rows(train, bounds)]
    weights = fit(examples)

    def judge(text: str) -> float:
        z = sum(weights.get(k, 0.0) * v for k, v in politeness_features(text).items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    model = {
        "source": "Stanford Politeness Corpus, Wikipedia requests (sudhof/politeness, "
        "Apache-2.0; Danescu-Niculescu-Mizil et al., ACL 2013)",
        "fitted_by": "python -m grading.fit_politeness",
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%d"),
        "split": f"sha256(Id) % 100 < {TEST_PERCENT} held out; trained on the top and bottom "
        "quartiles of the rest",
        "hyperparameters": {
            "seed": SEED,
            "epochs": EPOCHS,
            "rate": RATE,
            "l2": L2,
            "prune_below": PRUNE,
        },
        "quartile_bounds": list(bounds),
        "train_examples": len(examples),
        "figures": {
            "train": politeness_figures(train, bounds, judge),
            "test": politeness_figures(test, bounds, judge),
        },
        "weights": weights,
    }
    args.out.write_text(json.dumps(model, indent=0) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in model.items() if k != "weights"}, indent=2))
    print(f"{len(weights)} weights written to {args.out}")


if __name__ == "__main__":
    main()
