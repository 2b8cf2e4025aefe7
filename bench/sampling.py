"""Benchmark: seconds to draw 16 PixelCNN samples, naive vs cached vs TFP vs keras.io.

Methods (all at the keras.io PixelCNN size: ``--filters 64``, ``--blocks 5``
residual blocks, 7x7 mask-A input conv, 3x3 hidden convs; untrained
weights, which does not change the cost):

* ``cached``: ``PixelCNN.sample(n, method="cached")``, the fast sampler of
  Ramachandran et al. (2017): every layer evaluated only at the new pixel
  from cached activations, one XLA-compiled loop over the image;
* ``naive``: ``PixelCNN.sample(n, method="naive")``, one compiled full
  forward pass per pixel (per channel for RGB);
* ``keras_io``: the keras.io PixelCNN example's loop, ``model.predict`` of
  the whole batch per pixel (per channel) then a draw in NumPy;
* ``tfp``: ``tfp.distributions.PixelCNN(...).sample(n)`` at ``--filters``
  filters, ``--tfp-resnets`` resnet blocks, one hierarchy (a discretized
  logistic mixture; 1 component for binary data), run in a child process
  killed after ``--tfp-timeout`` seconds.

Configurations: ``binary`` (28x28x1, Bernoulli) and ``rgb256`` (32x32x3,
a 256-way softmax per channel, R -> G -> B; the filter count is rounded up
to a multiple of 6, i.e. 66, for the colour groups); ``row_lstm`` and
``diagonal_bilstm``: a default-size ``PixelRNN`` on 28x28x1 binary images
(cached and naive only); ``nade`` (500 hidden), ``made32`` (784-500-784,
32 masks) and ``markov`` (order 28) at their preset sizes (cached and naive
only).

The naive, cached and keras.io timings are measured in this process as the
median of ``--repeats`` runs (compilation excluded: a warm-up call for
``cached``, the first of the repeats for the others; reported separately);
ratios are taken between them. Peak resident memory of
each method is measured in a fresh child process (``ru_maxrss`` of a child
that builds the model and samples once), together with the resident memory
just before sampling, so the growth during sampling shows. Prints a markdown
table and one JSON line.

    python bench/sampling.py                        # full run (minutes; TFP longest)
    python bench/sampling.py --skip-tfp --repeats 3
    python bench/sampling.py --configs row_lstm,diagonal_bilstm --methods cached,naive
    python bench/sampling.py --quick                # tiny sizes: checks that it runs
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

CONFIGS = {
    "binary": dict(image_shape=(28, 28, 1), likelihood="bernoulli"),
    "rgb256": dict(image_shape=(32, 32, 3), likelihood="categorical"),
    # PixelRNN at its default size (cached and naive only).
    "row_lstm": dict(image_shape=(28, 28, 1), likelihood="bernoulli", rnn=True),
    "diagonal_bilstm": dict(image_shape=(28, 28, 1), likelihood="bernoulli", rnn=True),
    # The flat models at their preset sizes (cached and naive only).
    "nade": dict(image_shape=(28, 28, 1), likelihood="bernoulli", flat=True),
    "made32": dict(image_shape=(28, 28, 1), likelihood="bernoulli", flat=True),
    "markov": dict(image_shape=(28, 28, 1), likelihood="bernoulli", flat=True),
}
QUICK_SHAPES = {"binary": (6, 6, 1), "rgb256": (4, 4, 3), "row_lstm": (5, 5, 1),
                "diagonal_bilstm": (5, 5, 1), "nade": (4, 4, 1), "made32": (4, 4, 1),
                "markov": (4, 4, 1)}
PIXELCNN_ONLY = ("keras_io", "tfp")
METHODS = ("cached", "naive", "keras_io", "tfp")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=16, help="images per sample call")
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--blocks", type=int, default=5, help="residual blocks")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    p.add_argument("--configs", default="binary,rgb256")
    p.add_argument("--methods", default="cached,naive,keras_io,tfp",
                   help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--skip-tfp", action="store_true")
    p.add_argument("--tfp-resnets", type=int, default=2)
    p.add_argument("--tfp-timeout", type=float, default=900.0, help="seconds per TFP config")
    p.add_argument("--no-memory", action="store_true", help="skip the child-process memory runs")
    p.add_argument("--quick", action="store_true",
                   help="tiny images, 8 filters, 1 block, 1 repeat: checks that the script runs")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)  # "method:config"
    args = p.parse_args(argv)
    args.methods = [m for m in args.methods.split(",") if m]
    args.configs = [c for c in args.configs.split(",") if c]
    for m in args.methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; expected a subset of {METHODS}")
    for c in args.configs:
        if c not in CONFIGS:
            raise ValueError(f"Unknown config {c!r}; expected a subset of {tuple(CONFIGS)}")
    if args.skip_tfp and "tfp" in args.methods:
        args.methods.remove("tfp")
    if args.quick:
        args.filters, args.blocks, args.repeats, args.tfp_resnets = 6, 1, 1, 1
        args.n = min(args.n, 4)
    return args


def image_shape(args, config):
    return QUICK_SHAPES[config] if args.quick else CONFIGS[config]["image_shape"]


def build_model(args, config):
    from keras_genmodels import models

    shape = image_shape(args, config)
    if CONFIGS[config].get("rnn"):
        return models.PixelRNN(shape, kind=config, likelihood=CONFIGS[config]["likelihood"], seed=0)
    if config == "nade":
        return models.NADE(shape, hidden_units=500, seed=0)
    if config == "made32":
        return models.MADE(shape, hidden_units=(500,), num_masks=32, mask_seed=0, seed=0)
    if config == "markov":
        return models.MarkovAR(shape, order=min(28, shape[0] * shape[1] - 1), seed=0)
    filters = args.filters
    if shape[-1] > 1:
        filters = -(-filters // (2 * shape[-1])) * 2 * shape[-1]
    return models.PixelCNN(shape, filters=filters, num_layers=args.blocks,
                           likelihood=CONFIGS[config]["likelihood"], seed=0)


def keras_io_sample(model, n, seed=0):
    """The keras.io PixelCNN example's sampler: ``predict`` on the whole batch per step."""
    rng = np.random.default_rng(seed)
    height, width, channels = model.image_shape
    pixels = np.zeros((n, height, width, channels), "float32")
    binary = type(model.likelihood).__name__ == "Bernoulli"
    for row in range(height):
        for col in range(width):
            for channel in range(channels):
                params = model.predict(pixels, verbose=0)[:, row, col]
                if binary:
                    probs = 1.0 / (1.0 + np.exp(-params[:, channel]))
                    pixels[:, row, col, channel] = np.ceil(probs - rng.uniform(size=n))
                else:
                    logits = params[:, channel * 256:(channel + 1) * 256].astype("float64")
                    gumbel = -np.log(-np.log(rng.uniform(size=logits.shape)))
                    pixels[:, row, col, channel] = np.argmax(logits + gumbel, axis=-1)
    return pixels


