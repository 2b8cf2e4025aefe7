"""MarkovAR: an order-k autoregressive (Markov chain) baseline for binary data."""

import keras
import numpy as np
from keras import ops

from keras_genmodels._api import register
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.models.density import event_shape_of
from keras_genmodels.samplers import buffers


@register
class MarkovAR(DensityModel):
    """Order-``k`` Markov chain over the values in raster order: a logistic regression per value.

    The example is flattened (raster order) and each value ``x_d`` is
    predicted from the ``k`` values just before it only:

    ``p(x_d = 1 | x_<d) = sigmoid(b_d + sum_{j=1..min(k, d)} w[d, j-1] x_{d-j})``

    with a separate bias and weight vector per position (``b`` is ``(D,)``,
    ``w`` is ``(D, k)``; weights that would reach before the first value are
    unused). ``order=0`` is the fully factorised model
    ``p(x) = prod_d Bernoulli(x_d; sigmoid(b_d))``; ``order=width`` lets each
    pixel see the previous row's worth of values (including the pixel
    above). It uses the same machinery as ``NADE``/``MADE`` (``fit``,
    ``log_prob``, ``bits_per_dim``, ``sample``, anomaly scores), so comparing
    their likelihoods shows what a long-range chain-rule model buys over a
    short context.

    Args:
        input_dim: int ``D`` or a tuple (the shape of one example).
        order: int ``k >= 0``, the number of preceding values each value
            sees (must be < D).
        seed: int or None, seed of the model's ``SeedGenerator`` (sampling).
        **kwargs: ``keras.Model`` arguments.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import MarkovAR
    >>> rows = np.random.default_rng(0).integers(0, 2, size=(256, 1, 4))
    >>> x_train = np.repeat(rows, 4, axis=1).astype("float32")   # every row equals the first
    >>> iid = MarkovAR((4, 4), order=0)    # fully factorised
    >>> ar = MarkovAR((4, 4), order=4)     # one row of context: sees the pixel above
    >>> for model in (iid, ar):
    ...     model.compile(optimizer=keras.optimizers.Adam(0.1))
    ...     _ = model.fit(x_train, epochs=1, batch_size=16, verbose=0)
    >>> bool(ar.log_prob(x_train).mean() > iid.log_prob(x_train).mean())   # context helps
    True
    >>> ar.bits_per_dim(x_train[:2]).shape, ar.sample(3, seed=0, verbose=0).shape
    ((2,), (3, 4, 4))

    References:
        Frey, "Graphical Models for Machine Learning and Digital
        Communication", MIT Press 1998 (logistic autoregressive belief
        networks); Bengio & Bengio, "Modeling High-Dimensional Discrete Data
        with Multi-Layer Neural Networks", NIPS 2000.
    """

    def __init__(self, input_dim, order=1, seed=None, **kwargs):
        kwargs.pop("event_shape", None)
        kwargs.pop("likelihood", None)
        event_shape = event_shape_of(input_dim)
        super().__init__(event_shape, likelihood="bernoulli", seed=seed, **kwargs)
        self.input_dim = event_shape[0] if isinstance(input_dim, (int, np.integer)) else event_shape
        self.order = _common.check_int("order", order, minimum=0)
        if self.order >= self.num_dims and self.order > 0:
            raise ValueError(
                f"order must be smaller than the number of values D={self.num_dims}. "
                f"Received: order={order}"
            )
        self.b = self.add_weight(name="b", shape=(self.num_dims,), initializer="zeros")
        self.w = None
        if self.order:
            self.w = self.add_weight(name="w", shape=(self.num_dims, self.order),
                                     initializer="zeros")
        self.built = True

    def _context(self, x):
        """``(batch, D, k)``: entry ``[:, d, j]`` is ``x_{d-1-j}`` (0 before the start)."""
        d = self.num_dims
        shifted = [
            ops.concatenate([ops.zeros_like(x[:, :j]), x[:, : d - j]], axis=1)
            for j in range(1, self.order + 1)
        ]
        return ops.stack(shifted, axis=-1)

    def call(self, inputs, training=False):
        """Logits of every conditional, in the shape of ``inputs``."""
        # compute_dtype: under mixed precision the weights are read as float16
        # / bfloat16 here; the likelihood computes the log-probability in float32.
        x = ops.reshape(ops.cast(inputs, self.compute_dtype), (-1, self.num_dims))
        logits = ops.broadcast_to(self.b, ops.shape(x))
        if self.order:
            logits = logits + ops.sum(self._context(x) * self.w[None], axis=-1)
        return ops.reshape(logits, (-1,) + self.event_shape)

    def sample(self, n, seed=None, verbose=1, method="cached"):
        """Draw ``n`` examples by ancestral sampling in raster order.

        Args:
            n: int, number of samples.
            seed: int or None; the same int gives the same samples.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar``).
            method: ``"cached"`` (default: the last ``order`` values in a
                buffer, one compiled loop) or ``"naive"`` (one full forward
                pass per value, the reference); the same int seed gives the
                same samples.

        Returns:
            float32 NumPy array ``(n,) + event_shape`` of 0/1 values.

        Raises:
            ValueError: for a non-positive ``n``, a bad ``seed`` or an unknown ``method``.

        Example:

        >>> from keras_genmodels.models import MarkovAR
        >>> model = MarkovAR(5, order=2, seed=0)
        >>> model.sample(3, seed=1, verbose=0).shape
        (3, 5)
        """
        return self.generate(n, seed=seed, verbose=verbose, method=method)

    # ---------------------------------------------------------- cache layout
    # The values so far, left-padded with ``order`` zeros: value d reads
    # b[d] + sum_j w[d, j - 1] x_{d-j}, the ``order`` entries before it.
    def cache_weights(self):
        """``b`` and ``w`` as float32 tensors (``w`` None for order 0)."""
        return {"b": ops.convert_to_tensor(self.b, "float32"),
                "w": None if self.w is None else ops.convert_to_tensor(self.w, "float32")}

    def build_cache(self, n):
        """The values so far ``(n, order + D)`` (the first ``order`` columns stay zero)."""
        return {"x": buffers.zeros(n, self.order + self.num_dims)}

    def cache_row_start(self, weights, cache, i, condition):
        del condition  # unconditional
        return cache, None

    def call_with_cache(self, weights, cache, context, i, j):
        """The logit ``(n, 1)`` of the next value."""
        d = self.raster_index(i, j)
        logit = ops.take(weights["b"], d) + ops.zeros((cache["x"].shape[0],), "float32")
        if self.order:
            z = ops.zeros_like(d)
            # x_{d-order} .. x_{d-1}, reversed to x_{d-1} .. x_{d-order} (w[d, 0] .. w[d, order-1]).
            window = ops.flip(ops.slice(cache["x"], (z, d), (cache["x"].shape[0], self.order)), 1)
            logit = logit + ops.sum(window * ops.take(weights["w"], d, axis=0)[None], axis=-1)
        return logit[:, None], cache

    def cache_write(self, weights, cache, context, i, j, values):
        d = self.raster_index(i, j)
        z = ops.zeros_like(d)
        return {"x": ops.slice_update(cache["x"], (z, d + self.order), values)}

    def cache_row_end(self, weights, cache, context, i):
        return cache

    def get_config(self):
        config = super().get_config()
        for key in ("event_shape", "likelihood"):
            config.pop(key, None)
        config.update({"input_dim": self.input_dim, "order": self.order})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("input_dim"), list):
            config["input_dim"] = tuple(config["input_dim"])
        return cls(**config)
