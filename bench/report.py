"""Results table: train every model within a CPU budget and report likelihoods and sample quality.

One command trains each model for ``--minutes-per-model`` minutes of wall
time (counted after the first, tracing, batch) on the statically binarized MNIST (training split; the adversarial GAN
on the grey labelled MNIST file) and prints ONE markdown table, then one
JSON line:

- parameters, train minutes, training steps, train images/s (after the
  first, tracing, batch), time to draw 16 samples;
- explicit-density models (NADE, MADE, PixelCNN, Gated PixelCNN, Row LSTM,
  Diagonal BiLSTM): the exact validation-split NLL in nats and bits/dim;
- latent-variable models (VAE, IWAE, AAE): the importance-sampled estimate of
  ``-log p(x)`` with ``--k`` samples (Burda et al., 2016) - a stochastic upper
  bound on the NLL; for the AAE the proposal is its Gaussian encoder and the
  prior ``N(0, I)`` it was matched to;
- adversarial models (GAN, AAE): the Frechet distance between the features
  of ``--fd-images`` generated and held-out real images, in the 128-d last
  hidden layer of a small CNN classifier this script trains first on the labelled MNIST file
  (an "FID" with an MNIST classifier: comparable within this table only;
  ``keras_genmodels.metrics.frechet_distance``), with the real-vs-real floor;
- beside the published test-split NLLs: NADE 88.86, MADE 88.04, VAE 88.71
  (the 2-layer VAE of the IWAE paper, fully trained: 86.76), IWAE (k=50)
  87.10, PixelCNN 81.30, Row LSTM 80.54, Diagonal BiLSTM 79.20.

A second table has one row per shipped preset (``--presets``, default all):
its NLL measured here on the strided valid subset ``valid[::--preset-stride]``
(exact, or importance-sampled with ``--k``), the valid NLL its recipe
recorded on the whole split, the CPU-hours it took and the time to draw 16
samples (first call, with tracing, and warm).

It reuses ``bench/nll_binarized_mnist.py`` (model builders, the time-limit
callback) and ``bench/gan_mnist.py`` (the feature classifier). Numbers from
minutes of CPU training are far from the papers' (days of GPU training,
hundreds to thousands of epochs): read the gap column as "what budget
closes it", see the README.

    python bench/report.py --data data --minutes-per-model 10
    python bench/report.py --data data --minutes-per-model 0.05 \\
        --valid-limit 200 --k 5                                  # quick check
    python bench/report.py --models vae iwae made gan --minutes-per-model 1

``--data``: a directory holding ``binarized_mnist_train_valid.npz`` (arrays
``train``/``valid``) and ``mnist_test_images_labels.npz`` (``x``/``y``), or
the binarized ``.npz`` itself (then ``--mnist`` names the labelled file).
"""

import argparse
import contextlib
import io
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import gan_mnist  # noqa: E402  (bench/gan_mnist.py: the feature classifier)
import nll_binarized_mnist as nll_bench  # noqa: E402  (builders, TimeLimit)
from keras_genmodels import callbacks, datasets, metrics, models, presets  # noqa: E402

ALL_MODELS = ("vae", "iwae", "nade", "made", "pixelcnn", "gated_pixelcnn", "row_lstm",
              "diagonal_bilstm", "gan", "aae")
NAMES = {"vae": "VAE", "iwae": "IWAE", "nade": "NADE", "made": "MADE", "pixelcnn": "PixelCNN",
         "gated_pixelcnn": "Gated PixelCNN", "row_lstm": "Row LSTM",
         "diagonal_bilstm": "Diagonal BiLSTM", "gan": "GAN", "aae": "AAE"}
# Published test-split NLLs (nats) on the statically binarized MNIST.
PUBLISHED = {"nade": 88.86, "made": 88.04, "vae": 88.71, "iwae": 87.10, "pixelcnn": 81.30,
             "row_lstm": 80.54, "diagonal_bilstm": 79.20}
