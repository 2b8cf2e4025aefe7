"""NADE training throughput: the blocked prefix sums vs the cumsum reference, in one process.

Trains ``models.NADE(784, hidden_units=500)`` (the paper's size) with Adam at
batch 100 on binary 28x28 data (``--data``: a binarized-MNIST ``.npz`` with a
``train`` array; otherwise random binary images of the same shape) under
``model.fit``, once per ``implementation`` (``"cumsum"``: one ``(batch, D, H)``
product and one cumulative sum; ``"blocked"``: block prefix sums plus one
masked matrix product per block), round-robin over ``--repeats`` timed runs of
``--steps`` steps after a warm-up epoch. Prints a markdown table (images/s,
ratio to the reference in the same run) with the backend and the CPU, and a
JSON line. Run it on each backend to choose ``implementation="auto"``::

    python bench/nade_step.py
    KERAS_BACKEND=jax python bench/nade_step.py
    KERAS_BACKEND=torch python bench/nade_step.py
"""

import argparse
import json
import platform
import time

import numpy as np


def cpu_description():
    """The CPU model and its AVX flags (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return f"{model} ({' '.join(sorted(f for f in flags if f.startswith('avx')))})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import keras

    from keras_genmodels import models

    n = args.batch_size * args.steps
    if args.data:
        with np.load(args.data) as f:
            x = f["train"][:n].reshape(-1, 784).astype("float32")
    else:
        x = (np.random.default_rng(0).random((n, 784)) < 0.13).astype("float32")
    nets = {}
    for impl in ("cumsum", "blocked"):
        model = models.NADE(784, hidden_units=args.hidden, implementation=impl, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0)  # warm-up, compile
        nets[impl] = model
    times = {impl: [] for impl in nets}
    for _ in range(args.repeats):
        for impl, model in nets.items():
            start = time.perf_counter()
            model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
            times[impl].append(time.perf_counter() - start)
    rate = {impl: n / float(np.median(t)) for impl, t in times.items()}
    print(f"backend {keras.backend.backend()}, {cpu_description()}, batch {args.batch_size}, "
          f"H {args.hidden}, {args.steps} steps x {args.repeats} repeats (median)\n")
    print("| implementation | images/s | vs cumsum |\n|---|---|---|")
    for impl, r in rate.items():
        print(f"| {impl} | {r:.0f} | {r / rate['cumsum']:.2f}x |")
    print(json.dumps({"bench": "nade_step", "backend": keras.backend.backend(),
                      "images_per_s": {k: round(v, 1) for k, v in rate.items()}}))


if __name__ == "__main__":
    main()
