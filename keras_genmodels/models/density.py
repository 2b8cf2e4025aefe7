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
    def log_prob_tensor(self, x, training=False):
        """Per-example exact ``log p(x)`` in nats as a backend tensor (differentiable)."""
        return self.likelihood.log_prob(x, self(x, training=training))

    def log_prob(self, x, batch_size=256):
        """Exact per-example log-likelihood ``log p(x)`` in nats (NumPy ``(n,)``)."""
        x = np.asarray(x)
        out = []
        for start in range(0, len(x), batch_size):
            xb = self._prepare(x[start:start + batch_size])
            out.append(ops.convert_to_numpy(self.log_prob_tensor(xb)))
        return np.concatenate(out) if out else np.zeros((0,), "float32")

    def bits_per_dim(self, x, batch_size=256):
        """Per-example negative log-likelihood in bits per dimension."""
        return -self.log_prob(x, batch_size) / (self.num_dims * math.log(2.0))

    def score_samples(self, x, batch_size=256):
        """``log p(x)`` per example (scikit-learn convention: lower is more abnormal)."""
        return self.log_prob(x, batch_size)

    def anomaly_score(self, x, batch_size=256):
        """``-log p(x)`` per example in nats: higher is more anomalous."""
        return -self.log_prob(x, batch_size)

    # ------------------------------------------------------------ training
    def compute_losses(self, x, sample_weight=None, training=False):
        nll = _common.weighted_mean(-self.log_prob_tensor(x, training=training), sample_weight)
        loss = nll
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(l, loss.dtype) for l in self.losses]))
        return {"loss": loss, "nll": nll,
                "bits_per_dim": nll / (self.num_dims * math.log(2.0))}

    def _condition_from(self, y):
        """Hook for conditional models: the conditioning input from the labels."""
        return None

    def train_step(self, data):
        x, _, sample_weight = _common.unpack(data)
        x = self._prepare(x)

        def loss_fn():
            values = self.compute_losses(x, sample_weight, training=True)
            return values["loss"], values

        _, values = _backend.minimize(self.optimizer, loss_fn, self.trainable_weights)
        return _common.update(self._trackers, values)

    def test_step(self, data):
        x, _, sample_weight = _common.unpack(data)
        x = self._prepare(x)
        return _common.update(self._trackers, self.compute_losses(x, sample_weight))

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