EXPLICIT = {"nade": "nade", "made": "made", "pixelcnn": "pixelcnn",
            "gated_pixelcnn": "gated_pixelcnn", "row_lstm": "pixelrnn",
            "diagonal_bilstm": "pixelrnn"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("KERAS_GENMODELS_DATA"),
                   help="directory with the two .npz files, or the binarized .npz "
                        "(default $KERAS_GENMODELS_DATA, else the downloads)")
    p.add_argument("--mnist", default=None, help="labelled MNIST .npz (x, y)")
    p.add_argument("--minutes-per-model", type=float, default=5.0)
    p.add_argument("--models", nargs="+", choices=ALL_MODELS, default=list(ALL_MODELS))
    p.add_argument("--valid-limit", type=int, default=None,
                   help="evaluate on N validation images spread over the split (strided)")
    p.add_argument("--k", type=int, default=None,
                   help="importance samples of the VAE/IWAE/AAE estimate (default 1000; "
                        "50 when --minutes-per-model < 1)")
    p.add_argument("--iwae-k", type=int, default=5, help="IWAE training samples")
    p.add_argument("--fd-images", type=int, default=1000, help="images per Frechet distance")
    p.add_argument("--classifier-epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--tiny", action="store_true",
                   help="tiny networks (smoke tests of this script only)")
    p.add_argument("--out", default="bench_out/report", help="sample grids and report.json")
    p.add_argument("--presets", nargs="+", default=["all"],
                   help="shipped presets to report (names, 'all' or 'none')")
    p.add_argument("--preset-stride", type=int, default=10,
                   help="presets: NLL measured on valid[::stride]")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.minutes_per_model <= 0:
        p.error("--minutes-per-model must be > 0")
    if args.k is None:
        args.k = 1000 if args.minutes_per_model >= 1 else 50
    return args


def data_paths(args):
    if args.data and os.path.isdir(args.data):
        binarized = os.path.join(args.data, "binarized_mnist_train_valid.npz")
        mnist = args.mnist or os.path.join(args.data, "mnist_test_images_labels.npz")
    else:
        binarized, mnist = args.data, args.mnist
    return binarized, mnist


def count_params(model):
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


class Budget(nll_bench.TimeLimit):
    """``nll_binarized_mnist.TimeLimit`` whose budget starts after the first (tracing) batch.

    So even a tiny budget runs at least two batches and measures a
    steady-state speed; the reported train minutes include the tracing.
    """

    def on_train_batch_end(self, batch, logs=None):
        now = time.time()
        self.batches += 1
        if self.first_batch_end is None:
            self.first_batch_end = now
        self.last_batch_end = now
        if self.batches >= 2 and now - self.first_batch_end > self.seconds:
            self.model.stop_training = True


def timed_fit(model, x, args, y=None):
    """``fit`` until the budget is spent; returns the ``Budget`` callback and seconds."""
    timer = Budget(args.minutes_per_model * 60.0, args.batch_size)
    start = time.time()
    model.fit(x, y, batch_size=args.batch_size, epochs=10**6, shuffle=True, callbacks=[timer],
              verbose=0)
    return timer, time.time() - start


def timed_sample(model, **kwargs):
    start = time.time()
    samples = model.sample(16, seed=0, **kwargs)
    return np.asarray(keras.ops.convert_to_numpy(samples)), time.time() - start


# ------------------------------------------------------------------ models
def run_explicit(name, train, valid, args):
    argv = ["--model", EXPLICIT[name], "--seed", str(args.seed)]
    if name in ("row_lstm", "diagonal_bilstm"):
        argv += ["--pixelrnn-kind", name]
    nargs = nll_bench.parse_args(argv)
    if args.tiny:
        nargs.hidden_units, nargs.filters, nargs.num_layers = 16, 4, 1
    if name in ("row_lstm", "diagonal_bilstm") and args.tiny:
        model = models.PixelRNN((28, 28, 1), kind=name, seed=args.seed, hidden_units=4,
                                num_layers=1)
    else:
        model = nll_bench.build_model(nargs)
    shape = (-1,) + tuple(model.event_shape)
    train, valid = train.reshape(shape), valid.reshape(shape)
    model.compile(optimizer=keras.optimizers.Adam(nll_bench.DEFAULT_LR[EXPLICIT[name]]))
    timer, seconds = timed_fit(model, train, args)
    nll = -model.log_prob(valid, batch_size=args.batch_size).astype("float64")
    samples, sample_seconds = timed_sample(model, verbose=0)
    return model, timer, seconds, {"nll": float(nll.mean()),
                                   "nll_stderr": float(nll.std() / math.sqrt(len(nll))),
                                   "nll_kind": "exact"}, samples.reshape(16, 28, 28, 1), \
        sample_seconds


