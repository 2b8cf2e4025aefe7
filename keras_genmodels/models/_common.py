"""Helpers shared by the models: batch unpacking, weighted means, trackers, labels.

``check_int`` is :func:`keras_genmodels._validate.check_int` (defined there so
that layers and kernels can use it too), re-exported for the models. Saving a
``SeedGenerator``'s state with the weights is :mod:`keras_genmodels._seed_state`
(shared with the ``Sampling`` layer).
"""

import contextlib

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._validate import check_int  # noqa: F401  (the models' import path)


def unpack(data):
    """Split a batch into ``(x, y, sample_weight)`` like Keras' own trainer."""
    return keras.utils.unpack_x_y_sample_weight(data)


def weighted_mean(values, sample_weight=None):
    """Mean of per-example ``values``; weighted when ``sample_weight`` is given."""
    values = ops.convert_to_tensor(values)
    if sample_weight is None:
        return ops.mean(values)
    w = ops.cast(ops.reshape(sample_weight, (-1,)), values.dtype)
    return ops.sum(values * w) / ops.maximum(ops.sum(w), 1e-12)


def trackers(*names):
    """One ``keras.metrics.Mean`` per name, in order."""
    return {name: keras.metrics.Mean(name=name) for name in names}


def update(tracker_dict, values):
    """Update the trackers from a dict of scalar values; return their results."""
    for name, tracker in tracker_dict.items():
        if name in values:
            tracker.update_state(values[name])
    return {name: tracker.result() for name, tracker in tracker_dict.items()}


def serialize(obj):
    return keras.saving.serialize_keras_object(obj)


def deserialize(config):
    return keras.saving.deserialize_keras_object(config)


def one_hot_labels(labels, num_classes, n=None):
    """Class labels as the one-hot ``(batch, num_classes)`` float32 tensor fed to the networks.

    The one label encoder of the class-conditional models (``VAE``,
    ``PixelCNN``/``GatedPixelCNN``). Integer labels are checked to lie in
    ``0..num_classes-1`` with ``_backend.check``, so inside ``fit`` a bad
    batch fails the step (and ``fit`` raises ``ValueError``) without
    changing the model.

    Args:
        labels: integer labels ``(batch,)`` or ``(batch, 1)`` (floats with
            integer values are accepted), one-hot or soft labels ``(batch,
            num_classes)`` (non-negative), or, with ``n``, one int for all
            ``n`` examples.
        num_classes: int >= 1, the number of classes.
        n: int or None, the expected number of examples (needed for a
            scalar label; checked otherwise when the batch size is known).

    Returns:
        A float32 tensor ``(batch, num_classes)``.

    Raises:
        ValueError: labels outside ``0..num_classes-1``, non-integer class
            indices, negative one-hot entries, a wrong shape or a wrong
            number of labels.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_genmodels.models._common import one_hot_labels
    >>> ops.convert_to_numpy(one_hot_labels(np.array([2, 0]), 3))
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    >>> tuple(one_hot_labels(1, 3, n=4).shape)
    (4, 3)
    """
    k = num_classes
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        if n is None:
            raise ValueError("A single int label needs the number of examples n.")
        labels = np.full((n,), labels, "int32")
    labels = ops.convert_to_tensor(labels)
    shape = tuple(labels.shape)
    if len(shape) == 2 and shape[-1] == k and not (k == 1 and "int" in str(labels.dtype)):
        y = ops.cast(labels, "float32")
        _backend.check(ops.all(y >= 0), "One-hot / soft labels must be >= 0.")
    elif len(shape) == 1 or (len(shape) == 2 and shape[-1] == 1):
        labels = ops.reshape(labels, (-1,))
        if not keras.backend.standardize_dtype(labels.dtype).startswith(("int", "uint")):
            _backend.check(ops.all(labels == ops.round(labels)),
                           "Class labels must be integers 0..num_classes-1.")
        _backend.check(
            ops.all((labels >= 0) & (labels < k)),
            f"Class labels must be integers in [0, {k - 1}] (num_classes={k}); "
            "a label is out of range.",
        )
        y = ops.one_hot(ops.cast(labels, "int32"), k)
    else:
        raise ValueError(
            f"labels must be integers of shape (batch,) or one-hot (batch, {k}). "
            f"Received: shape={shape}"
        )
    if n is not None and y.shape[0] is not None and y.shape[0] != n:
        raise ValueError(f"Expected {n} labels. Received: shape={shape}")
    return y


