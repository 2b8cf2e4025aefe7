"""Base class of the explicit-density (fully visible, autoregressive) models."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels.models import _common
from keras_genmodels.models._trainer import SingleLossModel
from keras_genmodels.presets import PresetMixin


class DensityModel(PresetMixin, _common.SavesSeedState, SingleLossModel, keras.Model):
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