def tfp_distribution(args, config):
    import tensorflow_probability as tfp

    shape = image_shape(args, config)
    binary = config == "binary"
    return tfp.distributions.PixelCNN(
        image_shape=shape, num_resnet=args.tfp_resnets, num_hierarchies=1,
        num_filters=args.filters, num_logistic_mix=1 if binary else 5,
        receptive_field_dims=(3, 3), dropout_p=0.0, use_weight_norm=False,
        use_data_init=False, high=1 if binary else 255, low=0)


def sampler(args, method, config):
    """A function ``() -> images`` drawing ``args.n`` images with ``method``."""
    if method == "tfp":
        dist = tfp_distribution(args, config)
        return lambda: np.asarray(dist.sample(args.n, seed=0))
    model = build_model(args, config)
    if method == "keras_io":
        return lambda: keras_io_sample(model, args.n)
    return lambda: model.sample(args.n, seed=0, verbose=0, method=method)


def current_rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def run_child(args):
    """One method on one config in this (fresh) process: seconds and memory."""
    method, config = args.child.split(":")
    fn = sampler(args, method, config)
    before = current_rss_mb()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print("CHILD " + json.dumps({"seconds_first_call": seconds, "rss_before_mb": before,
                                 "peak_rss_mb": peak}))


def child(args, method, config, timeout=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{method}:{config}",
           "--n", str(args.n), "--filters", str(args.filters), "--blocks", str(args.blocks),
           "--tfp-resnets", str(args.tfp_resnets)] + (["--quick"] if args.quick else [])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout}
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr.strip().splitlines()[-1] if error.stderr else "failed"}
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("CHILD ")][-1]
    return json.loads(line[len("CHILD "):])


