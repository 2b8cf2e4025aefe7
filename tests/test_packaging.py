"""The wheel built from pyproject.toml holds every module, the kernels and the data."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from keras_genmodels import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Everything the build reads; copied so the build never writes into the checkout.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in", "README.md", "LICENSE",
                "keras_genmodels", "kernels")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif os.path.isfile(path):
            shutil.copy2(path, src / name)
    if not (src / "README.md").exists():  # pyproject names it; the build needs one
        (src / "README.md").write_text("keras-genmodels\n")
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(dist.glob("keras_genmodels-*.whl"))
    assert len(wheels) == 1, os.listdir(dist)
    return wheels[0]


def _source_files(package_dir, prefix, patterns=(".py",)):
    out = set()
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, package_dir)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(patterns):
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(ROOT, package_dir))
                out.add(prefix + rel.replace(os.sep, "/"))
    return out


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("keras_genmodels/__init__.py", "keras_genmodels/kernels/__init__.py",
                     "keras_genmodels/data/binarized_mnist_small.npz",
                     "keras_genmodels/datasets.py", "keras_genmodels/callbacks.py"):
        assert required in names, required
    # every module of the package and of ./kernels (installed as keras_genmodels.kernels)
    expected = _source_files("keras_genmodels", "keras_genmodels/",
                             (".py", ".npz", ".json", ".h5", ".keras"))
    expected |= _source_files("kernels", "keras_genmodels/kernels/")
    missing = sorted(expected - names)
    assert not missing, f"files missing from the wheel: {missing}"
    assert not any(n.startswith(("tests/", "bench/", "examples/")) for n in names)
    # The shipped presets (config, weights, metadata) stay within 25 MB.
    info = zipfile.ZipFile(wheel).infolist()
    preset_bytes = sum(i.file_size for i in info if i.filename.startswith("keras_genmodels/presets/")
                       and not i.filename.endswith(".py"))
    assert preset_bytes <= 25 * 2 ** 20, preset_bytes
    metadata = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata[0]).decode()
    assert "Name: keras-genmodels" in text and "Requires-Dist: keras" in text


def test_installed_wheel_loads_packaged_data(wheel, tmp_path):
    """Unpacked on its own, the wheel imports and reads its data via importlib.resources."""
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "import json, sys, keras_genmodels\n"
        "assert keras_genmodels.__file__.startswith(sys.argv[1]), keras_genmodels.__file__\n"
        "from keras_genmodels import datasets, kernels\n"
        "x = datasets.load_binarized_mnist_small('valid')\n"
        "from keras_genmodels import models, presets\n"
        "for name, meta in presets.list_presets().items():\n"
        "    getattr(models, meta['class_name']).from_preset(name)\n"
        "print(json.dumps([list(x.shape), str(x.dtype), int(x.sum())]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target), KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    shape, dtype, total = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = datasets.load_binarized_mnist_small("valid")
    assert shape == [2000, 28, 28, 1] and dtype == "float32"
    assert total == int(expected.sum())
