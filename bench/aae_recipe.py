"""The ``aae`` recipe of ``bench/train_preset.py``: an adversarial autoencoder on binarized MNIST.

``models.AAE`` (Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial
Autoencoders", ICLR 2016 workshop; section 2: the codes' aggregate posterior
matched to a standard normal prior by a discriminator on the codes) with a
Gaussian encoder 784-512-512-8 (ReLU), a mirror Bernoulli decoder, and a
512-512 ReLU code discriminator; Adam 1e-3 for the reconstruction phase,
2e-4 / beta_1 0.5 for the regularization phase; batch 100, ``--steps``
steps (default 3000) on the 50,000 training images, resumable
(``BackupAndRestore`` in ``RUN_DIR``).

Reported: the importance-sampled valid NLL (the Gaussian encoder as the
proposal, its log-variance floored as :class:`GaussianEncoderView` says;
k = ``--k`` samples, default 1000, on ``valid[::--eval-stride]``, default
5), and the Fréchet distance of 2000 samples (Bernoulli means) to
the 2000 held-out grey MNIST images in the features of the ``dcgan_mnist``
preset's classifier, next to the keras.io-style DCGAN of the ``dcgan``
recipe (same classifier, same held-out images, 3000 steps; loaded from its
run directory ``RUN_DIR/../dcgan/keras_io``).
"""

import json
import math
import os

import keras
import numpy as np

from keras_genmodels import datasets, metrics, models, presets
from keras_genmodels.callbacks import save_image_grid

HERE = os.path.dirname(os.path.abspath(__file__))
LATENT_DIM = 8


class GaussianEncoderView:
    """An AAE's Gaussian encoder as the proposal ``q(z|x)`` of the importance-sampled NLL.

    The AAE's objective never asks its encoder for a calibrated variance (its
    log-variances reach -100: a point mass, useless as a proposal and 0/0 in
    the estimator), so the proposal's log-variance is floored at ``floor``.
    Any proposal gives a stochastic lower bound of ``log p(x)``; the recipe
    picks the floor with the highest bound on a disjoint subset of the valid
    split.
    """

    def __init__(self, aae, floor):
        self.aae = aae
        self.floor = floor

    def encode(self, x):
        z_mean, z_log_var = self.aae.encoder(x, training=False)
        return z_mean, keras.ops.maximum(z_log_var, self.floor)

    def decode(self, z):
        return self.aae.decode(z)


FLOORS = (-6.0, -4.0, -2.0, -1.0, 0.0)


def _add_cpu_seconds(run_dir, seconds):
    """CPU seconds of every invocation so far (``RUN_DIR/state.json``), this one added."""
    path = os.path.join(run_dir, "state.json")
    state = {"cpu_seconds": 0.0}
    if os.path.exists(path):
        with open(path) as f:
            state.update(json.load(f))
    state["cpu_seconds"] += seconds
    with open(path, "w") as f:
        json.dump(state, f, indent=2)
    return state["cpu_seconds"]


