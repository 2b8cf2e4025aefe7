"""Benchmark: DCGAN on MNIST - wall time per step and a Frechet distance.

Trains ``models.GAN`` with the builders ``dcgan_generator`` /
``dcgan_discriminator`` (non-saturating loss, Adam 2e-4, beta_1 0.5) for
``--steps`` steps on the labelled MNIST file, then compares generated and
real images in the feature space (last hidden layer) of a small CNN
classifier that the script trains first on the same file (its held-out
accuracy is reported). The Frechet distance is
``keras_genmodels.metrics.frechet_distance`` (an "FID" with an MNIST
classifier instead of InceptionV3, so values are only comparable within this
script). As a floor, the distance between two disjoint halves of the real
held-out images is reported too, and as a ceiling, that of the untrained
generator. Prints a markdown table and one JSON line.

    python bench/gan_mnist.py --data data/mnist_test_images_labels.npz --steps 2000
    python bench/gan_mnist.py --steps 5 --classifier-epochs 1 --num-images 200   # quick check

Images ``0..n-2000`` of the file train the classifier and the GAN; the last
2000 are held out (classifier accuracy, real features).
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

from keras_genmodels import datasets, metrics, models  # noqa: E402



class StepTimer(keras.callbacks.Callback):
    """Wall time of every training batch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def train_classifier(x, y, x_test, y_test, epochs, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Flatten()(h)
    features = keras.layers.Dense(128, activation="relu", name="features")(h)
    logits = keras.layers.Dense(10)(features)
    clf = keras.Model(inputs, logits)
    clf.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    clf.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    accuracy = clf.evaluate(x_test, y_test, verbose=0)[1]
    return keras.Model(inputs, features), float(accuracy)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None,
                   help="MNIST .npz with arrays x, y (default: datasets.load_mnist's download)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--loss", default="non_saturating")
    p.add_argument("--classifier-epochs", type=int, default=3)
    p.add_argument("--num-images", type=int, default=2000, help="images per Frechet distance")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    x_all, y_all = datasets.load_mnist("train", path=args.data)
    held = 2000 if len(x_all) > 4000 else len(x_all) // 2
    x, y, x_test, y_test = x_all[:-held], y_all[:-held], x_all[-held:], y_all[-held:]
    num = min(args.num_images, held // 2)

    t0 = time.perf_counter()
    extractor, accuracy = train_classifier(x, y, x_test, y_test, args.classifier_epochs, args.seed)
    clf_time = time.perf_counter() - t0

    def features(images01):
        return extractor.predict(images01, batch_size=500, verbose=0)

    real = features(x_test[:num])
    fd_floor = metrics.frechet_distance(real, features(x_test[num:2 * num]))

    keras.utils.set_random_seed(args.seed)
    generator = models.dcgan_generator((28, 28, 1), args.latent_dim, base_filters=args.filters)
    discriminator = models.dcgan_discriminator((28, 28, 1), base_filters=args.filters)
    gan = models.GAN(generator, discriminator, args.latent_dim, loss=args.loss, seed=args.seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))

    def generated_features():
        out = []
        for start in range(0, num, 500):
            n = min(500, num - start)
            images = np.asarray(gan.sample(n, seed=args.seed + 1 + start))
            out.append(features((images + 1.0) / 2.0))
        return np.concatenate(out)

    fd_untrained = metrics.frechet_distance(real, generated_features())

    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x * 2.0 - 1.0).shuffle(len(x), seed=args.seed)
    ds = ds.repeat().batch(args.batch_size, drop_remainder=True).prefetch(2)
    timer = StepTimer()
    t0 = time.perf_counter()
    history = gan.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False,
                      callbacks=[timer])
    train_time = time.perf_counter() - t0
    steady = timer.times[1:] if len(timer.times) > 1 else timer.times
    per_step = float(np.median(steady))
    fd = metrics.frechet_distance(real, generated_features())

    result = {
        "benchmark": "gan_mnist", "steps": args.steps, "batch_size": args.batch_size,
        "latent_dim": args.latent_dim, "filters": args.filters, "loss": args.loss,
        "generator_params": generator.count_params(),
        "discriminator_params": discriminator.count_params(),
        "seconds_per_step": round(per_step, 5), "first_step_seconds": round(timer.times[0], 3),
        "train_seconds": round(train_time, 2), "images_per_second": round(args.batch_size / per_step, 1),
        "frechet_distance": round(float(fd), 3),
        "frechet_distance_untrained": round(float(fd_untrained), 3),
        "frechet_distance_real_vs_real": round(float(fd_floor), 3),
        "num_images": num, "classifier_accuracy": round(accuracy, 4),
        "classifier_seconds": round(clf_time, 1),
        "final_d_loss": round(float(history.history["d_loss"][-1]), 4),
        "final_g_loss": round(float(history.history["g_loss"][-1]), 4),
        "keras": keras.__version__, "backend": keras.backend.backend(),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
    }
    print("| steps | batch | s/step | images/s | FD (trained) | FD (untrained) | FD (real vs real) | classifier acc |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.steps} | {args.batch_size} | {per_step:.4f} | {args.batch_size / per_step:.0f} | "
          f"{fd:.2f} | {fd_untrained:.2f} | {fd_floor:.2f} | {accuracy:.3f} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
