"""Anomaly detection with an explicit-density model: unseen digit classes and noise score high.

Trains an explicit-density model (``--model made``, the default, or ``nade``;
``models.MADE`` / ``models.NADE``) on the binarized images of some digit
classes only (``--inliers``, default 0-4) and scores held-out images with
``model.anomaly_score(x) = -log p(x)`` (exact, in nats). Reports the mean
score and the AUROC, computed with NumPy (the Mann-Whitney statistic with
mid-ranks for ties), of separating held-out inlier digits from

- digits of the classes never seen in training (``--outliers``, default 5-9),
- random binary noise with the data's pixel density.

An AUROC of 0.5 is chance, 1.0 a perfect separation. A likelihood model is
not a classifier: unseen digits share strokes with the trained ones, so that
AUROC is well below the noise AUROC (and known failure modes exist, Nalisnick
et al. 2019: simple images can score as more likely than training data).

Writes ``scores.png`` (top row: the 8 held-out images with the lowest score,
"most normal"; bottom row: the 8 highest, "most anomalous"; from both inlier
and outlier classes) and ``results.json`` to ``--out``; the last printed line
is the summary as JSON.

Data: ``--data`` an MNIST ``.npz`` with arrays ``x`` (``uint8``) and ``y``;
default ``datasets.load_mnist("test")`` (``$KERAS_GENMODELS_DATA`` or the
download). Binarized at 0.5.

    python examples/anomaly_detection.py --epochs 10
    python examples/anomaly_detection.py --epochs 1 --steps 1 --hidden-units 16   # smoke test

References:
    Germain et al., "MADE: Masked Autoencoder for Distribution Estimation", ICML 2015.
    Nalisnick et al., "Do Deep Generative Models Know What They Don't Know?", ICLR 2019.
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import callbacks, datasets, models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def auroc(negative_scores, positive_scores):
    """Area under the ROC curve of "score > threshold" flagging the positives.

    Equals ``P(s_pos > s_neg) + 0.5 P(s_pos = s_neg)`` (Mann-Whitney U / (n_pos
    n_neg)), computed from mid-ranks of the pooled scores.
    """
    neg = np.asarray(negative_scores, np.float64).ravel()
    pos = np.asarray(positive_scores, np.float64).ravel()
    if not len(neg) or not len(pos):
        raise ValueError("auroc needs at least one negative and one positive score.")
    pooled = np.concatenate([neg, pos])
    order = np.argsort(pooled, kind="mergesort")
    ranks = np.empty(len(pooled))
    sorted_scores = pooled[order]
    # Mid-ranks (1-based) for tied values.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="MNIST .npz with arrays x, y")
    p.add_argument("--model", choices=("made", "nade"), default="made")
    p.add_argument("--inliers", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--outliers", type=int, nargs="+", default=[5, 6, 7, 8, 9])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=None, help="training batches per epoch")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--hidden-units", type=int, default=500)
    p.add_argument("--holdout", type=int, default=500, help="held-out images per group")
    p.add_argument("--out", default="out/anomaly_detection")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if set(args.inliers) & set(args.outliers):
        p.error("--inliers and --outliers must not share classes")
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    path = args.data
    x, y = datasets.load_mnist("test", path=path, binarize=0.5)
    x = x.reshape(-1, 28, 28)
    inlier = np.isin(y, args.inliers)
    x_in, x_out = x[inlier], x[np.isin(y, args.outliers)]
    holdout = min(args.holdout, len(x_in) // 5, len(x_out))
    x_train, x_in_test = x_in[:-holdout], x_in[-holdout:]
    x_out_test = x_out[:holdout]
    if args.steps is not None:
        x_train = x_train[: args.steps * args.batch_size]
    rng = np.random.default_rng(args.seed)
    noise = (rng.random((holdout, 28, 28)) < x_train.mean()).astype("float32")
    print(f"data: {path or 'datasets.load_mnist'}: train {len(x_train)} images of classes "
          f"{args.inliers}; held out {holdout} inliers, {holdout} of classes {args.outliers}, "
          f"{holdout} noise images")

    if args.model == "made":
        model = models.MADE((28, 28), hidden_units=(args.hidden_units,), seed=args.seed)
    else:
        model = models.NADE((28, 28), hidden_units=args.hidden_units, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.time()
    model.fit(x_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
              validation_data=(x_in_test,), verbose=2)
    train_seconds = time.time() - start

    scores = {name: model.anomaly_score(data, batch_size=args.batch_size)
              for name, data in (("inlier digits", x_in_test),
                                 ("outlier digits", x_out_test), ("noise", noise))}
    auc_digits = auroc(scores["inlier digits"], scores["outlier digits"])
    auc_noise = auroc(scores["inlier digits"], scores["noise"])
    for name, s in scores.items():
        print(f"mean anomaly score (-log p), {name}: {s.mean():.1f} nats")
    print(f"AUROC held-out inlier digits vs unseen classes {args.outliers}: {auc_digits:.3f}")
    print(f"AUROC held-out inlier digits vs noise: {auc_noise:.3f}")

    both = np.concatenate([x_in_test, x_out_test])
    both_scores = np.concatenate([scores["inlier digits"], scores["outlier digits"]])
    order = np.argsort(both_scores)
    shown = np.concatenate([both[order[:8]], both[order[-8:]]])
    grid_path = os.path.join(args.out, "scores.png")
    callbacks.save_image_grid(shown[..., None], grid_path, ncols=8)

    results = {"example": "anomaly_detection", "model": args.model,
               "data": path or "datasets.load_mnist", "inliers": args.inliers,
               "outliers": args.outliers, "train_images": int(len(x_train)),
               "epochs": args.epochs, "train_seconds": round(train_seconds, 1),
               "mean_score_nats": {k: round(float(v.mean()), 3) for k, v in scores.items()},
               "auroc_unseen_classes": round(auc_digits, 4), "auroc_noise": round(auc_noise, 4),
               "files": [grid_path]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
