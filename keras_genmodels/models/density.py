"""Base class of the explicit-density (fully visible, autoregressive) models."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels.models import _common


class DensityModel(keras.Model):
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
        self._trackers = _common.trackers("loss", "bits_per_dim")

    @property
    def num_dims(self):
        """Number of scalar values per example (for bits per dimension)."""
        return math.prod(self.event_shape)

    @property
    def metrics(self):
        return list(self._trackers.values())

    # ---------------------------------------------------------- validation
    def _prepare(self, x):
        x = _common.as_float32(x)
        shape = tuple(x.shape[1:])
        if len(x.shape) != len(self.event_shape) + 1 or any(
            s is not None and s != e for s, e in zip(shape, self.event_shape)
        ):
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch,) + "
                f"{self.event_shape}. Received: shape={tuple(x.shape)}"
            )
        self.likelihood.validate(x)
        return x

    # ------------------------------------------------------------ density
    def log_prob_tensor(self, x, training=False, condition=None):
        """Per-example exact ``log p(x)`` in nats as a backend tensor (differentiable).

        ``condition`` (from ``_condition_from``) is passed to ``call`` as the
        keyword ``condition`` only when it is not None, so unconditional
        subclasses keep the plain ``call(x, training)`` signature.
        """
        if condition is None:
            params = self(x, training=training)
        else:
            params = self(x, condition=condition, training=training)
        return self.likelihood.log_prob(x, params)

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
    def compute_losses(self, x, sample_weight=None, training=False, condition=None):
        nll = _common.weighted_mean(
            -self._log_prob_with(x, training=training, condition=condition), sample_weight)
        loss = nll
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(l, loss.dtype) for l in self.losses]))
        return {"loss": loss, "nll": nll,
                "bits_per_dim": nll / (self.num_dims * math.log(2.0))}

    def _condition_from(self, y):
        """Hook for conditional models: the conditioning input from the labels.

        Called by ``train_step``/``test_step`` with the dataset's ``y`` (None
        when the data yields ``x`` only) and by ``log_prob(x, labels=...)``.
        Unconditional models return None (labels a dataset yields are
        ignored); conditional models override it, return a tensor and raise
        ``ValueError`` when ``y`` is None.
        """
        return None

    def _conditioned_losses(self, x, y, sample_weight, training):
        cond = self._condition_from(y)
        if cond is None:
            return self.compute_losses(x, sample_weight, training=training)
        return self.compute_losses(x, sample_weight, training=training, condition=cond)

    @_backend.keras_step("train")
    def train_step(self, data):
        x, y, sample_weight = _common.unpack(data)
        x = self._prepare(x)

        def loss_fn():
            values = self._conditioned_losses(x, y, sample_weight, True)
            return values["loss"], values

        _, values = _backend.minimize(self.optimizer, loss_fn, self.trainable_weights)
        return _common.update(self._trackers, values)

    @_backend.keras_step("test")
    def test_step(self, data):
        x, y, sample_weight = _common.unpack(data)
        x = self._prepare(x)
        return _common.update(self._trackers, self._conditioned_losses(x, y, sample_weight, False))

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
