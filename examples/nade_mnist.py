"""NADE on binarized MNIST: exact log-likelihoods, samples and anomaly scores.

Trains ``keras_genmodels.models.NADE`` (500 sigmoid hidden units, raster
order) on the statically binarized MNIST, then reports the exact validation
NLL (nats and bits/dim), shows that the model's anomaly score
(``-log p(x)``) flags out-of-distribution inputs once trained (noise images
and inverted digits score far higher than validation digits), and writes to
``--out``: ``nade_samples.png`` (a grid of 16 samples), the trained model
``nade.keras`` and ``results.json``.

    python examples/nade_mnist.py --data data/binarized_mnist_train_valid.npz \\
        --epochs 5
    python examples/nade_mnist.py --epochs 1 --steps 5     # smoke test

``--data``: an ``.npz`` with arrays ``train`` and ``valid`` (``(n, 28, 28)``
0/1); without it the subset shipped with the package is used
(``keras_genmodels.datasets.load_binarized_mnist_small``).
"""

import argparse
import json
import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import datasets, models  # noqa: E402


def load(path):
    from keras_genmodels import datasets

    train, valid, _ = datasets.load_binarized_mnist_train_valid(path or None)
    return (np.asarray(train, "float32").reshape(-1, 28, 28),
            np.asarray(valid, "float32").reshape(-1, 28, 28))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help=".npz with train/valid arrays")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: all)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden-units", type=int, default=500)
    parser.add_argument("--valid-limit", type=int, default=2000)
    parser.add_argument("--out", default="out")
    parser.add_argument("--preset", default=None,
                        help="skip training: sample 16 images from this pretrained "
                             "preset (keras_genmodels.models.NADE.presets) into --out")
    args = parser.parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.NADE, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))
    keras.utils.set_random_seed(0)
    os.makedirs(args.out, exist_ok=True)

    train, valid = load(args.data)
    valid = datasets.strided_subset(valid, args.valid_limit)
    nade = models.NADE((28, 28), hidden_units=args.hidden_units, seed=0)
    nade.compile(optimizer=keras.optimizers.Adam(1e-3))
    if args.steps:
        train = train[: args.steps * args.batch_size]
    nade.fit(train, batch_size=args.batch_size, epochs=args.epochs,
             validation_data=(valid,), verbose=2)

    nll = -nade.log_prob(valid, batch_size=args.batch_size)
    rng = np.random.default_rng(0)
    noise = (rng.random((100, 28, 28)) < valid.mean()).astype("float32")
    inverted = 1.0 - valid[:100]
    scores = {name: float(np.mean(nade.anomaly_score(x, batch_size=args.batch_size)))
              for name, x in (("valid digits", valid[:100]), ("noise", noise),
                              ("inverted digits", inverted))}
    samples = nade.sample(16, seed=0)
    grid = os.path.join(args.out, "nade_samples.png")
    try:
        from keras_genmodels.callbacks import save_image_grid
    except ImportError:
        np.save(os.path.join(args.out, "nade_samples.npy"), samples)
        grid = "(keras_genmodels.callbacks.save_image_grid unavailable: saved .npy)"
    else:
        save_image_grid(samples[..., None], grid, ncols=4)
    nade.save(os.path.join(args.out, "nade.keras"))
    results = {"valid_nll_nats": float(nll.mean()),
               "valid_bits_per_dim": float(nll.mean() / (784 * math.log(2))),
               "mean_anomaly_score_nats": scores, "sample_grid": grid}
    print(f"validation NLL: {results['valid_nll_nats']:.2f} nats "
          f"({results['valid_bits_per_dim']:.4f} bits/dim)")
    for name, value in scores.items():
        print(f"mean anomaly score (-log p), {name}: {value:.1f} nats")
    print(f"samples: {grid}")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
