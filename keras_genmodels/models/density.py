"""Base class of the explicit-density (fully visible, autoregressive) models."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels import samplers
from keras_genmodels._seed_state import SavesSeedState, call_seed_generator
from keras_genmodels.models import _common
from keras_genmodels.models._trainer import SingleLossModel
from keras_genmodels.presets import PresetMixin


def event_shape_of(input_dim):
    """The event shape named by an ``input_dim`` argument (NADE, MADE, MarkovAR).

    Args:
        input_dim: a positive int ``D`` (flat examples) or a non-empty tuple
            / list of positive ints (an image shape such as ``(28, 28, 1)``).

    Returns:
        A tuple of Python ints: ``(D,)`` or the shape.

    Raises:
        ValueError: for anything else (bools, floats, empty or non-positive
            shapes).

    Example:

    >>> from keras_genmodels.models.density import event_shape_of
    >>> event_shape_of(784)
    (784,)
    >>> event_shape_of([28, 28, 1])
    (28, 28, 1)
    """
    if isinstance(input_dim, (int, np.integer)) and not isinstance(input_dim, bool):
        shape = (int(input_dim),)
    elif isinstance(input_dim, (tuple, list)) and input_dim and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in input_dim
    ):
        shape = tuple(int(d) for d in input_dim)
    else:
        shape = None
    if shape is None or any(d < 1 for d in shape):
        raise ValueError(
            "input_dim must be a positive int or a tuple of positive ints (an image "
            f"shape such as (28, 28, 1)). Received: input_dim={input_dim!r}"
        )
    return shape


class DensityModel(PresetMixin, SavesSeedState, SingleLossModel, keras.Model):
    """An explicit-density model ``p(x) = prod_i p(x_i | x_<i)`` trained by maximum likelihood.

    Subclasses build their network in ``__init__`` and implement:

    - ``call(x, training=False)``: the likelihood parameters of every
      conditional at once (teacher forcing), so that
      ``log_prob = likelihood.log_prob(x, call(x))`` — or override
      ``log_prob_tensor`` when the density is not of that form;
    - ``sample(n, seed=None, verbose=1, ...)``: autoregressive generation.

    The base class gives ``fit``/``evaluate`` with metrics ``loss`` (negative
    log-likelihood in nats per example) and ``bits_per_dim``, data
    validation, ``log_prob``, ``bits_per_dim``, ``score_samples`` and
    ``anomaly_score``.

    Args:
        event_shape: tuple, the shape of one example (no batch axis).
        likelihood: name or ``Likelihood`` of the per-value conditionals.
        seed: int or None, seed of the model's ``SeedGenerator``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras import ops
    >>> from keras_genmodels.models.density import DensityModel
    >>> class IndependentPixels(DensityModel):
    ...     # p(x) = prod_d Bernoulli(x_d; sigmoid(b_d)): no conditional looks back.
    ...     def __init__(self, event_shape, **kwargs):
    ...         super().__init__(event_shape, likelihood="bernoulli", **kwargs)
    ...         self.logits = self.add_weight(shape=self.event_shape, initializer="zeros")
    ...     def call(self, inputs, training=False):
    ...         return ops.zeros_like(inputs) + self.logits
    ...     def sample(self, n, seed=None, verbose=1):
    ...         shape = (n,) + self.event_shape
    ...         u = keras.random.uniform(shape, seed=self.sample_seed_generator(seed))
    ...         return ops.convert_to_numpy(ops.cast(u < ops.sigmoid(self.logits), "float32"))
    >>> model = IndependentPixels((2, 2))
    >>> x = np.tile(np.array([[1, 1], [0, 1]], "float32"), (8, 1, 1))
    >>> model.log_prob(x[:2]).round(4)   # 4 * log(1/2) before training
    array([-2.7726, -2.7726], dtype=float32)
    >>> model.compile(optimizer=keras.optimizers.Adam(0.1))
    >>> history = model.fit(x, epochs=10, batch_size=8, verbose=0)
    >>> sorted(history.history)
    ['bits_per_dim', 'loss']
    >>> bool(model.log_prob(x[:1])[0] > -2.7726)   # training raised the likelihood
    True
    >>> model.bits_per_dim(x[:2]).shape, model.sample(3, seed=0).shape
    ((2,), (3, 2, 2))
    """

    def __init__(self, event_shape, likelihood="bernoulli", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        if any(d < 1 for d in self.event_shape):
            raise ValueError(f"event_shape must be positive. Received: {event_shape}")
        self.likelihood = likelihoods_lib.get(likelihood)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._trackers = _common.trackers("bits_per_dim")

    @property
    def _ignores_y(self):
        # ``fit(x, sample_weight=w)`` keeps ``w`` (see ``_common.DataErrorsAsValueError``);
        # only class-conditional models read ``y``.
        return getattr(self, "num_classes", None) is None

    @property
    def num_dims(self):
        """Number of scalar values per example (for bits per dimension)."""
        return math.prod(self.event_shape)

    # ---------------------------------------------------------- validation
    def _prepare(self, x):
        x = _common.as_float32(x)
        x = _common.check_example_shape(self, x, self.event_shape)
        self.likelihood.validate(x)
        return x

    # ------------------------------------------------------------ density
    def log_prob_tensor(self, x, training=False, condition=None):
        """Per-example exact ``log p(x)`` in nats as a backend tensor (differentiable).

        ``condition`` (from ``_condition_from``) is passed to ``call`` as the
        keyword ``condition`` only when it is not None, so unconditional
        subclasses keep the plain ``call(x, training)`` signature.
        """
        inputs = x if condition is None else (x, condition)
        return -self.nll_terms(x, self(inputs, training=training), training=training)

    def _log_prob_with(self, x, training=False, condition=None):
        if condition is None:
            return self.log_prob_tensor(x, training=training)
        return self.log_prob_tensor(x, training=training, condition=condition)

    def log_prob(self, x, batch_size=256, labels=None):
        """Exact per-example log-likelihood ``log p(x)`` in nats (NumPy ``(n,)``).

        ``labels`` (one per example) are required by conditional models and
        rejected by unconditional ones.
        """
        x = np.asarray(x)
        if labels is not None:
            labels = np.asarray(labels)
            if len(labels) != len(x):
                raise ValueError(
                    f"labels must have one entry per example: {len(x)} examples, "
                    f"received {len(labels)} labels."
                )
        out = []
        for start in range(0, len(x), batch_size):
            xb = self._prepare(x[start:start + batch_size])
            cond = self._condition_from(
                None if labels is None else labels[start:start + batch_size])
            if labels is not None and cond is None:
                raise ValueError(
                    f"{type(self).__name__} is unconditional; log_prob does not take labels."
                )
            out.append(ops.convert_to_numpy(self._log_prob_with(xb, condition=cond)))
        return np.concatenate(out) if out else np.zeros((0,), "float32")

    def _log_prob_labels(self, x, batch_size, labels):
        # Subclasses may override log_prob(x, batch_size) without labels.
        if labels is None:
            return self.log_prob(x, batch_size)
        return self.log_prob(x, batch_size, labels=labels)

    def bits_per_dim(self, x, batch_size=256, labels=None):
        """Per-example negative log-likelihood in bits per dimension."""
        return -self._log_prob_labels(x, batch_size, labels) / (self.num_dims * math.log(2.0))

    def score_samples(self, x, batch_size=256, labels=None):
        """``log p(x)`` per example (scikit-learn convention: lower is more abnormal)."""
        return self._log_prob_labels(x, batch_size, labels)

    def anomaly_score(self, x, batch_size=256, labels=None):
        """``-log p(x)`` per example in nats: higher is more anomalous."""
        return -self._log_prob_labels(x, batch_size, labels)

    # ------------------------------------------------------------ training
    def nll_terms(self, x, params, training=False):
        """Per-example ``-log p(x)`` from the network's outputs ``params = call(x)``.

        Subclasses whose density is not ``likelihood.log_prob(x, call(x))``
        override this (MADE's mask ensemble).
        """
        return -self.likelihood.log_prob(x, params)

    def prepare_batch(self, x, y):
        """Validated images, with the condition from ``y`` for a conditional model."""
        x = self._prepare(x)
        cond = self._condition_from(y)
        return (x if cond is None else (x, cond)), y

    def loss_terms(self, inputs, y_pred, sample_weight=None, training=False):
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        nll = _common.weighted_mean(self.nll_terms(x, y_pred, training=training), sample_weight)
        return {"loss": nll, "bits_per_dim": nll / (self.num_dims * math.log(2.0))}

    def compute_losses(self, x, sample_weight=None, training=False, condition=None):
        """Batch losses as a dict: ``loss`` (NLL plus the layers' losses), ``bits_per_dim``."""
        inputs = x if condition is None else (x, condition)
        terms = self.loss_terms(inputs, self(inputs, training=training), sample_weight,
                                training=training)
        terms["loss"] = self._with_added_losses(terms["loss"])
        return terms

    def _condition_from(self, y):
        """Hook for conditional models: the conditioning input from the labels.

        Called by ``fit``/``evaluate`` with the dataset's ``y`` (None when the
        data yields ``x`` only) and by ``log_prob(x, labels=...)``.
        Unconditional models return None (labels a dataset yields are
        ignored); conditional models override it, return a tensor and raise
        ``ValueError`` when ``y`` is None.
        """
        return None

    def sample(self, n, seed=None, verbose=1):
        raise NotImplementedError

    # ------------------------------------------------ generation (samplers)
    # What ``keras_genmodels.samplers`` reads (see its docstring): the
    # generation order as a raster, and the model's cache layout (defined by
    # the autoregressive subclasses).
    num_params = 1
    sampling_channel_groups = ([0],)

    @property
    def raster_shape(self):
        """``(rows, cols, channels)``: the values in generation order, as the samplers lay them out.

        An image event shape ``(H, W, C)`` is its own raster, ``(H, W)`` is
        ``(H, W, 1)``, and any other shape is ``D`` rows of one value (the
        progress bar of ``verbose=1`` counts rows).
        """
        shape = self.event_shape
        if len(shape) == 3:
            return shape
        if len(shape) == 2:
            return shape + (1,)
        return (self.num_dims, 1, 1)

    def raster_index(self, i, j):
        """The generation step of raster position ``(i, j)``: ``i * cols + j`` (the value's index)."""
        return i * self.raster_shape[1] + j

    def to_raster(self, t):
        """Values (or one parameter per value) in the layout of ``call`` -> ``(n, rows, cols, C)``."""
        return ops.reshape(t, (ops.shape(t)[0],) + tuple(self.raster_shape[:2]) + (-1,))

    def from_raster(self, t):
        """The inverse of :meth:`to_raster`: ``(n, rows, cols, C)`` -> the layout of ``call``."""
        if len(self.event_shape) == 3:
            return ops.reshape(t, (ops.shape(t)[0],) + self.event_shape[:-1] + (-1,))
        return ops.reshape(t, (ops.shape(t)[0],) + self.event_shape)

    def generate(self, n, seed=None, verbose=1, method="cached", condition=None):
        """``n`` samples through ``keras_genmodels.samplers`` (``sample``'s shared body).

        Args:
            n: int >= 1.
            seed: int or None.
            verbose: 0 or 1.
            method: ``"cached"`` (the model's caches, one compiled loop) or
                ``"naive"`` (one full forward pass per step, the reference).
            condition: the conditioning tensor of a class-conditional model, or None.

        Returns:
            NumPy ``float32`` ``(n,) + event_shape``.

        Raises:
            ValueError: for a non-positive ``n``, a bad ``seed`` or an unknown ``method``.
        """
        _common.check_int("n", n)
        samplers.check_method(method)
        sampler = samplers.cached_sample if method == "cached" else samplers.naive_sample
        return sampler(self, n, seed=seed, verbose=verbose, condition=condition)

    def sample_seed_generator(self, seed=None):
        """The ``SeedGenerator`` a ``sample(n, seed=seed)`` call draws from.

        Args:
            seed: int or None. An int gives a fresh generator seeded with it
                (the same int, the same samples); None gives the model's own
                ``seed_generator`` (advanced by every call).

        Returns:
            A ``keras.random.SeedGenerator``.

        Raises:
            ValueError: when ``seed`` is neither an int nor None.

        Example:

        >>> import keras
        >>> from keras_genmodels.models import MarkovAR
        >>> model = MarkovAR(4, order=1, seed=0)
        >>> model.sample_seed_generator() is model.seed_generator
        True
        >>> isinstance(model.sample_seed_generator(7), keras.random.SeedGenerator)
        True
        >>> a, b = model.sample(3, seed=7, verbose=0), model.sample(3, seed=7, verbose=0)
        >>> bool((a == b).all())   # the same int seed, the same samples
        True
        """
        if seed is None:
            return self.seed_generator
        return call_seed_generator(_common.check_int("seed", seed, minimum=None))

    def get_config(self):
        config = super().get_config()
        config.update({
            "event_shape": self.event_shape,
            "likelihood": likelihoods_lib.serialize(self.likelihood),
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["likelihood"] = likelihoods_lib.get(config["likelihood"])
        return cls(**config)
