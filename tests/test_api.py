"""Public API checks: every public class is registered for Keras serialization.

The class list is built by iterating over the public modules, so classes the
package adds later are covered automatically. Each check runs over all
classes in one test and reports every offender at once.
"""

import inspect

import keras

import keras_genmodels
from keras_genmodels import layers
from keras_genmodels import likelihoods
from keras_genmodels import models

PUBLIC_MODULES = (layers, models, likelihoods)


def public_classes():
    """``{"module.Name": cls}`` for the package's classes under public names."""
    found = {}
    for module in PUBLIC_MODULES:
        for name in dir(module):
            if name.startswith("_"):
                continue
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("keras_genmodels"):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_the_public_modules_expose_the_foundation():
    names = {key.rsplit(".", 1)[1] for key in public_classes()}
    assert {"MaskedConv2D", "Sampling", "KLDivergenceRegularizer", "KLDivergence", "VAE",
            "Bernoulli", "Gaussian", "Likelihood"} <= names
    assert keras_genmodels.layers is layers
    assert keras_genmodels.models is models
    assert keras_genmodels.likelihoods is likelihoods
    assert isinstance(keras_genmodels.__version__, str)


def registration_problems():
    problems = []
    for key, cls in public_classes().items():
        registered = keras.saving.get_registered_name(cls)
        if registered != f"keras_genmodels>{cls.__name__}":
            problems.append(f"{key}: registered name {registered!r}")
        elif keras.saving.get_registered_object(registered) is not cls:
            problems.append(f"{key}: {registered!r} resolves to another object")
    return problems


def test_every_public_class_is_registered():
    problems = registration_problems()
    assert not problems, "Not registered with keras_genmodels._api.register:\n" + "\n".join(
        problems)


def test_the_registration_check_catches_a_new_unregistered_class(monkeypatch):
    class NewLayer(keras.layers.Layer):
        """A layer someone forgot to register."""

    NewLayer.__module__ = "keras_genmodels.layers.new_layer"
    monkeypatch.setattr(layers, "NewLayer", NewLayer, raising=False)
    assert registration_problems() == [
        "keras_genmodels.layers.NewLayer: registered name 'NewLayer'"]


def test_every_public_class_is_documented():
    problems = []
    for key, cls in public_classes().items():
        doc = inspect.getdoc(cls) or ""
        if len(doc.splitlines()[0] if doc else "") < 10:
            problems.append(f"{key}: no one-line summary")
        if issubclass(cls, (keras.layers.Layer, keras.regularizers.Regularizer)):
            for section in ("Args:", "Example"):
                if section not in doc:
                    problems.append(f"{key}: docstring lacks {section!r}")
    assert not problems, "\n".join(problems)


def test_every_public_class_with_arguments_has_get_config():
    problems = []
    for key, cls in public_classes().items():
        if cls is likelihoods.Likelihood:
            continue  # abstract base
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        own = any("get_config" in vars(c) for c in cls.__mro__
                  if c.__module__.startswith("keras_genmodels"))
        if params and not own:
            problems.append(f"{key} takes {[p.name for p in params]} but defines no get_config")
    assert not problems, "\n".join(problems)
