"""Benchmark: exact negative log-likelihood of the autoregressive models on binarized MNIST.

Trains one explicit-density model on the training split of the statically
binarized MNIST within a wall-time budget (``--minutes``; a callback stops
``fit`` when it is spent) and reports, on the validation split, the exact
NLL in nats per image and in bits per dimension, the training speed in
images/s (after the first, tracing, batch), the time to draw 16 samples, and
writes a 4x4 sample grid PNG. Prints a markdown table and one JSON line.

Models (``--model``):

- ``nade``: ``models.NADE((28, 28), hidden_units=500)``;
- ``made``: ``models.MADE((28, 28), hidden_units=(500,))`` (``--num-masks``,
  ``--order``);
- ``markov``: ``models.MarkovAR((28, 28), order=--markov-order)`` (28: the
  previous row's worth of pixels; 0: fully factorised);
- ``pixelcnn`` / ``gated_pixelcnn``: ``models.PixelCNN((28, 28, 1),
  likelihood="bernoulli", gated=...)``;
- ``pixelrnn``: ``models.PixelRNN((28, 28, 1), kind=--pixelrnn-kind)``.

Published test-split NLLs (nats, fully trained): NADE 88.86 (Uria et al.,
2016, 1 ordering), MADE 88.04 (Germain et al., 2015, 32 masks), PixelCNN
81.30, Row LSTM 80.54, Diagonal BiLSTM 79.20 (van den Oord et al., 2016).
CPU runs of a few minutes are far from those.

    python bench/nll_binarized_mnist.py --model nade \\
        --data data/binarized_mnist_train_valid.npz --minutes 30
    python bench/nll_binarized_mnist.py --model made --minutes 0.1 --valid-limit 500  # quick check
"""

import argparse
import json
import math
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The samplers' host-side NumPy loops run many small matmuls; a multithreaded
# BLAS only adds contention for them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import datasets, models  # noqa: E402

MODELS = ("pixelcnn", "gated_pixelcnn", "pixelrnn", "nade", "made", "markov")
PUBLISHED = {"nade": 88.86, "made": 88.04, "pixelcnn": 81.30, "gated_pixelcnn": None,
             "pixelrnn:row_lstm": 80.54, "pixelrnn:diagonal_bilstm": 79.20, "markov": None}
DEFAULT_LR = {"nade": 1e-3, "made": 1e-3, "markov": 1e-2, "pixelcnn": 1e-3,
              "gated_pixelcnn": 1e-3, "pixelrnn": 1e-3}


class TimeLimit(keras.callbacks.Callback):
    """Stop ``fit`` once ``seconds`` of wall time have passed; time the batches after the first."""

    def __init__(self, seconds, batch_size):
        super().__init__()
        self.seconds = seconds
        self.batch_size = batch_size
        self.start = self.first_batch_end = None
        self.batches = 0

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        now = time.time()
        self.batches += 1
        if self.first_batch_end is None:
            self.first_batch_end = now
        self.last_batch_end = now
        if now - self.start > self.seconds:
            self.model.stop_training = True

    def images_per_second(self):
        if self.batches < 2:
            return None   # one (tracing) batch only: no steady-state speed to report
        return round(
            (self.batches - 1) * self.batch_size / (self.last_batch_end - self.first_batch_end), 1)


def build_model(args):
    """Construct the model by name (PixelCNN / PixelRNN looked up lazily)."""
    name = args.model
    if name == "nade":
        return models.NADE((28, 28), hidden_units=args.hidden_units, seed=args.seed)
    if name == "made":
        return models.MADE((28, 28), hidden_units=(args.hidden_units,),
                           num_masks=args.num_masks, order=args.order, seed=args.seed)
    if name == "markov":
        return models.MarkovAR((28, 28), order=args.markov_order, seed=args.seed)
    needed = "PixelRNN" if name == "pixelrnn" else "PixelCNN"
    if not hasattr(models, needed):
        raise SystemExit(f"keras_genmodels.models.{needed} is not available in this checkout.")
    if name == "pixelrnn":
        return models.PixelRNN((28, 28, 1), kind=args.pixelrnn_kind, seed=args.seed)
    return models.PixelCNN((28, 28, 1), filters=args.filters, num_layers=args.num_layers,
                           likelihood="bernoulli", gated=(name == "gated_pixelcnn"),
                           seed=args.seed)


