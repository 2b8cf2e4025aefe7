"""NADE training throughput: the fused and blocked forms vs the cumsum reference, in one process.

Trains ``models.NADE(784, hidden_units=500)`` (the paper's size) with Adam at
batch 100 on binary 28x28 data (``--data``: a binarized-MNIST ``.npz`` with a
``train`` array; otherwise random binary images of the same shape) under
``model.fit``, once per ``implementation`` (``"cumsum"``: one ``(batch, D, H)``
product and one cumulative sum; ``"blocked"``: block prefix sums plus one
masked matrix product per block; ``"fused"``: the same blocks, squashed and
reduced one at a time, recomputed by the gradient; on TensorFlow also with
the plain and the XLA step), round-robin over ``--repeats`` timed runs of
``--steps`` steps after a warm-up epoch. Prints a markdown table (images/s,
ratio to the reference in the same run) with the backend and the CPU, and a
JSON line. Run it on each backend to choose ``implementation="auto"``::

    taskset -c 1 python bench/nade_step.py --threads 1
    KERAS_BACKEND=jax taskset -c 1 python bench/nade_step.py --threads 1
    KERAS_BACKEND=torch taskset -c 1 python bench/nade_step.py --threads 1
"""

import argparse
import json
import platform
import time

import numpy as np


def cpu_description():
    """The CPU model and its AVX / AMX flags (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return f"{model} ({' '.join(sorted(f for f in flags if f.startswith(('avx', 'amx'))))})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow / torch threads (default: all); pin the process "
                             "(taskset) to as many cores")
    args = parser.parse_args(argv)

    import keras

    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    elif args.threads and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(args.threads)

    from keras_genmodels import models

    n = args.batch_size * args.steps
    if args.data:
        with np.load(args.data) as f:
            x = f["train"][:n].reshape(-1, 784).astype("float32")
    else:
        x = (np.random.default_rng(0).random((n, 784)) < 0.13).astype("float32")
    nets = {}
    variants = [(impl, "auto") for impl in ("cumsum", "blocked", "fused")]
    if keras.backend.backend() == "tensorflow":  # the step's compilation, for the auto choice
        variants += [("fused", False), ("fused", True), ("blocked", False)]
    for impl, jit_compile in variants:
        model = models.NADE(784, hidden_units=args.hidden, implementation=impl, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
        model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0)  # warm-up, compile
        step = {"auto": "", False: " (plain step)", True: " (XLA step)"}[jit_compile]
        nets[impl + step] = model
    times = {impl: [] for impl in nets}
    for _ in range(args.repeats):
        for impl, model in nets.items():
            start = time.perf_counter()
            model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
            times[impl].append(time.perf_counter() - start)
    rate = {impl: n / float(np.median(t)) for impl, t in times.items()}
    print(f"backend {keras.backend.backend()}, {cpu_description()}, "
          f"{args.threads or 'all'} thread(s), batch {args.batch_size}, "
          f"H {args.hidden}, {args.steps} steps x {args.repeats} repeats (median)\n")
    print("| implementation | images/s | vs cumsum |\n|---|---|---|")
    for impl, r in rate.items():
        print(f"| {impl} | {r:.0f} | {r / rate['cumsum']:.2f}x |")
    print(json.dumps({"bench": "nade_step", "backend": keras.backend.backend(),
                      "images_per_s": {k: round(v, 1) for k, v in rate.items()}}))


if __name__ == "__main__":
    main()
