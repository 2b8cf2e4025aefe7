"""Smoke tests: every example and benchmark script runs one tiny step.

To add a script, append an ``Example`` to ``EXAMPLES``: its path from the
repository root, quick arguments (``{out}`` is replaced by a fresh output
directory, ``{data}`` by a small binarized-MNIST .npz with arrays
``train``/``valid``, ``{mnist}`` by a small labelled MNIST .npz with arrays
``x`` (uint8) / ``y``), the files it must write under ``{out}``, strings its
output must contain, and whether its last printed line is a JSON summary.

TensorFlow takes seconds to import on 2 cores, so all the selected scripts
run in ONE Python subprocess (``runpy``, as ``__main__`` with their own
``sys.argv``; ``keras.backend.clear_session()`` in between), which records
each script's output and exception; the parametrized tests then check them
one by one.
"""

import collections
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_genmodels import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Example = collections.namedtuple("Example", "script args outputs expect json name",
                                 defaults=(True, None))


def _key(example):
    return example.name or example.script

EXAMPLES = [
    Example(
        "examples/quickstart.py",
        ["--epochs", "1", "--steps", "1", "--k", "2", "--valid-limit", "32", "--hidden", "16",
         "--out", "{out}"],
        ["samples/epoch_001.png", "samples.png", "reconstructions.png", "vae.keras",
         "results.json"],
        ["valid ELBO", "importance-sampled NLL"],
    ),
    Example(
        "bench/vae_binarized_mnist.py",
        ["--data", "{data}", "--epochs", "1", "--k", "3", "--valid-limit", "50",
         "--hidden", "32", "--latent-dim", "4"],
        [],
        ['"bench": "vae_binarized_mnist"', "| valid ELBO |"],
    ),
    Example(
        "bench/save_cost.py",
        ["--saves", "2", "--rounds", "1"],
        [],
        ['"bench": "save_cost"', "| skip-set lookup |", "save time, as shipped / cached"],
    ),
    Example(
        "bench/report.py",
        # One shipped preset (the cheapest) for the presets table: all of them cost ~10 s more.
        ["--data", "{data}", "--mnist", "{mnist}", "--models", "vae", "iwae", "made", "gan",
         "--minutes-per-model", "0.005", "--valid-limit", "20", "--k", "2", "--tiny",
         "--classifier-epochs", "1", "--fd-images", "50", "--presets", "vae_binarized_mnist",
         "--out", "{out}"],
        ["report.json"],
        ["| model |", "| VAE |", "| IWAE (k=", "| MADE |", "| GAN |", "88.04",
         "| vae_binarized_mnist |"],
    ),
    # The NADE recipe: the same pipeline as the others (fit, resumable run directory, export)
    # in ~10 s; MADE's 32 masks take ~30 s to trace.
    Example(
        "bench/train_preset.py",
        ["--model", "nade", "--quick", "--epochs", "2", "--steps-per-epoch", "2",
         "--eval-stride", "100", "--run-dir", "{out}/run", "--preset-dir", "{out}/preset",
         "--verbose", "0"],
        ["run/history.csv", "run/state.json", "run/best.weights.h5", "preset/config.json",
         "preset/metadata.json", "preset/model.weights.h5",
         "preset/gallery/nade_binarized_mnist.png"],
        ['"class_name": "NADE"', '"nll_estimator": "exact"', '"check_log_probs"'],
    ),
    # The same with the moving average of the weights validated and kept, and weight decay.
    Example(
        "bench/train_preset.py",
        ["--model", "nade", "--quick", "--epochs", "2", "--steps-per-epoch", "2",
         "--eval-stride", "100", "--run-dir", "{out}/run", "--preset-dir", "{out}/preset",
         "--verbose", "0", "--ema", "0.9", "--weight-decay", "0.01"],
        ["run/history.csv", "run/best.weights.h5", "preset/metadata.json"],
        ['"class_name": "NADE"', "--ema 0.9 --weight-decay 0.01"],
        name="bench/train_preset.py --ema",
    ),
    # --lr replaces the VAE recipe's schedule (which starts at 1e-3) by a constant rate.
    Example(
        "bench/train_preset.py",
        ["--model", "vae", "--quick", "--epochs", "1", "--steps-per-epoch", "2",
         "--eval-stride", "100", "--k", "2", "--run-dir", "{out}/run", "--preset-dir",
         "{out}/preset", "--verbose", "2", "--lr", "0.0005"],
        ["run/history.csv", "preset/metadata.json"],
        ["lr: 5.0000e-04", '"class_name": "VAE"', "--lr 0.0005"],
        name="bench/train_preset.py --lr",
    ),
    Example(
        "examples/vae_mnist.py",
        ["--data", "{data}", "--labels-data", "{mnist}", "--epochs", "1", "--steps", "1",
         "--hidden", "16", "--batch-size", "50", "--scatter-points", "100", "--valid-limit",
         "50", "--out", "{out}"],
        ["samples/epoch_001.png", "samples.png", "interpolation.png", "latent_scatter.png",
         "results.json"],
        ["valid ELBO", "coloured by digit class"],
    ),
    Example(
        "examples/wgan_gp.py",
        ["--data", "{mnist}", "--epochs", "1", "--steps", "1", "--filters", "8",
         "--latent-dim", "8", "--d-steps", "2", "--batch-size", "16", "--out", "{out}"],
        ["samples/epoch_001.png", "samples.png", "gan.keras", "results.json"],
        ["Wasserstein distance"],
    ),
    Example(
        "examples/conditional_gan.py",
        ["--data", "{mnist}", "--epochs", "1", "--steps", "1", "--filters", "8",
         "--latent-dim", "8", "--batch-size", "16", "--per-class", "1", "--out", "{out}"],
        ["samples/epoch_001.png", "samples.png", "gan.keras", "results.json"],
        ["classes 0..9"],
    ),
    Example(
        "examples/anomaly_detection.py",
        ["--data", "{mnist}", "--epochs", "1", "--steps", "1", "--hidden-units", "16",
         "--holdout", "20", "--batch-size", "50", "--out", "{out}"],
        ["scores.png", "results.json"],
        ["AUROC held-out inlier digits vs noise"],
    ),
    Example(
        "examples/drop_in_layers.py",
        ["--data", "{data}", "--epochs", "1", "--steps", "1", "--hidden", "16",
         "--valid-limit", "50", "--out", "{out}"],
        ["samples.png", "reconstructions.png", "drop_in_vae.keras", "results.json"],
        ["identical weights: True"],
    ),
    Example(
        "examples/aae_mnist.py",
        ["--epochs", "1", "--steps", "1", "--hidden", "16", "--latent-dim", "2",
         "--batch-size", "16", "--out", "{out}"],
        ["epoch_001.png", "aae.keras", "codes.npz"],
        ["test codes"], json=False,
    ),
    Example(
        "examples/gan_mnist.py",
        ["--data", "{mnist}", "--epochs", "1", "--steps", "1", "--filters", "8",
         "--latent-dim", "8", "--batch-size", "16", "--out", "{out}"],
        ["epoch_001.png", "gan.keras"],
        ["wrote"], json=False,
    ),
    Example(
        "examples/gated_pixelcnn.py",
        ["--data", "{mnist}", "--epochs", "1", "--steps", "1", "--filters", "4",
         "--num-layers", "1", "--per-class", "1", "--batch-size", "16", "--out", "{out}"],
        ["samples_epoch_001.png"],
        ["valid NLL with labels"], json=False,
    ),
    Example(
        "examples/nade_mnist.py",
        ["--data", "{data}", "--epochs", "1", "--steps", "1", "--hidden-units", "16",
         "--valid-limit", "50", "--out", "{out}"],
        ["nade_samples.png", "nade.keras", "results.json"],
        ["validation NLL"], json=False,
    ),
    Example(
        "examples/pixelcnn_mnist.py",
        ["--data", "{data}", "--epochs", "1", "--steps", "1", "--filters", "4",
         "--num-layers", "1", "--num-samples", "2", "--valid", "50", "--batch-size", "16",
         "--out", "{out}"],
        ["samples_epoch_001.png", "samples_final.png"],
        ["valid NLL", "AUROC"], json=False,
    ),
    # --preset: sample from a pretrained model ({preset_*}: tiny presets made by a fixture).
    Example("examples/quickstart.py", ["--preset", "{preset_vae}", "--out", "{out}"],
            ["preset_samples.png"], ["16 samples in"], json=False, name="quickstart --preset"),
    Example("examples/nade_mnist.py", ["--preset", "{preset_nade}", "--out", "{out}"],
            ["preset_samples.png"], ["16 samples in"], json=False, name="nade_mnist --preset"),
    Example("examples/pixelcnn_mnist.py", ["--preset", "{preset_pixelcnn}", "--out", "{out}"],
            ["preset_samples.png"], ["16 samples in"], json=False,
            name="pixelcnn_mnist --preset"),
    Example(
        "examples/distributed.py",
        ["--backend", "tensorflow", "--epochs", "1", "--steps", "1", "--batch-size", "16",
         "--hidden", "16", "--latent-dim", "2", "--train-limit", "64", "--valid-limit", "32",
         "--out", "{out}"],
        ["samples.png", "vae.keras", "results.json"],
        ["tf.distribute.MirroredStrategy", "valid ELBO"],
    ),
]