def check_example_shape(model, x, expected):
    """``x`` if it is a batch of examples of shape ``expected``, else ``ValueError``.

    ``expected`` is the shape of one example (no batch axis; None entries
    match any size), or None when the model cannot know it (nothing is
    checked). Sizes unknown while a step is traced (Keras relaxes them after
    a first trace) are checked on the data (``_backend.ensure_shape``).
    """
    if expected is None:
        return x
    expected = tuple(expected)
    message = (f"{type(model).__name__} expects inputs of shape (batch,) + {expected}. "
               f"Received: shape={tuple(x.shape)}")
    shape = tuple(x.shape[1:])
    if len(x.shape) != len(expected) + 1 or any(
        s is not None and e is not None and s != e for s, e in zip(shape, expected)
    ):
        raise ValueError(message)
    if any(s is None and e is not None for s, e in zip(shape, expected)):
        x = _backend.ensure_shape(x, (None,) + expected,
                                  message.split(" Received")[0] + " Received another shape.")
    return x


def network_input_shape(network):
    """The example shape of a functional network's first input, or None if unknown."""
    inputs = getattr(network, "inputs", None)
    return tuple(inputs[0].shape[1:]) if inputs else None


def as_float32(x):
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) != "float32":
        x = ops.cast(x, "float32")
    return x


