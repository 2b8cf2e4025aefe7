"""VAE on binarized MNIST: samples, latent-space interpolation and a 2-D latent scatter plot.

Trains ``models.VAE`` (MLP encoder/decoder from ``models.mlp_vae_networks``,
Bernoulli decoder; ``--iwae K`` trains on the K-sample IWAE bound instead of
the ELBO) and writes to ``--out``:

- ``samples/epoch_XXX.png``: 64 samples after every few epochs
  (``callbacks.SampleGrid``) and ``samples.png`` at the end;
- ``interpolation.png``: each row decodes ``z`` along the straight line
  between the posterior means of two validation digits (first and last
  columns: the reconstructions of the two end points);
- ``latent_scatter.png``: the posterior means of labelled test digits in the
  plane of the first two latent dimensions (``--latent-dim 2``, the default,
  shows the whole code; otherwise the first two principal components), one
  colour per digit class (palette: the legend column on the right, class 0
  at the top), drawn with NumPy only;
- ``results.json``; the last printed line is the same summary as JSON.

Data: ``--data`` a binarized MNIST ``.npz`` (arrays ``train``/``valid``) or
anything ``datasets.load_binarized_mnist`` accepts, else the subset shipped
with the package. The scatter plot uses ``--labels-data`` (default
``data/mnist_test_images_labels.npz`` when present, an MNIST
``.npz`` with arrays ``x``, ``y``; binarized at 0.5); without labelled data it
plots the validation codes in one colour.

    python examples/vae_mnist.py --data data/binarized_mnist_train_valid.npz \\
        --epochs 20
    python examples/vae_mnist.py --epochs 1 --steps 2 --hidden 32   # smoke test
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import callbacks, datasets, models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LABELS = os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "data", "mnist_test_images_labels.npz"))
# Ten well-separated colours (Tableau 10), RGB 0..255.
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                    [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
                    [188, 189, 34], [23, 190, 207]], np.uint8)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="binarized MNIST .npz (train/valid)")
    p.add_argument("--labels-data", default=None,
                   help="labelled MNIST .npz (x, y) for the scatter plot")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=None, help="training batches per epoch")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    p.add_argument("--iwae", type=int, default=1, help="k > 1: train on the IWAE bound")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--scatter-points", type=int, default=2000)
    p.add_argument("--valid-limit", type=int, default=1000)
    p.add_argument("--out", default="out/vae_mnist")
    p.add_argument("--preset", default=None,
                   help="skip training: sample 16 images from this pretrained "
                        "preset (keras_genmodels.models.VAE.presets) into --out")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def load(args):
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid(args.data)
    if args.steps is not None:
        x_train = x_train[: args.steps * args.batch_size]
    return x_train, datasets.strided_subset(x_valid, args.valid_limit), source


def labelled_points(args, x_valid):
    """Images and labels for the scatter plot (labels None when unavailable)."""
    path = args.labels_data or (DEFAULT_LABELS if os.path.isfile(DEFAULT_LABELS) else None)
    if path is None:
        return x_valid[: args.scatter_points], None
    x, y = datasets.load_mnist("test", path=path, binarize=0.5)
    return x[: args.scatter_points], y[: args.scatter_points]


def project_2d(codes):
    """The codes themselves in 2-D, else their first two principal components."""
    if codes.shape[1] == 2:
        return codes, "z[0], z[1]"
    centred = codes - codes.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "first two principal components of z"


def scatter_image(points, labels, size=400, radius=2, legend=24):
    """An RGB ``uint8`` scatter plot (white background, NumPy only)."""
    image = np.full((size, size + legend, 3), 255, np.uint8)
    lo = np.percentile(points, 0.5, axis=0)
    hi = np.percentile(points, 99.5, axis=0)
    scaled = (points - lo) / np.maximum(hi - lo, 1e-9)
    cols = np.clip(np.round(scaled[:, 0] * (size - 1 - 2 * radius)) + radius, 0, size - 1)
    rows = np.clip(np.round((1.0 - scaled[:, 1]) * (size - 1 - 2 * radius)) + radius, 0,
                   size - 1)
    colours = (PALETTE[np.asarray(labels) % len(PALETTE)] if labels is not None
               else np.tile(PALETTE[:1], (len(points), 1)))
    offsets = [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)
               if dr * dr + dc * dc <= radius * radius]
    for dr, dc in offsets:
        r = np.clip(rows.astype(int) + dr, 0, size - 1)
        c = np.clip(cols.astype(int) + dc, 0, size - 1)
        image[r, c] = colours
    image[:, size] = 0  # a rule between plot and legend
    if labels is not None:
        classes = np.unique(labels)
        box = max(4, min(legend - 8, size // max(len(classes), 1) - 4))
        for i, label in enumerate(classes):
            top = 4 + i * (box + 4)
            image[top:top + box, size + 4:size + 4 + box] = PALETTE[int(label) % len(PALETTE)]
    return image


def interpolation_grid(vae, x_valid, rows=8, steps=10):
    """Decoded points on the segments between the codes of pairs of digits."""
    rng = np.random.default_rng(0)
    pairs = rng.choice(len(x_valid), size=(rows, 2), replace=len(x_valid) < 2 * rows)
    z_a = keras.ops.convert_to_numpy(vae.encode(x_valid[pairs[:, 0]])[0])
    z_b = keras.ops.convert_to_numpy(vae.encode(x_valid[pairs[:, 1]])[0])
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    z = ((1.0 - t) * z_a[:, None] + t * z_b[:, None]).reshape(rows * steps, -1)
    images = vae.likelihood.mean(vae.decode(z.astype("float32")))
    return keras.ops.convert_to_numpy(images), steps


def main(argv=None):
    args = parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.VAE, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    x_train, x_valid, source = load(args)
    print(f"data: {source}: train {x_train.shape}, valid {x_valid.shape}")

    encoder, decoder = models.mlp_vae_networks((28, 28, 1), args.latent_dim,
                                               hidden_units=tuple(args.hidden))
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=args.seed,
                     num_samples=args.iwae)
    vae.compile(optimizer=keras.optimizers.Adam(args.lr))
    grid = callbacks.SampleGrid(os.path.join(args.out, "samples", "epoch_{epoch:03d}.png"),
                                num_samples=64, every=max(1, args.epochs // 4), seed=0)
    start = time.time()
    history = vae.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                      validation_data=(x_valid,), callbacks=[grid], verbose=2)
    train_seconds = time.time() - start
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    elbo = -(logs["val_reconstruction_loss"] + logs["val_kl_loss"])
    print(f"valid ELBO {elbo:.2f} nats after {args.epochs} epochs ({train_seconds:.1f} s)")

    samples_path = os.path.join(args.out, "samples.png")
    callbacks.save_image_grid(vae.sample(64, seed=0), samples_path, ncols=8)
    images, steps = interpolation_grid(vae, x_valid)
    interp_path = os.path.join(args.out, "interpolation.png")
    callbacks.save_image_grid(images, interp_path, ncols=steps)

    x_points, labels = labelled_points(args, x_valid)
    codes = keras.ops.convert_to_numpy(vae.encode(x_points)[0])
    points, axes = project_2d(codes)
    scatter_path = os.path.join(args.out, "latent_scatter.png")
    callbacks.save_image_grid(scatter_image(points, labels)[None], scatter_path, padding=0)
    print(f"latent scatter: {len(points)} codes ({axes}), "
          f"{'coloured by digit class' if labels is not None else 'no labels available'}")

    results = {"example": "vae_mnist", "data": source, "epochs": args.epochs,
               "latent_dim": args.latent_dim, "iwae_k": args.iwae,
               "train_seconds": round(train_seconds, 1), "valid_elbo": round(elbo, 3),
               "train_loss": round(logs["loss"], 3),
               "files": grid.paths + [samples_path, interp_path, scatter_path]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