def run_vae(name, train, valid, args):
    hidden = (16,) if args.tiny else (500, 500)
    latent = 4 if args.tiny else 50
    encoder, decoder = models.mlp_vae_networks((28, 28, 1), latent, hidden_units=hidden)
    k_train = args.iwae_k if name == "iwae" else 1
    vae = models.VAE(encoder, decoder, seed=args.seed, num_samples=k_train)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    timer, seconds = timed_fit(vae, train, args)
    log_px = vae.log_likelihood(valid, num_samples=args.k, batch_size=args.batch_size,
                                seed=args.seed)
    samples, sample_seconds = timed_sample(vae)
    return vae, timer, seconds, {"nll": float(-log_px.mean()),
                                 "nll_stderr": float(log_px.std() / math.sqrt(len(log_px))),
                                 "nll_kind": f"IS k={args.k}", "train_k": k_train}, \
        samples, sample_seconds


class _GaussianEncoderView:
    """The AAE's Gaussian encoder as a proposal ``q(z|x)`` for importance sampling."""

    def __init__(self, aae):
        self.aae = aae

    def encode(self, x):
        z_mean, z_log_var = self.aae.encoder(x, training=False)
        return z_mean, z_log_var

    def decode(self, z):
        return self.aae.decode(z)


def run_aae(train, valid, args):
    hidden = 16 if args.tiny else 512
    latent = 4 if args.tiny else 8
    encoder, decoder = models.mlp_vae_networks((28, 28, 1), latent,
                                               hidden_units=(hidden, hidden),
                                               activation="relu", name="aae")
    z = keras.Input((latent,))
    h = keras.layers.Dense(hidden, activation="relu")(z)
    h = keras.layers.Dense(hidden, activation="relu")(h)
    discriminator = keras.Model(z, keras.layers.Dense(1)(h))
    aae = models.AAE(encoder, decoder, discriminator, latent, likelihood="bernoulli",
                     seed=args.seed)
    aae.compile(r_optimizer=keras.optimizers.Adam(1e-3),
                d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5))
    timer, seconds = timed_fit(aae, train, args)
    log_px = metrics.importance_sampled_log_likelihood(
        _GaussianEncoderView(aae), valid, num_samples=args.k, batch_size=args.batch_size,
        seed=args.seed, likelihood=aae.likelihood)
    samples, sample_seconds = timed_sample(aae)
    return aae, timer, seconds, {"nll": float(-log_px.mean()),
                                 "nll_stderr": float(log_px.std() / math.sqrt(len(log_px))),
                                 "nll_kind": f"IS k={args.k}"}, samples, sample_seconds