class DataErrorsAsValueError:
    """Mixin for ``keras.Model`` subclasses that validate data in their steps.

    The models check their data (``_backend.check``) inside ``train_step`` /
    ``test_step``; in a compiled step a failed check is a backend assertion
    error. With this mixin first in the bases, ``fit``, ``evaluate``,
    ``train_on_batch`` and ``test_on_batch`` raise ``ValueError(message)``
    instead, as the eager entry points do.

    It also stops ``sample_weight`` from being dropped: Keras silently drops
    it when ``y`` is None. Models that ignore ``y`` (``_ignores_y = True``,
    e.g. the VAE) get ``x`` passed as a placeholder ``y``; others raise
    ``ValueError``.
    """

    _ignores_y = False

    # What ``compile(jit_compile="auto")`` compiles with XLA on a TensorFlow
    # CPU: ``True`` the training step after its data checks, ``"update"`` only
    # the optimizers' updates, ``False`` nothing; or a dict of ``"onednn"`` /
    # ``"no_onednn"`` to one of them, for models whose faster step depends on
    # whether TensorFlow runs its oneDNN kernels (on by default only on
    # AVX-512 VNNI / BF16 and AMX CPUs). Set per model from the measurements
    # of ``bench/train_throughput.py`` (every choice in one process). On a GPU
    # TensorFlow's "auto" compiles the step; JAX always does (Keras); torch
    # never (``torch.compile`` is opt-in, as in Keras).
    xla_on_cpu = False

    def _step_compilation(self, jit_compile):
        """The ``jit_compile`` to pass to Keras' ``compile``; records the model's own choice.

        On TensorFlow a compiled step keeps the data checks outside XLA (XLA
        drops graph assertions) and runs the rest, or only the optimizer
        updates, as XLA functions: see ``_backend.step_compilation``,
        :attr:`xla_step` and :attr:`xla_update`.
        """
        if jit_compile not in ("auto", True, False):
            raise ValueError("jit_compile must be 'auto', True or False. Received: "
                             f"jit_compile={jit_compile!r}")
        choice = self.xla_on_cpu
        choices = list(choice.values()) if isinstance(choice, dict) else [choice]
        if ((isinstance(choice, dict) and set(choice) != {"onednn", "no_onednn"})
                or any(c not in (True, False, "update") for c in choices)):
            raise ValueError(f"{type(self).__name__}.xla_on_cpu must be True, False or 'update', or "
                             "a dict of 'onednn' and 'no_onednn' to one of them. "
                             f"Received: xla_on_cpu={choice!r}")
        keras_jit, self._xla_mode = _backend.step_compilation(self, jit_compile, self.xla_on_cpu)
        return keras_jit

    @property
    def xla_step(self):
        """Whether ``compile`` chose an XLA-compiled training step run after the data checks (TensorFlow)."""
        return getattr(self, "_xla_mode", None) == "step"

    @property
    def xla_update(self):
        """Whether ``compile`` chose XLA-compiled optimizer updates in a plain training step (TensorFlow)."""
        return getattr(self, "_xla_mode", None) == "update"

    def _step_optimizers(self):
        """The optimizers the training step applies (``xla_update`` routes their updates)."""
        return [self.optimizer] if self.optimizer is not None else []

    def _compiled_step(self, step):
        """``step``, as an XLA function (:attr:`xla_step`) or with XLA updates (:attr:`xla_update`)."""
        if self.xla_step:
            return _backend.xla_step(self, step)
        if self.xla_update:
            return _backend.xla_update_step(self, step, self._step_optimizers())
        return step

    def _keep_sample_weight(self, args, kwargs):
        if kwargs.get("sample_weight") is None:
            return args, kwargs
        args = list(args)
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if y is not None or x is None:
            return tuple(args), kwargs
        if not self._ignores_y:
            raise ValueError(
                f"{type(self).__name__} received sample_weight without y; Keras would "
                "silently ignore it. Pass y, or a dataset yielding "
                "(x, y, sample_weight)."
            )
        if len(args) > 1:
            args[1] = x
        elif args:
            kwargs["y"] = x
        else:
            kwargs["y"] = kwargs["x"]
        return tuple(args), kwargs

    @contextlib.contextmanager
    def _step_errors(self):
        try:
            with _backend.data_errors_as_value_error():
                yield
        except _backend.DataError:
            raise  # a batch failed at run time: the compiled step stays valid
        except ValueError:
            # A ValueError raised while a step is traced (e.g. missing labels)
            # leaves Keras' cached tf.function with a failed first trace: the
            # next fit would then refuse to create the optimizer's variables
            # ("Creating variables on a non-first call"). Trace afresh.
            self.train_function = None
            self.test_function = None
            raise

    @staticmethod
    def _stop_on_failed_check(args, kwargs, position):
        # JAX: stop fit/evaluate after the first batch failing a data check
        # (the batch leaves the model unchanged; see _backend.check). Other
        # backends' checks stop the step themselves (no callback).
        if _backend.StopOnFailedCheck is None:
            return args, kwargs
        args, kwargs = list(args), dict(kwargs)
        given = args[position] if len(args) > position else kwargs.get("callbacks")
        if isinstance(given, keras.callbacks.CallbackList):  # fit's own validation pass
            return tuple(args), kwargs
        callbacks = list(given or []) + [_backend.StopOnFailedCheck()]
        if len(args) > position:
            args[position] = callbacks
        else:
            kwargs["callbacks"] = callbacks
        return tuple(args), kwargs

    def fit(self, *args, **kwargs):
        args, kwargs = self._keep_sample_weight(args, kwargs)
        args, kwargs = self._stop_on_failed_check(args, kwargs, 5)  # callbacks=
        with self._step_errors():
            return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        args, kwargs = self._keep_sample_weight(args, kwargs)
        args, kwargs = self._stop_on_failed_check(args, kwargs, 6)  # callbacks=
        with self._step_errors():
            return super().evaluate(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        args, kwargs = self._keep_sample_weight(args, kwargs)
        with self._step_errors():
            return super().train_on_batch(*args, **kwargs)

    def test_on_batch(self, *args, **kwargs):
        args, kwargs = self._keep_sample_weight(args, kwargs)
        with self._step_errors():
            return super().test_on_batch(*args, **kwargs)

    fit.__doc__ = keras.Model.fit.__doc__
    evaluate.__doc__ = keras.Model.evaluate.__doc__
    train_on_batch.__doc__ = keras.Model.train_on_batch.__doc__
    test_on_batch.__doc__ = keras.Model.test_on_batch.__doc__