def build(seed):
    encoder, decoder = models.mlp_vae_networks((28, 28, 1), LATENT_DIM, hidden_units=(512, 512),
                                               activation="relu", name="aae")
    z = keras.Input((LATENT_DIM,))
    h = keras.layers.Dense(512, activation="relu")(z)
    h = keras.layers.Dense(512, activation="relu")(h)
    discriminator = keras.Model(z, keras.layers.Dense(1)(h), name="code_discriminator")
    aae = models.AAE(encoder, decoder, discriminator, LATENT_DIM, likelihood="bernoulli",
                     seed=seed)
    aae.compile(r_optimizer=keras.optimizers.Adam(1e-3),
                d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return aae


def main(args, cpu_seconds, data):
    """Train (resumably), evaluate and write the ``aae_binarized_mnist`` preset; ``data`` is
    ``train_preset.load_data(args)``."""
    import tensorflow as tf

    import gan_recipe

    run_dir = args.run_dir or os.path.join(HERE, "runs", "aae")
    os.makedirs(run_dir, exist_ok=True)
    cpu_start = cpu_seconds()
    train, valid, source = data
    keras.utils.set_random_seed(args.seed)
    aae = build(args.seed)
    aae(train[:2])
    steps = args.steps
    block = min(args.steps_per_epoch or 500, steps)
    ds = (tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=args.seed).repeat()
          .batch(args.batch_size, drop_remainder=True).prefetch(2))
    history = aae.fit(ds, epochs=max(1, steps // block), steps_per_epoch=block,
                      verbose=args.verbose, shuffle=False, callbacks=[
                          keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"),
                                                           delete_checkpoint=False),
                          keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"),
                                                    append=True)])
    k = args.k or 1000
    stride = args.eval_stride if args.eval_stride > 1 else 5
    x_eval = valid[::stride]

    def log_px(x, floor, num):
        return np.asarray(metrics.importance_sampled_log_likelihood(
            GaussianEncoderView(aae, floor), x, num_samples=num, batch_size=20, seed=args.seed,
            likelihood=aae.likelihood), "float64")

    # The proposal's log-variance floor: the tightest bound on valid[1::50] (disjoint
    # from valid[::5]), k = 200.
    choose = valid[1::50]
    bounds = {floor: float(log_px(choose, floor, min(k, 200)).mean()) for floor in FLOORS}
    floor = max(bounds, key=bounds.get)
    nll = -log_px(x_eval, floor, k)

    # Frechet distance: the dcgan_mnist preset's classifier, the held-out grey images of
    # the dcgan recipe, and its keras.io-style DCGAN (3000 steps) for comparison.
    classifier_path = os.path.join(presets.PRESET_ROOT, "dcgan_mnist", "fd_classifier.keras")
    extractor = keras.saving.load_model(classifier_path, safe_mode=True)
    x_grey, _ = datasets.load_mnist("train", path=args.mnist_data)
    held = x_grey[-gan_recipe.HELD_OUT:]
    num = min(args.fd_images, len(held) // 2)
    real = extractor.predict(held[:num], verbose=0)

    def fd_of(sample):
        feats = [extractor.predict(sample(min(500, num - s), 1 + s), verbose=0)
                 for s in range(0, num, 500)]
        return float(metrics.frechet_distance(real, np.concatenate(feats)))

    fd_ours = fd_of(lambda n, s: np.asarray(keras.ops.convert_to_numpy(aae.sample(n, seed=s))))
    baseline = gan_recipe.KerasIOGAN()
    baseline_weights = os.path.join(os.path.dirname(os.path.abspath(run_dir)), "dcgan", "keras_io",
                                    "backup", "latest.weights.h5")
    fd_baseline = None
    if os.path.exists(baseline_weights):
        baseline.compile(d_optimizer=keras.optimizers.Adam(3e-4),
                         g_optimizer=keras.optimizers.Adam(3e-4))
        baseline.load_weights(baseline_weights)
        fd_baseline = fd_of(baseline.sample)

    meta = {
        "description": "Adversarial autoencoder (Makhzani et al. 2016), Gaussian encoder "
                       "784-512-512-8, Bernoulli decoder, standard normal prior, statically "
                       "binarized MNIST",
        "valid_nll": round(float(nll.mean()), 3),
        "valid_nll_stderr": round(float(nll.std() / math.sqrt(len(nll))), 3),
        "nll_estimator": f"IS k={k}, Gaussian encoder proposal (log-variance floored at "
                         f"{floor}), valid[::{stride}]",
        "proposal_floor_bounds": {str(f): round(-b, 3) for f, b in bounds.items()},
        "valid_images": int(len(x_eval)),
        "training_steps": steps, "batch_size": args.batch_size,
        "frechet_distance": round(fd_ours, 3),
        "frechet_distance_keras_io_dcgan": None if fd_baseline is None else round(fd_baseline, 3),
        "fd_classifier": "the dcgan_mnist preset's fd_classifier.keras",
        "cpu_hours": round(_add_cpu_seconds(run_dir, cpu_seconds() - cpu_start) / 3600.0, 3),
        "recipe": "python bench/train_preset.py --model aae",
        "data": os.path.basename(source),
        "backend": keras.backend.backend(),
        "final_reconstruction_loss": round(float(history.history["reconstruction_loss"][-1]), 3)
        if "reconstruction_loss" in history.history else None,
    }
    preset_dir = args.preset_dir or os.path.join(presets.PRESET_ROOT, "aae_binarized_mnist")
    meta["check_values"] = [round(float(v), 4) for v in presets.check_values(aae)]
    meta = presets.save_to_preset(aae, preset_dir, meta)
    gallery = args.gallery_dir or os.path.join(HERE, "gallery")
    images = np.asarray(keras.ops.convert_to_numpy(aae.sample(16, seed=args.seed)))
    save_image_grid(images, os.path.join(gallery, "aae_binarized_mnist.png"), ncols=4)
    print(json.dumps(dict(meta, preset_dir=preset_dir)))
    return meta
