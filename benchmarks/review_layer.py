"""Fitting the doubt model (``pipeline/doubt.py``) on the dev files with references.

Each written word of Whisper's decoding (``benchmarks/.data/asr``, see ``bench_review.py``) is
labelled wrong when a word error's moment falls on it (a substituted or inserted word; for a
deleted word, the words on either side). Scikit-learn's ``GradientBoostingClassifier`` (200
trees of depth 3, learning rate 0.05, at least 40 words a leaf; depth 2 or 4 and 100 trees came
within a point, so these were not tuned further) is fitted on those labels; its bound flags :data:`DOUBT_SHARE` of the words it was
fitted on. ``bench_review.py`` scores it leaving each file out in turn.

    python benchmarks/review_layer.py          # in-sample summary
    python benchmarks/review_layer.py --write  # refit on every dev file, write pipeline/doubt_model.json
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.doubt import MODEL_FILE, DoubtModel, Tree, written_words  # noqa: E402
from pipeline.transcript import Transcript  # noqa: E402

DOUBT_SHARE = 0.165
"""The share of the words the doubt flags cover on the files they were fitted on (numbers,
names and the other kinds add about 3 %)."""
MARGIN = 0.05  # as ``review.covered``


def labelled(transcript: Transcript, moments: Sequence[tuple[float, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """The features of each written word and whether an error's moment falls on it."""
    words, features = written_words(transcript)
    starts = np.array([w.start for w in words]) - MARGIN
    ends = np.array([w.end for w in words]) + MARGIN
    wrong = np.zeros(len(words))
    for moment in moments:
        for t in moment:
            wrong[(starts <= t) & (t <= ends)] = 1.0
    return features, wrong


def fit(features: np.ndarray, wrong: np.ndarray, fitted_on: str = "") -> DoubtModel:
    """The doubt model fitted on these words."""
    from sklearn.ensemble import GradientBoostingClassifier

    booster = GradientBoostingClassifier(n_estimators=200, max_depth=3, learning_rate=0.05, min_samples_leaf=40, random_state=0)
    booster.fit(features, wrong)
    trees = []
    for (estimator,) in booster.estimators_:
        tree = estimator.tree_
        trees.append(
            Tree(
                tuple(int(f) if f >= 0 else -1 for f in tree.feature),
                tuple(float(x) for x in tree.threshold),
                tuple(int(x) for x in tree.children_left),
                tuple(int(x) for x in tree.children_right),
                tuple(float(x) for x in tree.value[:, 0, 0]),
            )
        )
    prior = float(booster.init_.class_prior_[1])
    model = DoubtModel(tuple(trees), booster.learning_rate, float(np.log(prior / (1 - prior))), 0.5, fitted_on=fitted_on)
    exported = model.probabilities(features)
    assert np.allclose(exported, booster.predict_proba(features)[:, 1], atol=1e-6), "the exported trees disagree with scikit-learn's"
    bound = float(np.quantile(exported, 1 - DOUBT_SHARE))
    return DoubtModel(model.trees, model.learning_rate, model.prior_log_odds, bound, fitted_on=fitted_on)


def main() -> None:
    import bench_review

    data = bench_review.dev_data()
    if not data:
        print("../shared/data is absent: nothing to fit")
        return
    rows = [labelled(t, m) for t, m in data]
    features, wrong = np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    model = fit(features, wrong, f"{len(data)} dev files with references, {len(wrong)} written words, {int(wrong.sum())} on an error")
    flagged = model.probabilities(features) >= model.bound
    caught = wrong[flagged].sum() / wrong.sum()
    print(f"{model.fitted_on}; bound {model.bound:.3f}; in sample (no figure): {flagged.mean():.1%} flagged, {caught:.1%} of wrong words")
    if "--write" in sys.argv:
        (ROOT / "pipeline" / MODEL_FILE).write_text(model.to_json(), encoding="utf-8")
        print(f"written: pipeline/{MODEL_FILE}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
