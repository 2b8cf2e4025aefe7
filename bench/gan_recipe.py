"""The ``dcgan`` recipe of ``bench/train_preset.py``: DCGAN on MNIST against a keras.io-style DCGAN.

In one script, on the labelled MNIST file (``--mnist-data``; images
``0..n-2000`` train, the last 2000 are held out):

1. an MNIST classifier (two stride-2 convolutions, a 128-unit ReLU layer,
   10 logits; Adam, 3 epochs) whose 128 features define the Fréchet distance
   (an "FID" with an MNIST classifier in place of InceptionV3). Its held-out
   accuracy is recorded and it ships with the preset (``fd_classifier.keras``);
2. this package's DCGAN: ``models.GAN`` with ``dcgan_generator`` /
   ``dcgan_discriminator`` (Radford, Metz & Chintala, "Unsupervised
   Representation Learning with Deep Convolutional GANs", ICLR 2016:
   strided convolutions, batch norm, ReLU / LeakyReLU(0.2), tanh output,
   Adam 2e-4 with beta_1 0.5, batch 64; Goodfellow et al.'s non-saturating
   generator loss);
3. the keras.io DCGAN it is compared with, trained for the same number of
   steps on the same images in the same script: the GAN of the Keras guide
   "Customizing what happens in fit()" (discriminator: two stride-2 3x3
   convolutions of 64 / 128 with LeakyReLU(0.2), global max pooling, one
   logit; generator: dense 7x7x128, two stride-2 4x4 transposed convolutions
   of 128 with LeakyReLU(0.2), a 7x7 sigmoid convolution; Adam 3e-4 for
   both; the binary cross-entropy with the labels real 0 / fake 1 plus 0.05
   uniform noise, and the generator trained on "all real" labels).

The Fréchet distance of 2000 generated images to the 2000 held-out ones is
reported for both, with the distance between two halves of the held-out
images as the floor. Both trainings are resumable (``BackupAndRestore``
after every block of ``--steps-per-epoch`` steps in ``RUN_DIR/ours`` and
``RUN_DIR/keras_io``). The preset ``dcgan_mnist`` (the GAN, its metadata and
the classifier) is written at the end.
"""

import json
import math
import os
import time

import keras
import numpy as np
from keras import layers

from keras_genmodels import datasets, metrics, models, presets
from keras_genmodels.callbacks import save_image_grid

LATENT_DIM = 64
HELD_OUT = 2000


