"""Benchmark: VAE log-likelihood on the statically binarized MNIST.

Trains ``keras_genmodels.models.VAE`` with the MLP of Burda et al. (2016)
(two hidden layers of 500 softplus units, 50 latent units, Bernoulli
decoder; Adam) on the training split and reports, on the validation split,
the ELBO and the importance-weighted NLL estimate ``-log p(x)`` with
``--k`` samples (``VAE.log_likelihood``; k=5000 in the paper, 1000 here by
default). Prints a markdown table and one JSON line.

Reference points (test set, full training of 3280 epochs, k=5000): VAE with
one stochastic layer 86.76 nats (Burda et al., 2016, table 1). Short runs
are far from that.

    python bench/vae_binarized_mnist.py --data data/binarized_mnist_train_valid.npz \\
        --epochs 10 --k 1000
    python bench/vae_binarized_mnist.py --epochs 1 --k 10 --valid-limit 500   # quick check

``--data``: an ``.npz`` with arrays ``train``/``valid`` (or any source that
``keras_genmodels.datasets.load_binarized_mnist`` accepts); default:
``$KERAS_GENMODELS_DATA`` or the download; ``--data small`` uses the subset
shipped with the package.
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import datasets, models  # noqa: E402


class TimeLimit(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall time have passed (checked every batch)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.start = None
        self.epochs_done = 0

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds is not None and time.time() - self.start > self.seconds:
            self.model.stop_training = True


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop training after this many minutes of wall time")
    parser.add_argument("--k", type=int, default=1000, help="importance samples (default 1000)")
    parser.add_argument("--valid-limit", type=int, default=None,
                        help="evaluate on N validation images spread over the split (strided)")
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=50)
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load(args):
    if args.data == "small":
        return (datasets.load_binarized_mnist_small("train"),
                datasets.load_binarized_mnist_small("valid"), "shipped subset")
    x_train = datasets.load_binarized_mnist("train", path=args.data)
    x_valid = datasets.load_binarized_mnist("valid", path=args.data)
    return x_train, x_valid, args.data or os.environ.get(datasets.ENV_VAR) or "download"


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x_train, x_valid, source = load(args)
    if args.train_limit is not None:
        x_train = x_train[: args.train_limit]
    if args.valid_limit is not None:
        x_valid = datasets.strided_subset(x_valid, args.valid_limit)

    encoder, decoder = models.mlp_vae_networks(
        (28, 28, 1), latent_dim=args.latent_dim, hidden_units=tuple(args.hidden))
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=args.seed)
    vae.compile(optimizer=keras.optimizers.Adam(args.lr))
    limit = TimeLimit(None if args.minutes is None else 60.0 * args.minutes)
    start = time.time()
    history = vae.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                      verbose=0, callbacks=[limit])
    train_seconds = time.time() - start
    epochs_run = len(history.history.get("loss", []))

    valid = vae.evaluate(x_valid, batch_size=args.batch_size, verbose=0, return_dict=True)
    elbo = -(valid["reconstruction_loss"] + valid["kl_loss"])
    start = time.time()
    log_px = vae.log_likelihood(x_valid, num_samples=args.k, batch_size=args.batch_size,
                                seed=args.seed)
    eval_seconds = time.time() - start
    nll = -float(np.mean(log_px))
    nll_se = float(np.std(log_px) / np.sqrt(len(log_px)))

    result = {
        "bench": "vae_binarized_mnist", "data": source, "backend": keras.backend.backend(),
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "train_examples": int(len(x_train)), "valid_examples": int(len(x_valid)),
        "hidden": list(args.hidden), "latent_dim": args.latent_dim,
        "batch_size": args.batch_size, "epochs": epochs_run,
        "stopped_by_time": bool(epochs_run < args.epochs),
        "train_seconds": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / max(epochs_run, 1), 2),
        "train_loss": round(float(history.history["loss"][-1]), 3) if epochs_run else None,
        "valid_elbo": round(float(elbo), 3), "k": args.k,
        "valid_nll_iwae": round(nll, 3), "valid_nll_iwae_stderr": round(nll_se, 3),
        "eval_seconds": round(eval_seconds, 2),
    }
    print("| data | train n | epochs | train s | s/epoch | valid ELBO | valid NLL (k) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {source} | {result['train_examples']} | {epochs_run} | {train_seconds:.1f} | "
          f"{result['seconds_per_epoch']:.2f} | {elbo:.2f} | {nll:.2f} +- {nll_se:.2f} "
          f"(k={args.k}) |")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
