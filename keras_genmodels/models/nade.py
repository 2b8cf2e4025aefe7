"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray, 2011)."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels._api import register
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.models.density import event_shape_of
from keras_genmodels.models.density import numpy_activation
from keras_genmodels.models.density import numpy_sigmoid
from keras_genmodels.models.density import sampling_progbar


def _cumsum_prefix_sums(x, w):
    """Reference: ``cumsum_d x[:, d] w[d]`` as one ``(batch, D, H)`` product and one cumsum."""
    return ops.cumsum(x[:, :, None] * w[None], axis=1)


def _blocked_prefix_sums(x, w):
    """``cumsum_d x[:, d] w[d]`` by blocks of ``B ~ sqrt(D)`` positions (the fast path).

    The inclusive prefix sum at position ``k B + i`` is the exclusive sum of
    the earlier blocks' totals (``x_k @ w_k``, a cumsum over ``K = D / B``
    blocks only) plus the in-block part ``sum_{j <= i} x[kB + j] w[kB + j]``,
    one lower-triangular-masked matrix product per block. No ``(batch, D, H)``
    elementwise product or cumsum is formed before the result itself, which
    is the memory-bound part of the reference (``_cumsum_prefix_sums``).
    ``D`` is padded with zeros to a multiple of ``B``.
    """
    d, h = x.shape[1], w.shape[1]
    block = int(math.ceil(math.sqrt(d)))
    k = -(-d // block)
    if k * block != d:
        x = ops.pad(x, [[0, 0], [0, k * block - d]])
        w = ops.pad(w, [[0, k * block - d], [0, 0]])
    xb = ops.transpose(ops.reshape(x, (-1, k, block)), (1, 0, 2))      # (K, n, B)
    wb = ops.reshape(w, (k, block, h))                                 # (K, B, H)
    totals = ops.matmul(xb, wb)                                        # (K, n, H)
    earlier = ops.cumsum(totals, axis=0) - totals
    lower = ops.convert_to_tensor(np.tril(np.ones((block, block), "float32")), x.dtype)
    masked = ops.reshape(xb[:, :, None, :] * lower, (k, -1, block))   # (K, n B, B)
    within = ops.reshape(ops.matmul(masked, wb), (k, -1, block, h))    # (K, n, B, H)
    a = ops.transpose(within + earlier[:, :, None, :], (1, 0, 2, 3))
    return ops.reshape(a, (-1, k * block, h))[:, :d]


# What implementation="auto" picks, per backend, from bench/nade_step.py (training
# step images/s at D = 784, H = 500, batch 100, on a 2-core CPU).
_AUTO_IMPLEMENTATION = {"tensorflow": "blocked", "jax": "blocked", "torch": "blocked"}


@register
class NADE(DensityModel):
    """Neural Autoregressive Distribution Estimator for binary data.

    The ``D`` binary values of an example are taken in raster order (the
    example is flattened; an image shape such as ``(28, 28, 1)`` is accepted)
    and modelled as ``p(x) = prod_d p(x_d | x_<d)`` with

    ``h_d = sigmoid(c + sum_{j<d} x_j W[j])`` and
    ``p(x_d = 1 | x_<d) = sigmoid(b_d + V[d] . h_d)``

    (``W`` and ``V`` are ``(D, H)`` variables, ``c`` is ``(H,)``, ``b`` is
    ``(D,)``). The hidden weights are shared between the conditionals, so all
    ``D`` pre-activations ``a_d = c + sum_{j<d} x_j W[j]`` come from one
    exclusive cumulative sum over ``d`` of ``x_d W[d]``: ``O(D H)`` per
    example instead of ``O(D^2 H)``. The
    exact log-likelihood is evaluated from the logits with the softplus form
    ``log p(x_d | x_<d) = -softplus(-l_d) - (1 - x_d) l_d``.

    Sampling keeps the running pre-activation ``a`` (``O(D H)`` per sample):
    ``a = c; for d: h = sigmoid(a); x_d ~ Bernoulli(sigmoid(b_d + V[d] . h));
    a += x_d W[d]``.

    Args:
        input_dim: int ``D`` or a tuple (the shape of one example, e.g.
            ``(28, 28, 1)``); inputs must have exactly this shape.
        hidden_units: int ``H`` > 0, hidden units per conditional (500 in the
            paper).
        activation: hidden activation (default ``"sigmoid"`` as in the paper).
        kernel_initializer: initializer of ``W`` and ``V``.
        seed: int or None, seed of the model's ``SeedGenerator`` (sampling).
        implementation: how the ``D`` pre-activations are summed:
            ``"cumsum"`` (the reference: one ``(batch, D, H)`` product and one
            cumulative sum, memory-bound), ``"blocked"`` (prefix sums over
            blocks of ``~sqrt(D)`` positions plus one masked matrix product per
            block; the same values to float rounding) or ``"auto"`` (default:
            the one measured faster on the running backend, ``"blocked"`` on
            all three).
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: an invalid argument, or data that is not binary / has the
            wrong shape (``fit``, ``evaluate``, ``log_prob``).

    Example:

    >>> import itertools
    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import NADE
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(32, 2, 2)) < 0.5).astype("float32")  # 2 x 2 binary images
    >>> nade = NADE((2, 2), hidden_units=8, seed=0)
    >>> nade.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = nade.fit(x_train, epochs=2, batch_size=16, verbose=0)  # loss: nats/example
    >>> nade.log_prob(x_train[:3]).shape   # (n,) exact log-likelihoods in nats
    (3,)
    >>> # Exactly normalised: the probabilities of all 2^4 images sum to one.
    >>> every_image = np.array(list(itertools.product([0, 1], repeat=4)), "float32")
    >>> round(float(np.exp(nade.log_prob(every_image.reshape(16, 2, 2))).sum()), 4)
    1.0
    >>> images = nade.sample(5, seed=0, verbose=0)
    >>> images.shape, bool(np.isin(images, [0.0, 1.0]).all())
    ((5, 2, 2), True)

    References:
        Larochelle & Murray, "The Neural Autoregressive Distribution
        Estimator", AISTATS 2011.
        Uria, Cote, Gregor, Murray & Larochelle, "Neural Autoregressive
        Distribution Estimation", JMLR 2016.
    """

    def __init__(self, input_dim, hidden_units=500, activation="sigmoid",
                 kernel_initializer="glorot_uniform", seed=None, implementation="auto",
                 **kwargs):
        kwargs.pop("event_shape", None)
        kwargs.pop("likelihood", None)
        event_shape = event_shape_of(input_dim)
        super().__init__(event_shape, likelihood="bernoulli", seed=seed, **kwargs)
        self.input_dim = event_shape[0] if isinstance(input_dim, (int, np.integer)) else event_shape
        self.hidden_units = _common.check_int("hidden_units", hidden_units)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if implementation not in ("auto", "blocked", "cumsum"):
            raise ValueError("implementation must be 'auto', 'blocked' or 'cumsum'. Received: "
                             f"implementation={implementation!r}")
        self.implementation = implementation
        self._implementation = (_AUTO_IMPLEMENTATION.get(keras.backend.backend(), "blocked")
                                if implementation == "auto" else implementation)
        d, h = self.num_dims, self.hidden_units
        self.W = self.add_weight(name="W", shape=(d, h), initializer=self.kernel_initializer)
        self.c = self.add_weight(name="c", shape=(h,), initializer="zeros")
        self.V = self.add_weight(name="V", shape=(d, h), initializer=self.kernel_initializer)
        self.b = self.add_weight(name="b", shape=(d,), initializer="zeros")
        self.built = True

    def call(self, inputs, training=False):
        """Logits of every conditional ``p(x_d = 1 | x_<d)``, in the shape of ``inputs``."""
        x = ops.reshape(ops.cast(inputs, self.W.dtype), (-1, self.num_dims))
        # a_d = c + sum_{j<d} x_j W[j] is an inclusive cumsum over d of
        # x'_d W'[d] with the shifted x' = (1, x_0, ..., x_{D-2}) and
        # W' = (c, W[0], ..., W[D-2]).
        x_shift = ops.concatenate([ops.ones_like(x[:, :1]), x[:, :-1]], axis=1)
        w_shift = ops.concatenate([self.c[None], self.W[:-1]], axis=0)
        if self._implementation == "blocked":
            a = _blocked_prefix_sums(x_shift, w_shift)
        else:
            a = _cumsum_prefix_sums(x_shift, w_shift)
        logits = ops.einsum("ndh,dh->nd", self.activation(a), self.V) + self.b
        return ops.reshape(logits, (-1,) + self.event_shape)

    def sample(self, n, seed=None, verbose=1):
        """Draw ``n`` examples by ancestral sampling in raster order.

        Args:
            n: int, number of samples.
            seed: int or None. The same int gives the same samples; None
                draws from the model's ``SeedGenerator``.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over pixels).

        Returns:
            float32 NumPy array ``(n,) + event_shape`` of 0/1 values.
        """
        _common.check_int("n", n)
        gen = self.sample_seed_generator(seed)
        bar = sampling_progbar(self.num_dims, verbose)
        # All uniforms in one draw from the SeedGenerator; the D tiny sequential
        # steps then run in NumPy on the host, where per-op dispatch of a
        # backend would dominate their cost.
        u = ops.convert_to_numpy(keras.random.uniform((n, self.num_dims), seed=gen))
        W, c, V, b = (ops.convert_to_numpy(t) for t in (self.W, self.c, self.V, self.b))
        activation = numpy_activation(self.activation)
        a = np.broadcast_to(c, (n, self.hidden_units)).astype("float32")
        x = np.zeros((n, self.num_dims), "float32")
        for d in range(self.num_dims):
            logit = activation(a) @ V[d] + b[d]
            x[:, d] = u[:, d] < numpy_sigmoid(logit)
            a = a + x[:, d:d + 1] * W[d]
            if bar is not None:
                bar.update(d + 1)
        return x.reshape((n,) + self.event_shape)

    def get_config(self):
        config = super().get_config()
        for key in ("event_shape", "likelihood"):
            config.pop(key, None)
        config.update({
            "input_dim": self.input_dim,
            "hidden_units": self.hidden_units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "implementation": self.implementation,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("input_dim"), list):
            config["input_dim"] = tuple(config["input_dim"])
        return cls(**config)