def train_classifier(x, y, x_test, y_test, epochs, seed):
    """The Fréchet-distance classifier: ``(n, 28, 28, 1)`` in [0, 1] -> 128 features."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    features = layers.Dense(128, activation="relu", name="features")(h)
    logits = layers.Dense(10)(features)
    classifier = keras.Model(inputs, logits)
    classifier.compile(optimizer="adam", metrics=["accuracy"],
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    accuracy = classifier.evaluate(x_test, y_test, verbose=0)[1]
    return keras.Model(inputs, features, name="fd_classifier"), float(accuracy)


class KerasIOGAN(keras.Model):
    """The GAN of the Keras guide "Customizing what happens in fit()" (TensorFlow), for comparison."""

    def __init__(self, latent_dim=LATENT_DIM, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.discriminator = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.GlobalMaxPooling2D(), layers.Dense(1)], name="discriminator")
        self.generator = keras.Sequential([
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 128), layers.LeakyReLU(0.2), layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(1, 7, padding="same", activation="sigmoid")], name="generator")
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.seed_generator = keras.random.SeedGenerator(0)
        self.built = True  # both networks are built (keras.Input)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def call(self, z):
        return self.generator(z)

    def train_step(self, real):
        import tensorflow as tf

        n = tf.shape(real)[0]
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        images = tf.concat([self.generator(z), real], axis=0)
        labels = tf.concat([tf.ones((n, 1)), tf.zeros((n, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(images))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.zeros((n, 1)), self.discriminator(self.generator(z)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}

    def sample(self, n, seed=0):
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return keras.ops.convert_to_numpy(self.generator(z))


def _fit(model, x, args, run_dir, steps, seed):
    """``steps`` training steps in blocks of ``steps_per_epoch``, resumable from ``run_dir``."""
    import tensorflow as tf

    block = min(args.steps_per_epoch or 200, steps)
    ds = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).repeat()
          .batch(args.batch_size, drop_remainder=True).prefetch(2))
    history = model.fit(ds, epochs=max(1, steps // block), steps_per_epoch=block,
                        verbose=args.verbose, shuffle=False, callbacks=[
                            keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"),
                                                             delete_checkpoint=False)])
    return history


def _generated_features(extractor, sample, num):
    out = []
    for start in range(0, num, 500):
        out.append(extractor.predict(sample(min(500, num - start), 1 + start), verbose=0))
    return np.concatenate(out)


def main(args, cpu_seconds):
    """Train both GANs, measure the Fréchet distances, write the ``dcgan_mnist`` preset."""
    run_dir = args.run_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs",
                                           "dcgan")
    os.makedirs(run_dir, exist_ok=True)
    cpu_start = cpu_seconds()
    x_all, y_all = datasets.load_mnist("train", path=args.mnist_data)
    if args.quick:
        x_all, y_all = x_all[:600], y_all[:600]
    held = HELD_OUT if len(x_all) > 2 * HELD_OUT else len(x_all) // 3
    x, y, x_test, y_test = x_all[:-held], y_all[:-held], x_all[-held:], y_all[-held:]
    num = min(args.fd_images, held // 2)
    steps = args.steps

    t0 = time.time()
    extractor, accuracy = train_classifier(x, y, x_test, y_test, 1 if args.quick else 3, args.seed)
    real = extractor.predict(x_test[:num], verbose=0)
    fd_floor = metrics.frechet_distance(real, extractor.predict(x_test[num:2 * num], verbose=0))

    keras.utils.set_random_seed(args.seed)
    ours = models.GAN(models.dcgan_generator((28, 28, 1), LATENT_DIM),
                      models.dcgan_discriminator((28, 28, 1)), LATENT_DIM,
                      loss="non_saturating", seed=args.seed)
    ours.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                 g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    history = _fit(ours, x * 2.0 - 1.0, args, os.path.join(run_dir, "ours"), steps, args.seed)
    fd_ours = metrics.frechet_distance(real, _generated_features(
        extractor, lambda n, s: (np.asarray(ours.sample(n, seed=s)) + 1.0) / 2.0, num))

    keras.utils.set_random_seed(args.seed)
    baseline = KerasIOGAN()
    baseline.compile(d_optimizer=keras.optimizers.Adam(3e-4),
                     g_optimizer=keras.optimizers.Adam(3e-4))
    _fit(baseline, x, args, os.path.join(run_dir, "keras_io"), steps, args.seed)
    fd_baseline = metrics.frechet_distance(real, _generated_features(extractor, baseline.sample,
                                                                     num))
    # CPU time of this invocation (an interrupted one's is not added).
    cpu_hours = (cpu_seconds() - cpu_start) / 3600.0

    meta = {
        "description": "DCGAN (Radford et al. 2016), non-saturating loss, MNIST 28x28 grey "
                       "(images in [-1, 1])",
        "training_steps": steps, "batch_size": args.batch_size,
        "frechet_distance": round(float(fd_ours), 3),
        "frechet_distance_keras_io_dcgan": round(float(fd_baseline), 3),
        "frechet_distance_real_vs_real": round(float(fd_floor), 3),
        "fd_images": int(num),
        "fd_classifier": "fd_classifier.keras: MNIST CNN, 128 ReLU features of images in [0, 1]",
        "fd_classifier_accuracy": round(accuracy, 4),
        "cpu_hours": round(cpu_hours, 3),
        "wall_seconds": round(time.time() - t0, 1),
        "recipe": "python bench/train_preset.py --model dcgan",
        "data": os.path.basename(args.mnist_data or "download"),
        "backend": keras.backend.backend(),
        "final_d_loss": round(float(history.history["d_loss"][-1]), 4),
        "final_g_loss": round(float(history.history["g_loss"][-1]), 4),
    }
    preset_dir = args.preset_dir or os.path.join(presets.PRESET_ROOT, "dcgan_mnist")
    meta["check_values"] = [round(float(v), 4) for v in presets.check_values(ours)]
    meta = presets.save_to_preset(ours, preset_dir, meta)
    extractor.save(os.path.join(preset_dir, "fd_classifier.keras"))
    gallery = args.gallery_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "gallery")
    images = (np.asarray(ours.sample(16, seed=args.seed)) + 1.0) / 2.0
    save_image_grid(images, os.path.join(gallery, "dcgan_mnist.png"), ncols=4)
    result = dict(meta, preset_dir=preset_dir)
    print(json.dumps(result))
    if math.isfinite(fd_ours) and math.isfinite(fd_baseline):
        print(f"| DCGAN (ours) | {steps} steps | FD {fd_ours:.2f} | keras.io DCGAN FD "
              f"{fd_baseline:.2f} | real vs real {fd_floor:.2f} | classifier acc {accuracy:.3f} |")
    return result