RUNNER = textwrap.dedent("""
    import contextlib, io, json, os, runpy, sys, time, traceback
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    jobs = json.load(open(sys.argv[1]))
    results = {}
    for job in jobs:
        buffer = io.StringIO()
        error, start = None, time.time()
        sys.argv = [job["script"]] + job["args"]
        try:
            with contextlib.redirect_stdout(buffer):
                runpy.run_path(job["script"], run_name="__main__")
        except SystemExit as e:
            if e.code not in (None, 0):
                error = f"SystemExit({e.code!r})"
        except BaseException:
            error = traceback.format_exc()
        keras.backend.clear_session()
        results[job["key"]] = {"stdout": buffer.getvalue(), "error": error,
                                  "seconds": round(time.time() - start, 1)}
        with open(job["results"], "w") as f:
            json.dump(results, f)
""")


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "binarized_mnist_small_train_valid.npz"
    np.savez(path, train=datasets.load_binarized_mnist_small("train")[:300, ..., 0],
             valid=datasets.load_binarized_mnist_small("valid")[:100, ..., 0])
    return path


@pytest.fixture(scope="module")
def mnist_npz(tmp_path_factory):
    """A labelled 'MNIST' file (x uint8 0..255, y 0..9) made from the shipped images."""
    path = tmp_path_factory.mktemp("data") / "mnist_small_images_labels.npz"
    x = (datasets.load_binarized_mnist_small("train")[:300, ..., 0] * 255).astype("uint8")
    np.savez(path, x=x, y=(np.arange(300) % 10).astype("uint8"))
    return path


