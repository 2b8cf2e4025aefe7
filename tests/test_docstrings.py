"""The docstring examples run, and every public class and function has one.

Every module of the package (``keras_genmodels`` and the kernels installed as
``keras_genmodels.kernels``) is found with ``pkgutil.walk_packages``, so a
module added later is covered automatically. Backend-specific modules (the
``_backend`` implementation and the kernels' ``_tensorflow`` helpers) are
collected only for the backend that is running: importing
``keras_genmodels._backend.jax`` under TensorFlow would import JAX.

``test_docstring_examples_run`` runs each module's ``>>>`` examples with
``doctest`` (one test per module). Each docstring runs in an empty namespace,
not in its module's globals, so an example passes only when it imports
everything it uses (``from keras_genmodels.models import VAE``), the way a
reader copying it would have to.

``test_every_public_object_has_an_example`` checks that every public class
and function defined in a public module (no underscore anywhere in its
dotted name; re-exports are checked where they are defined) has at least one
``>>>`` line in its docstring (under TensorFlow only: the answer is the same
on every backend).
"""

import doctest
import importlib
import inspect
import pkgutil

import keras
import pytest

import keras_genmodels
import keras_genmodels.kernels

BACKEND = keras.backend.backend()
BACKEND_PACKAGES = ("keras_genmodels._backend", "keras_genmodels.kernels")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Modules whose public objects have no examples yet, with the reason; each is
# an xfail(strict=True), so it fails (XPASS) once the examples are written and
# the entry has to go.
MISSING_EXAMPLES = {}


def backend_of(name):
    """The backend a module is specific to (``"tensorflow"`` ...), or None."""
    package, _, leaf = name.rpartition(".")
    if package in BACKEND_PACKAGES:
        leaf = leaf.lstrip("_")
        if leaf in ("tensorflow", "jax", "torch"):
            return leaf
    return None


def module_names():
    names = []
    for package in (keras_genmodels, keras_genmodels.kernels):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if backend_of(info.name) not in (None, BACKEND):
                continue
            names.append(info.name)
    return sorted(names)


MODULES = module_names()
PUBLIC_MODULES = [name for name in MODULES
                  if not any(part.startswith("_") for part in name.split("."))]


@pytest.mark.all_backends
def test_the_walk_finds_the_modules():
    assert {"keras_genmodels.models.vae", "keras_genmodels.kernels.masked_conv",
            "keras_genmodels.metrics.features", "keras_genmodels._backend",
            f"keras_genmodels._backend.{BACKEND}"} <= set(MODULES)
    others = {"tensorflow", "jax", "torch"} - {BACKEND}
    assert not {f"keras_genmodels._backend.{b}" for b in others} & set(MODULES)
    # The presets' data folders (config.json, weights) are not packages.
    assert not [name for name in MODULES if name.startswith("keras_genmodels.presets.")]


@pytest.mark.all_backends
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(module, name, globs={"__name__": name})
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report = []
    for test in sorted(tests, key=lambda t: t.name):
        if test.examples:
            runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def public_objects(module):
    for attr, obj in inspect.getmembers(module):
        if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) == module.__name__:
            yield f"{module.__name__}.{attr}", obj


# TensorFlow only: which objects have a ``>>>`` line does not depend on the backend
# (PUBLIC_MODULES holds no backend-specific module), and every module is imported on
# every backend by test_docstring_examples_run above.
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=MISSING_EXAMPLES[name], strict=True))
    if name in MISSING_EXAMPLES else name
    for name in PUBLIC_MODULES
])
def test_every_public_object_has_an_example(name):
    module = importlib.import_module(name)
    missing = [key for key, obj in public_objects(module) if ">>>" not in (obj.__doc__ or "")]
    assert not missing, "No >>> example in the docstring of:\n" + "\n".join(missing)
