"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray, 2011)."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels._api import register
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.models.density import event_shape_of
from keras_genmodels.samplers import buffers


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


def _fused_sigmoid_logits(x, w, v, block=None, columns=None):
    """``sum_h sigmoid(cumsum_d x[:, d] w[d])[:, d, h] v[d, h]`` by tiles (the fast path).

    The same blocks of ``B`` positions as ``_blocked_prefix_sums``, and the
    ``H`` hidden units in groups of ``columns``: each tile's pre-activations
    ``(batch, B, columns)`` are made, squashed and reduced against ``v``
    before the next tile's, and the custom gradient recomputes them tile by
    tile instead of keeping them. The ``(batch, D, H)`` activations are never
    written to memory, only tiles small enough to stay in a CPU core's cache
    (the reference formulations are memory-bound). With ``s = sigmoid(a)``
    and the upstream gradient ``g`` of the logits: ``dv[d] = sum_n g[n, d]
    s[n, d]``, ``da = g v s (1 - s)``, and the prefix sum's transpose (a
    suffix sum of ``da``, blocked the same way) gives ``dw`` and ``dx``.

    Args:
        x: ``(batch, D)`` shifted inputs.
        w: ``(D, H)`` shifted hidden weights.
        v: ``(D, H)`` output weights.
        block: positions per block (default ``_FUSED_BLOCK``, at most ``D``).
        columns: hidden units per tile (default ``_FUSED_COLUMNS``).

    Returns:
        ``(batch, D)`` logits less the output bias.
    """
    d, h = x.shape[1], w.shape[1]
    block = min(block or _FUSED_BLOCK, d)
    columns = min(columns or _FUSED_COLUMNS, h)
    k = -(-d // block)
    pad = k * block - d
    if pad:
        x = ops.pad(x, [[0, 0], [0, pad]])
        w = ops.pad(w, [[0, pad], [0, 0]])
        v = ops.pad(v, [[0, pad], [0, 0]])
    lower = ops.convert_to_tensor(np.tril(np.ones((block, block), "float32")), x.dtype)

    @ops.custom_gradient
    def tile_logits(xb, wb, vb):
        """``(n, K B)`` logits of one group of hidden units; ``wb``, ``vb``: ``(K, B, c)``."""
        c = wb.shape[-1]
        masked = ops.reshape(xb[:, :, None, :] * lower, (k, -1, block))   # (K, n B, B)
        earlier = ops.cumsum(ops.matmul(xb, wb), axis=0)                   # (K, n, c) inclusive

        def activations(i):
            """Block ``i``'s sigmoid activations ``(n, B, c)``."""
            a = ops.reshape(ops.matmul(masked[i], wb[i]), (-1, block, c))
            if i:
                a = a + earlier[i - 1][:, None, :]
            return ops.sigmoid(a)

        logits = ops.concatenate(
            [ops.sum(activations(i) * vb[i], axis=-1) for i in range(k)], axis=1)

        def grad(*args, upstream=None):
            g = args[0] if upstream is None else upstream
            gb = ops.transpose(ops.reshape(g, (-1, k, block)), (1, 0, 2))[..., None]  # (K,n,B,1)
            dw_in, dx_in, dv, da_sums = [], [], [], []
            for i in range(k):
                s = activations(i)
                gs = gb[i] * s
                dv.append(ops.sum(gs, axis=0))
                da = (gs - gs * s) * vb[i]                                 # g v s (1 - s)
                # Within the block a[i'] sums x[j] w[j] for j <= i': the
                # transposed masked product, for w and for x.
                dw_in.append(ops.matmul(ops.transpose(masked[i]), ops.reshape(da, (-1, c))))
                dx_in.append(ops.sum(ops.matmul(da, ops.transpose(wb[i])) * lower, axis=1))
                da_sums.append(ops.sum(da, axis=1))                        # (n, c)
            da_sums = ops.stack(da_sums)                                   # (K, n, c)
            later = ops.flip(ops.cumsum(ops.flip(da_sums, 0), axis=0), 0) - da_sums
            dwb = ops.stack(dw_in) + ops.matmul(ops.transpose(xb, (0, 2, 1)), later)
            dxb = ops.stack(dx_in) + ops.matmul(later, ops.transpose(wb, (0, 2, 1)))
            return dxb, dwb, ops.stack(dv)

        return logits, grad

    # Tiles: reshaped / split tensors (never the variables themselves) enter the custom gradient.
    xb = ops.transpose(ops.reshape(x, (-1, k, block)), (1, 0, 2))          # (K, n, B)
    size = -(-h // -(-h // columns))                                       # equal-ish groups
    bounds = list(range(size, h, size))
    wbs = ops.split(ops.reshape(w, (k, block, h)), bounds, axis=-1) if bounds else [
        ops.reshape(w, (k, block, h))]
    vbs = ops.split(ops.reshape(v, (k, block, h)), bounds, axis=-1) if bounds else [
        ops.reshape(v, (k, block, h))]
    logits = tile_logits(xb, wbs[0], vbs[0])
    for wb, vb in zip(wbs[1:], vbs[1:]):
        logits = logits + tile_logits(xb, wb, vb)
    return logits[:, :d]


# The fused path's tile: positions per block and hidden units per tile (a tile
# of batch 100 x 28 x 250 float32 is 2.8 MB): the fastest of the tilings timed
# in the README (NADE training step), gradients only, one AVX2 core.
_FUSED_BLOCK = 28
_FUSED_COLUMNS = 256


IMPLEMENTATIONS = ("auto", "fused", "blocked", "cumsum")

# What implementation="auto" picks, per backend, from bench/nade_step.py (training
# step images/s at D = 784, H = 500, batch 100, one AVX2 core: fused / blocked
# 3.9x on TensorFlow, 1.14x on JAX, 1.8x on torch). "fused" needs the sigmoid
# activation (its gradient is written out); other activations get "blocked".
_AUTO_IMPLEMENTATION = {"tensorflow": "fused", "jax": "fused", "torch": "fused"}


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
            block; the same values to float rounding), ``"fused"`` (the blocked
            sums, squashed and reduced one block at a time, with a gradient
            that recomputes each block instead of storing the ``(batch, D,
            H)`` activations; sigmoid activation only) or ``"auto"`` (default:
            the one measured faster on the running backend: ``"fused"``
            when the activation is the sigmoid, else ``"blocked"``).
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: an invalid argument (an unknown ``implementation``, or
            ``"fused"`` with an activation other than the sigmoid), or data
            that is not binary / has the wrong shape (``fit``, ``evaluate``,
            ``log_prob``).

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

    # compile(jit_compile="auto") on a TensorFlow CPU: with oneDNN, XLA-compiled
    # optimizer updates in the plain step (1.00-1.12x the plain step); with
    # Eigen's kernels (TensorFlow's default on AVX2 CPUs) the plain step (XLA
    # updates 0.86x, 0.88x and 0.96x of it in three runs on an AVX2 EPYC with
    # the pooling allocator). The fused path runs 2.1-2.3x faster as
    # TensorFlow's own kernels than as one XLA function (bench/train_throughput.py,
    # one process: plain 388 / 406, XLA step 236 / 269 images/s).
    xla_on_cpu = {"onednn": "update", "no_onednn": False}

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
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}. Received: "
                             f"implementation={implementation!r}")
        self.implementation = implementation
        if implementation == "auto":
            implementation = _AUTO_IMPLEMENTATION.get(keras.backend.backend(), "blocked")
            if implementation == "fused" and self.activation is not keras.activations.sigmoid:
                implementation = "blocked"
        elif implementation == "fused" and self.activation is not keras.activations.sigmoid:
            raise ValueError("implementation='fused' needs activation='sigmoid' (its gradient is "
                             f"written for it). Received: activation={activation!r}")
        self._implementation = implementation
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
        if self._implementation == "fused":
            logits = _fused_sigmoid_logits(x_shift, w_shift, self.V) + self.b
        else:
            prefix_sums = (_blocked_prefix_sums if self._implementation == "blocked"
                           else _cumsum_prefix_sums)
            a = prefix_sums(x_shift, w_shift)
            logits = ops.einsum("ndh,dh->nd", self.activation(a), self.V) + self.b
        return ops.reshape(logits, (-1,) + self.event_shape)

    def sample(self, n, seed=None, verbose=1, method="cached"):
        """Draw ``n`` examples by ancestral sampling in raster order.

        Args:
            n: int, number of samples.
            seed: int or None. The same int gives the same samples; None
                draws from the model's ``SeedGenerator``.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar``).
            method: ``"cached"`` (default): the hidden pre-activations are
                kept and updated by ``x_d W[d]`` after each draw (``O(H)`` per
                value, one compiled loop; ``keras_genmodels.samplers``).
                ``"naive"``: one full forward pass per value, the reference;
                the same int seed gives the same samples.

        Returns:
            float32 NumPy array ``(n,) + event_shape`` of 0/1 values.

        Raises:
            ValueError: for a non-positive ``n``, a bad ``seed`` or an unknown ``method``.

        Example:

        >>> from keras_genmodels.models import NADE
        >>> model = NADE(6, hidden_units=4, seed=0)
        >>> fast = model.sample(3, seed=1, verbose=0)
        >>> bool((fast == model.sample(3, seed=1, verbose=0, method="naive")).all())
        True
        """
        return self.generate(n, seed=seed, verbose=verbose, method=method)

    # ---------------------------------------------------------- cache layout
    # a_d = c + sum_{j<d} x_j W[j]: the cache is the running pre-activation a
    # (n, H); value d reads act(a) V[d] + b[d] and adds x_d W[d] once drawn.
    def cache_weights(self):
        """``W, c, V, b`` as float32 tensors (passed to the compiled loop on every call)."""
        return {k: ops.convert_to_tensor(getattr(self, k), "float32") for k in "WcVb"}

    def build_cache(self, n):
        """The running pre-activations ``(n, hidden_units)`` (zeros; ``c`` is added at row 0)."""
        return {"a": buffers.zeros(n, self.hidden_units)}

    def cache_row_start(self, weights, cache, i, condition):
        del condition  # unconditional
        first = ops.cast(ops.equal(i, 0), "float32")
        return {"a": cache["a"] + first * weights["c"]}, None

    def call_with_cache(self, weights, cache, context, i, j):
        """The logit ``(n, 1)`` of the next value: ``act(a) V[d] + b[d]``."""
        d = self.raster_index(i, j)
        logit = ops.matmul(self.activation(cache["a"]), ops.take(weights["V"], d, axis=0))
        return (logit + ops.take(weights["b"], d))[:, None], cache

    def cache_write(self, weights, cache, context, i, j, values):
        d = self.raster_index(i, j)
        return {"a": cache["a"] + values * ops.take(weights["W"], d, axis=0)[None]}

    def cache_row_end(self, weights, cache, context, i):
        return cache

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