def time_in_process(args, method, config):
    """Median seconds of ``args.repeats`` calls, and the compile overhead of the first call.

    ``cached`` gets a separate warm-up call (its compilation is large next to
    its run time). The slow per-pixel methods do not (compiling is ~1% of a
    run): their first timed call includes it, and the compile overhead is
    that call minus the median of the others (when ``repeats > 1``).
    """
    fn = sampler(args, method, config)
    times = []
    if method == "cached":
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
    for _ in range(args.repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    if method != "cached":
        first = times[0]
        if len(times) > 1:
            times = times[1:]
    median = statistics.median(times)
    return {"seconds": median, "times": times, "compile_s": max(first - median, 0.0)}


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        run_child(args)
        return None
    results = {}
    for config in args.configs:
        results[config] = {}
        for method in args.methods:
            if (CONFIGS[config].get("rnn") or CONFIGS[config].get("flat")) and (
                    method in PIXELCNN_ONLY):
                continue
            if method == "tfp":
                # Slow to build and run: a child process with a time limit (its
                # first call, compilation included, is the time reported).
                r = child(args, "tfp", config, timeout=args.tfp_timeout)
                if "seconds_first_call" in r:
                    r["seconds"] = r["seconds_first_call"]
            else:
                r = time_in_process(args, method, config)
                if not args.no_memory:
                    mem = child(args, method, config)
                    r.update({k: mem[k] for k in ("peak_rss_mb", "rss_before_mb") if k in mem})
            results[config][method] = r
            print(f"[{config}] {method}: {r}", flush=True)
    print()
    print(f"| config | method | seconds ({args.n} images) | speed-up of cached | compile s | "
          "peak RSS MB | RSS before sampling MB |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for config, rows in results.items():
        cached = rows.get("cached", {}).get("seconds")
        for method, r in rows.items():
            sec = r.get("seconds")
            ratio = sec / cached if (sec and cached) else None
            summary[f"{config}/{method}"] = {"seconds": sec, "cached_speedup": ratio,
                                             "peak_rss_mb": r.get("peak_rss_mb"),
                                             "timeout_s": r.get("timeout_s"),
                                             "error": r.get("error")}
            sec_txt = (f"{sec:.3f}" if sec else
                       f"> {r['timeout_s']:.0f} (timeout)" if "timeout_s" in r else
                       r.get("error", "-"))
            compile_txt = f"{r['compile_s']:.1f}" if "compile_s" in r else "(in first call)"
            ratio_txt = f"{ratio:.1f}x" if ratio else "-"
            print(f"| {config} {image_shape(args, config)} | {method} | {sec_txt} | {ratio_txt} | "
                  f"{compile_txt} | {r.get('peak_rss_mb', float('nan')):.0f} | "
                  f"{r.get('rss_before_mb', float('nan')):.0f} |")
    result = {
        "benchmark": "sampling",
        "n": args.n, "filters": args.filters, "blocks": args.blocks, "repeats": args.repeats,
        "tfp_resnets": args.tfp_resnets, "quick": args.quick,
        "backend": keras.backend.backend(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "results": summary,
    }
    print("JSON: " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