def run_gan(x_grey, args):
    latent, filters = (8, 4) if args.tiny else (64, 64)
    generator = models.dcgan_generator((28, 28, 1), latent, base_filters=filters)
    discriminator = models.dcgan_discriminator((28, 28, 1), base_filters=filters)
    gan = models.GAN(generator, discriminator, latent, seed=args.seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    timer, seconds = timed_fit(gan, x_grey * 2.0 - 1.0, args)
    samples, sample_seconds = timed_sample(gan)
    return gan, timer, seconds, {}, (samples + 1.0) / 2.0, sample_seconds


# -------------------------------------------------------------- features
class FrechetJudge:
    """Features of a small MNIST classifier (bench/gan_mnist.py) and the real statistics."""

    def __init__(self, mnist_path, args):
        x, y = datasets.load_mnist("train", path=mnist_path)
        held = min(2000, len(x) // 2)
        start = time.time()
        with contextlib.redirect_stdout(io.StringIO()):
            self.extractor, self.accuracy = gan_mnist.train_classifier(
                x[:-held], y[:-held], x[-held:], y[-held:], args.classifier_epochs, args.seed)
        self.seconds = time.time() - start
        self.num = max(2, min(args.fd_images, held // 2))
        real = x[-held:]
        self.real = self.features(real[: self.num])
        self.floor = metrics.frechet_distance(self.real, self.features(real[self.num:2 * self.num]))

    def features(self, images01):
        return self.extractor.predict(np.asarray(images01, "float32").reshape(-1, 28, 28, 1),
                                      batch_size=500, verbose=0)

    def distance(self, model, to01=lambda s: s):
        """Frechet distance of the model's samples (mapped to [0, 1] by ``to01``) to the real images."""
        out = []
        for start in range(0, self.num, 500):
            n = min(500, self.num - start)
            images = np.asarray(keras.ops.convert_to_numpy(model.sample(n, seed=1 + start)))
            out.append(self.features(to01(images)))
        return float(metrics.frechet_distance(self.real, np.concatenate(out)))


# ------------------------------------------------------------------ main
def preset_rows(names, valid, args):
    """One row per shipped preset: NLL measured here on a strided valid subset, recorded
    NLL (the recipe's, whole valid split), sampling time (first call and warm)."""
    known = presets.list_presets()
    names = sorted(known) if names == ["all"] else [] if names == ["none"] else names
    rows = []
    for name in names:
        meta = known[name]
        model = getattr(models, meta["class_name"]).from_preset(name)
        x = valid[:: args.preset_stride]
        t0 = time.time()
        if isinstance(model, models.VAE):
            k = args.k or 1000
            nll, kind = -model.log_likelihood(x, num_samples=k, seed=args.seed), f"IS k={k}"
        else:
            nll, kind = -model.log_prob(x), "exact"
        eval_seconds = time.time() - t0
        times = []
        for _ in range(2):
            t0 = time.time()
            model.sample(16, seed=args.seed, **({"verbose": 0} if hasattr(model, "num_dims")
                                                 else {}))
            times.append(time.time() - t0)
        rows.append({"preset": name, "class": meta["class_name"], "params": count_params(model),
                     "valid_nll_nats": round(float(np.mean(nll)), 3), "nll_kind": kind,
                     "valid_images": int(len(x)),
                     "valid_bits_per_dim": round(float(np.mean(nll)) / (784 * math.log(2)), 4),
                     "recorded_valid_nll": meta.get("valid_nll"),
                     "recorded_estimator": meta.get("nll_estimator"),
                     "published_test_nll": meta.get("published_test_nll"),
                     "cpu_hours": meta.get("cpu_hours"), "eval_seconds": round(eval_seconds, 1),
                     "sample16_first_seconds": round(times[0], 2),
                     "sample16_warm_seconds": round(times[1], 2)})
        print(f"done preset {name}: {json.dumps(rows[-1])}", flush=True)
        keras.backend.clear_session()
    return rows


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    binarized, mnist = data_paths(args)
    train = datasets.load_binarized_mnist("train", path=binarized)
    valid = datasets.load_binarized_mnist("valid", path=binarized)
    if args.valid_limit:
        valid = datasets.strided_subset(valid, args.valid_limit)
    judge = None
    if {"gan", "aae"} & set(args.models):
        if mnist is None or not os.path.isfile(mnist):
            raise SystemExit(f"GAN/AAE need the labelled MNIST file (--mnist); got {mnist}")
        judge = FrechetJudge(mnist, args)
        print(f"feature classifier: held-out accuracy {judge.accuracy:.3f} "
              f"({judge.seconds:.0f} s); FD real vs real {judge.floor:.2f}", flush=True)

    rows = []
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        if name in EXPLICIT:
            out = run_explicit(name, train, valid, args)
        elif name in ("vae", "iwae"):
            out = run_vae(name, train, valid, args)
        elif name == "aae":
            out = run_aae(train, valid, args)
        else:
            x_grey, _ = datasets.load_mnist("train", path=mnist)
            out = run_gan(x_grey[: len(x_grey) - min(2000, len(x_grey) // 2)], args)
        model, timer, seconds, result, samples, sample_seconds = out
        fd = judge.distance(model, to01=(lambda s: (s + 1.0) / 2.0) if name == "gan"
                            else (lambda s: s)) if name in ("gan", "aae") else None
        grid = os.path.join(args.out, f"samples_{name}.png")
        callbacks.save_image_grid(samples.reshape(16, 28, 28, 1), grid, ncols=4)
        nll = result.get("nll")
        label = NAMES[name] + (f" (k={args.iwae_k})" if name == "iwae" else "")
        row = {"model": label, "key": name, "params": count_params(model),
               "train_minutes": round(seconds / 60.0, 2), "train_steps": timer.batches,
               "epochs": round(timer.batches * args.batch_size / len(train), 3),
               "train_images_per_s": timer.images_per_second(),
               "valid_nll_nats": None if nll is None else round(nll, 3),
               "valid_nll_stderr": None if nll is None else round(result["nll_stderr"], 3),
               "valid_bits_per_dim": None if nll is None else round(nll / (784 * math.log(2)), 4),
               "nll_kind": result.get("nll_kind"),
               "frechet_distance": None if fd is None else round(fd, 3),
               "sample16_seconds": round(sample_seconds, 2),
               "published_test_nll": PUBLISHED.get(name), "sample_grid": grid}
        rows.append(row)
        print(f"done {label}: {json.dumps(row)}", flush=True)
        keras.backend.clear_session()

    print()
    print(f"Binarized MNIST, {args.minutes_per_model:g} CPU minutes per model "
          f"({os.cpu_count()} cores), {len(valid)} validation images:")
    print()
    print("| model | parameters | train min | epochs | train images/s | valid NLL (nats) "
          "| bits/dim | NLL kind | Frechet distance | sample 16 (s) | published test NLL |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        nll = "-" if r["valid_nll_nats"] is None else (
            f"{r['valid_nll_nats']:.2f} +- {r['valid_nll_stderr']:.2f}")
        print(f"| {r['model']} | {r['params']:,} | {r['train_minutes']:.2f} | {r['epochs']} | "
              f"{fmt(r['train_images_per_s'], 0)} | {nll} | {fmt(r['valid_bits_per_dim'], 4)} | "
              f"{r['nll_kind'] or '-'} | {fmt(r['frechet_distance'])} | "
              f"{r['sample16_seconds']:.2f} | {fmt(r['published_test_nll'])} |")
    preset_report = preset_rows(args.presets, valid, args)
    if preset_report:
        print(f"\nPretrained presets (NLL on valid[::{args.preset_stride}]; recorded: the "
              "recipe's, on the whole valid split):\n")
        print("| preset | parameters | valid NLL (nats) | bits/dim | NLL kind | recorded valid NLL "
              "| published test NLL | CPU-hours | sample 16, first / warm (s) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in preset_report:
            print(f"| {r['preset']} | {r['params']:,} | {r['valid_nll_nats']:.2f} | "
                  f"{r['valid_bits_per_dim']:.4f} | {r['nll_kind']} | "
                  f"{fmt(r['recorded_valid_nll'])} ({r['recorded_estimator']}) | "
                  f"{fmt(r['published_test_nll'])} | {fmt(r['cpu_hours'])} | "
                  f"{r['sample16_first_seconds']:.2f} / {r['sample16_warm_seconds']:.2f} |")
    if judge is not None:
        print(f"\nFrechet distance: {judge.num} images, features of an MNIST classifier "
              f"(held-out accuracy {judge.accuracy:.3f}); real vs real: {judge.floor:.2f}.")
    report = {"bench": "report", "minutes_per_model": args.minutes_per_model, "k": args.k,
              "valid_images": int(len(valid)), "batch_size": args.batch_size,
              "tiny": args.tiny, "rows": rows, "presets": preset_report,
              "frechet_floor": None if judge is None else round(float(judge.floor), 3),
              "classifier_accuracy": None if judge is None else round(judge.accuracy, 4),
              "keras": keras.__version__, "backend": keras.backend.backend(),
              "machine": platform.machine(), "cpus": os.cpu_count()}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