def load_data(path):
    return (datasets.load_binarized_mnist("train", path=path),
            datasets.load_binarized_mnist("valid", path=path))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, required=True)
    parser.add_argument("--data", default=None,
                        help=".npz with uint8 arrays train (N, 28, 28) and valid")
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall-time budget")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--valid-limit", type=int, default=None,
                        help="evaluate on N validation images spread over the split (strided)")
    parser.add_argument("--out", default="bench_out", help="folder for the sample grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-units", type=int, default=500, help="NADE / MADE width")
    parser.add_argument("--num-masks", type=int, default=1, help="MADE mask sets")
    parser.add_argument("--order", default="natural", choices=("natural", "random"),
                        help="MADE order")
    parser.add_argument("--markov-order", type=int, default=28, help="MarkovAR context k")
    parser.add_argument("--filters", type=int, default=64, help="PixelCNN filters")
    parser.add_argument("--num-layers", type=int, default=7, help="PixelCNN layers")
    parser.add_argument("--pixelrnn-kind", default="row_lstm",
                        choices=("row_lstm", "diagonal_bilstm"))
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.batch_size < 1:
        parser.error("--minutes must be > 0 and --batch-size >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    train, valid = load_data(args.data)
    if args.valid_limit:
        valid = datasets.strided_subset(valid, args.valid_limit)
    model = build_model(args)
    shape = (-1,) + model.event_shape
    train, valid = train.reshape(shape), valid.reshape(shape)
    lr = args.learning_rate or DEFAULT_LR[args.model]
    model.compile(optimizer=keras.optimizers.Adam(lr))

    timer = TimeLimit(args.minutes * 60.0, args.batch_size)
    t0 = time.time()
    model.fit(train, batch_size=args.batch_size, epochs=10**6, callbacks=[timer], verbose=0)
    train_seconds = time.time() - t0
    images_seen = timer.batches * args.batch_size

    t0 = time.time()
    nll = -model.log_prob(valid, batch_size=args.batch_size).astype("float64")
    eval_seconds = time.time() - t0
    t0 = time.time()
    samples = model.sample(16, seed=args.seed, verbose=0)
    sample_seconds = time.time() - t0

    grid_path = os.path.join(args.out, f"samples_{args.model}.png")
    try:
        from keras_genmodels.callbacks import save_image_grid
    except ImportError:
        grid_path, note = None, "keras_genmodels.callbacks.save_image_grid unavailable: no PNG"
    else:
        save_image_grid(np.asarray(samples).reshape(16, 28, 28, 1), grid_path, ncols=4)
        note = ""

    key = args.model if args.model != "pixelrnn" else f"pixelrnn:{args.pixelrnn_kind}"
    result = {
        "benchmark": "nll_binarized_mnist",
        "model": key,
        "params": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
        "minutes": args.minutes,
        "batch_size": args.batch_size,
        "learning_rate": lr,
        "train_steps": timer.batches,
        "epochs": round(images_seen / len(train), 3),
        "train_seconds": round(train_seconds, 1),
        "train_images_per_s": timer.images_per_second(),
        "valid_images": len(valid),
        "valid_nll_nats": round(float(nll.mean()), 3),
        "valid_nll_stderr": round(float(nll.std() / math.sqrt(len(nll))), 3),
        "valid_bits_per_dim": round(float(nll.mean() / (784 * math.log(2))), 4),
        "eval_seconds": round(eval_seconds, 1),
        "sample16_seconds": round(sample_seconds, 2),
        "published_test_nll_nats": PUBLISHED.get(key),
        "sample_grid": grid_path,
        "note": note,
        "platform": platform.platform(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    rows = [("model", key), ("parameters", result["params"]),
            ("training", f"{timer.batches} steps, {result['epochs']} epochs, "
                         f"{result['train_seconds']} s"),
            ("train images/s", result["train_images_per_s"]),
            ("valid NLL (nats)", f"{result['valid_nll_nats']} +- {result['valid_nll_stderr']}"),
            ("valid bits/dim", result["valid_bits_per_dim"]),
            ("sample 16 (s)", result["sample16_seconds"]),
            ("published test NLL (nats)", result["published_test_nll_nats"]),
            ("sample grid", grid_path or note)]
    print("| metric | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
