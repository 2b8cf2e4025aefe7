"""What one ``save_weights`` / ``load_weights`` costs, with Keras' skip-set lookup as shipped and cached.

Keras' saving code walks every layer and optimizer, skipping the attributes
all ``Layer`` / ``Optimizer`` / ``Metric`` objects have; it builds those sets
from fresh reference objects and (Keras 3.15) never finds its own cache, so
it builds them, and a new ``Optimizer`` with two variables, on every call.
``keras_genmodels`` caches them (``keras_genmodels/_saving_cache.py``). This
script times both in one process, in alternating rounds, on a compiled model
with its Adam slots (a ``BackupAndRestore`` checkpoint's contents): time per
save and per load, and the growth of the resident set (VmRSS) per save.

Usage::

    python bench/save_cost.py                       # the IWAE preset's networks
    python bench/save_cost.py --saves 200 --rounds 3 --threads 1
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.saving import saving_lib  # noqa: E402

from keras_genmodels import _saving_cache, models  # noqa: E402


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.startswith("model name"))
        flags = sorted({w for w in text.split() if w.startswith(("avx512", "amx"))}
                       or {w for w in text.split() if w in ("avx2", "fma")})
        return f"{name} ({' '.join(flags)})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def _round(model, path, saves):
    rss0, t0 = _rss_kb(), time.perf_counter()
    for _ in range(saves):
        model.save_weights(path, overwrite=True)
    save_ms = (time.perf_counter() - t0) / saves * 1e3
    rss_kb = (_rss_kb() - rss0) / saves
    t0 = time.perf_counter()
    for _ in range(max(1, saves // 4)):
        model.load_weights(path)
    load_ms = (time.perf_counter() - t0) / max(1, saves // 4) * 1e3
    return save_ms, load_ms, rss_kb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=150, help="saves per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    encoder, decoder = models.mlp_vae_networks((28, 28), 50, hidden_units=(200, 200),
                                               activation="tanh")
    model = models.VAE(encoder, decoder, num_samples=50, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = (np.random.default_rng(0).random((100, 28, 28)) < 0.3).astype("float32")
    model.fit(x, epochs=1, batch_size=100, verbose=0)  # builds the Adam slots
    path = os.path.join(tempfile.mkdtemp(), "backup.weights.h5")

    variants = {"Keras' lookup (as shipped)": _saving_cache._KERAS_GET_ATTR_SKIPSET,
                "cached (keras_genmodels)": _saving_cache._cached_get_attr_skipset}
    installed = saving_lib.get_attr_skipset
    results = {name: [] for name in variants}
    try:
        for name, lookup in variants.items():  # warm-up
            saving_lib.get_attr_skipset = lookup
            _round(model, path, 10)
        for _ in range(args.rounds):
            for name, lookup in variants.items():
                saving_lib.get_attr_skipset = lookup
                results[name].append(_round(model, path, args.saves))
    finally:
        saving_lib.get_attr_skipset = installed

    print(f"CPU: {_cpu()}; Keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"Keras caches the sets itself: {_saving_cache.keras_caches_skipsets()}")
    print(f"model: IWAE networks, {model.count_params():,} parameters + Adam slots; "
          f"{args.saves} saves x {args.rounds} rounds")
    print("| skip-set lookup | ms per save | ms per load | RSS growth per save (KB) |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        cols = zip(*rows)
        print(f"| {name} | " + " | ".join(
            ", ".join(f"{v:.1f}" for v in col) for col in cols) + " |")
    base = np.median([r[0] for r in results["Keras' lookup (as shipped)"]])
    cached = np.median([r[0] for r in results["cached (keras_genmodels)"]])
    print(f"save time, as shipped / cached: {base / cached:.2f}x")
    print(json.dumps({"bench": "save_cost", "cpu": _cpu(), "keras": keras.__version__,
                      "backend": keras.backend.backend(), "results": results}))


if __name__ == "__main__":
    sys.exit(main())