def _selected(request):
    """The Examples the session will run (all, or those picked with -k)."""
    chosen = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if (callspec is not None and item.originalname == "test_example_runs"
                and "example" in callspec.params):
            chosen.append(callspec.params["example"])
    return chosen


@pytest.fixture(scope="module")
def tiny_presets(tmp_path_factory):
    """Untrained 28x28 presets for the examples' ``--preset`` runs."""
    from keras_genmodels import models

    base = tmp_path_factory.mktemp("presets")
    made = {
        "vae": models.VAE(*models.mlp_vae_networks((28, 28, 1), 2, hidden_units=(8,)), seed=0),
        "nade": models.NADE((28, 28, 1), hidden_units=4, seed=0),
        "pixelcnn": models.PixelCNN((28, 28, 1), filters=4, num_layers=1, kernel_size=3,
                                    seed=0),
    }
    for name, model in made.items():
        model.save_to_preset(str(base / name))
    return {f"preset_{name}": str(base / name) for name in made}


@pytest.fixture(scope="module")
def example_runs(request, tmp_path_factory, small_npz, mnist_npz, tiny_presets):
    base = tmp_path_factory.mktemp("examples")
    jobs, outs = [], {}
    for example in _selected(request):
        key = _key(example)
        out = base / key.replace("/", "_").replace(".py", "").replace(" --", "_")
        outs[key] = out
        args = [a.format(out=out, data=small_npz, mnist=mnist_npz, **tiny_presets)
                for a in example.args]
        jobs.append({"script": os.path.join(ROOT, example.script), "args": args, "key": key,
                     "results": str(base / "results.json")})
    (base / "jobs.json").write_text(json.dumps(jobs))
    runner = base / "runner.py"
    runner.write_text(RUNNER)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(datasets.ENV_VAR, None)
    proc = subprocess.run([sys.executable, str(runner), str(base / "jobs.json")],
                          capture_output=True, text=True, timeout=900, env=env, cwd=base)
    results_path = base / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    return {"results": results, "outs": outs, "proc": proc}


@pytest.mark.parametrize("example", EXAMPLES, ids=[_key(e) for e in EXAMPLES])
def test_example_runs(example, example_runs):
    key = _key(example)
    proc = example_runs["proc"]
    assert key in example_runs["results"], (
        f"{example.script} did not run: runner exit {proc.returncode}\n"
        + proc.stdout[-3000:] + proc.stderr[-3000:])
    run = example_runs["results"][key]
    stdout = run["stdout"]
    assert run["error"] is None, stdout[-3000:] + "\n" + run["error"]
    out = example_runs["outs"][key]
    for name in example.outputs:
        assert (out / name).is_file(), f"{example.script} did not write {name}"
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for text in example.expect:
        assert text in stdout, f"{text!r} not in the output of {example.script}"
    if example.json:
        # The last line is the JSON summary; its numbers are finite.
        summary = json.loads(stdout.strip().splitlines()[-1])
        for value in summary.values():
            if isinstance(value, float):
                assert np.isfinite(value), (example.script, summary)


def test_train_preset_init_from_names_runs_of_recipes():
    spec = importlib.util.spec_from_file_location(
        "train_preset", os.path.join(ROOT, "bench", "train_preset.py"))
    train_preset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_preset)
    # A run is named after its recipe, optionally with a suffix; the longest recipe wins.
    assert train_preset._recipe_of_run("vae_ema") == "vae"
    assert train_preset._recipe_of_run("gated_pixelcnn_long") == "gated_pixelcnn"
    assert train_preset._recipe_of_run("pixelcnn") == "pixelcnn"
    assert train_preset._recipe_of_run("vaex") is None
    args = train_preset.parse_args(["--model", "iwae", "--init-from", "vae_ema"])
    assert args.init_from == "vae_ema"
    with pytest.raises(SystemExit):
        train_preset.parse_args(["--model", "iwae", "--init-from", "vaex"])
