"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al., 2015)."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import samplers
from keras_genmodels._api import register
from keras_genmodels.layers.masked_dense import HIDDEN_DEGREES
from keras_genmodels.layers.masked_dense import MaskedDense
from keras_genmodels.layers.masked_dense import check_order
from keras_genmodels.layers.masked_dense import made_degrees
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.models.density import event_shape_of
from keras_genmodels.samplers import buffers


@register
class MADE(DensityModel):
    """Masked autoencoder for binary data: an autoregressive MLP built from ``MaskedDense``.

    An MLP maps ``x`` (flattened, ``D`` values) to ``D`` logits; every weight
    matrix is multiplied by a constant 0/1 mask derived from unit degrees
    (:func:`keras_genmodels.layers.made_degrees`): input ``order[k]`` has
    degree ``k + 1``, hidden units have degrees in ``[1, D - 1]``, a hidden
    unit sees units of lower-or-equal degree and output ``d`` sees hidden
    units of strictly lower degree. Logit ``d`` therefore depends only on the
    variables before ``d`` in ``order``, and
    ``log p(x) = sum_d log Bernoulli(x_d; sigmoid(logit_d))`` is exact and
    normalised. One forward pass evaluates all conditionals; sampling takes
    ``D`` passes, one per variable.

    **Several masks** (``num_masks = K > 1``, order/connectivity-agnostic
    training, section 4 of the paper). The model holds ``K`` mask sets that
    share every weight. With ``order="random"`` each set has its own random
    order and hidden degrees; with a fixed order only the hidden connectivity
    differs between sets (``resample_connectivity`` must then be true).
    Exactly what is computed:

    - training (``fit``): step ``t`` uses the single mask set ``t mod K``
      (cycling through the sets, as the paper does with a finite set of
      masks; ``t`` is the non-trainable counter ``model.mask_step``, saved
      with the weights) and minimises ``-log p_k(x)``;
    - ``log_prob`` / ``evaluate`` / ``test_step``: the ensemble
      ``log p(x) = logsumexp_k log p_k(x) - log K``, the log of the average
      of the ``K`` probabilities (the paper's test-time mask averaging); it
      is the density of a uniform mixture of the ``K`` autoregressive models,
      hence exactly normalised;
    - ``sample``: draws from that same mixture (each sample picks a mask set
      uniformly, then runs ``D`` passes in that set's order).

    Args:
        input_dim: int ``D`` or a tuple (the shape of one example).
        hidden_units: int or sequence of ints, hidden layer widths
            (``(500,)`` by default).
        num_masks: int ``K >= 1``, number of mask sets.
        order: ``"natural"`` (raster order), ``"random"`` (a random
            permutation per mask set, drawn with ``mask_seed``) or a
            permutation of ``range(D)`` (the first variable first).
        hidden_degrees: ``"random"`` (uniform, as in the paper) or
            ``"equal"`` (evenly spread; deterministic).
        resample_connectivity: bool; with ``K > 1`` draw new hidden degrees
            for every mask set (needs ``hidden_degrees="random"``). False keeps
            the first set's hidden degrees (only the order changes).
        direct_connections: bool, add a masked linear input-to-output
            connection (strictly lower degrees), as in the paper's variants.
        activation: hidden activation (``"relu"``).
        kernel_initializer: initializer of the masked kernels.
        mask_seed: int or None, seed of the NumPy generator that draws the
            orders and degrees. None uses ``seed`` when given, else a fresh
            random int; the resolved value is stored in ``get_config`` so a
            reloaded model has the same masks.
        seed: int or None, seed of the model's ``SeedGenerator`` (sampling).
        **kwargs: ``keras.Model`` arguments.

    Example:

    >>> import itertools
    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import MADE
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(32, 2, 2)) < 0.5).astype("float32")  # 2 x 2 binary images
    >>> made = MADE((2, 2), hidden_units=(16,), num_masks=2, order="random", seed=0)
    >>> made.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = made.fit(x_train, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['bits_per_dim', 'loss']
    >>> made.log_prob(x_train[:3]).shape   # exact, nats
    (3,)
    >>> # Exactly normalised: the probabilities of all 2^4 images sum to one.
    >>> every_image = np.array(list(itertools.product([0, 1], repeat=4)), "float32")
    >>> round(float(np.exp(made.log_prob(every_image.reshape(16, 2, 2))).sum()), 4)
    1.0
    >>> made.sample(5, seed=0, verbose=0).shape
    (5, 2, 2)

    References:
        Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
        Distribution Estimation", ICML 2015.
    """

    # compile(jit_compile="auto") on a TensorFlow CPU: XLA-compiled optimizer
    # updates in the plain step (bench/train_throughput.py, one process: on an
    # AVX-512 CPU with oneDNN 1.39x the plain step, the XLA step 1.42x; on an
    # AVX2 CPU 1.22x, the XLA step 0.97x).
    xla_on_cpu = "update"

    def __init__(self, input_dim, hidden_units=(500,), num_masks=1, order="natural",
                 hidden_degrees="random", resample_connectivity=True,
                 direct_connections=False, activation="relu",
                 kernel_initializer="glorot_uniform", mask_seed=None, seed=None, **kwargs):
        kwargs.pop("event_shape", None)
        kwargs.pop("likelihood", None)
        event_shape = event_shape_of(input_dim)
        super().__init__(event_shape, likelihood="bernoulli", seed=seed, **kwargs)
        self.input_dim = event_shape[0] if isinstance(input_dim, (int, np.integer)) else event_shape
        if isinstance(hidden_units, (int, np.integer)) and not isinstance(hidden_units, bool):
            hidden_units = (int(hidden_units),)
        hidden_units = tuple(hidden_units)
        if not hidden_units:
            raise ValueError("hidden_units must name at least one hidden layer. Received: ()")
        hidden_units = tuple(_common.check_int("hidden_units[i]", units) for units in hidden_units)
        self.hidden_units = hidden_units
        self.num_masks = _common.check_int("num_masks", num_masks)
        d = self.num_dims
        if isinstance(order, str):
            if order not in ("natural", "random"):
                raise ValueError(
                    "order must be 'natural', 'random' or a permutation of range(D). "
                    f"Received: order={order!r}"
                )
            self.order = order
        else:
            self.order = [int(i) for i in check_order(order, d)]
        if hidden_degrees not in HIDDEN_DEGREES:
            raise ValueError(
                f"hidden_degrees must be one of {HIDDEN_DEGREES}. Received: "
                f"hidden_degrees={hidden_degrees!r}"
            )
        self.hidden_degrees = hidden_degrees
        self.resample_connectivity = bool(resample_connectivity)
        if self.num_masks > 1 and self.order != "random" and not (
            self.resample_connectivity and hidden_degrees == "random"
        ):
            raise ValueError(
                "num_masks > 1 with a fixed order needs resample_connectivity=True and "
                "hidden_degrees='random', otherwise all mask sets are identical. Received: "
                f"num_masks={num_masks}, order={order!r}, hidden_degrees={hidden_degrees!r}, "
                f"resample_connectivity={resample_connectivity}"
            )
        self.direct_connections = bool(direct_connections)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if mask_seed is None:
            mask_seed = seed if seed is not None else int(np.random.randint(0, 2**31 - 1))
        self.mask_seed = _common.check_int("mask_seed", int(mask_seed), minimum=0)

        # === Masks: one set (orders + degrees) per mask index ===
        self.orders, self.degrees = self._make_degrees()
        # === Layers ===
        self.hidden_layers = []
        prev = self.degrees[0]
        for i, units in enumerate(hidden_units):
            layer = MaskedDense(
                units, input_degrees=prev, output_degrees=self.degrees[i + 1],
                activation=self.activation, kernel_initializer=self.kernel_initializer,
                name=f"hidden_{i}",
            )
            layer.build((None, prev.shape[-1]))
            self.hidden_layers.append(layer)
            prev = self.degrees[i + 1]
        self.output_layer = MaskedDense(
            d, input_degrees=prev, output_degrees=self.degrees[0], strict=True,
            kernel_initializer=self.kernel_initializer, name="logits",
        )
        self.output_layer.build((None, prev.shape[-1]))
        self.direct_layer = None
        if self.direct_connections:
            self.direct_layer = MaskedDense(
                d, input_degrees=self.degrees[0], output_degrees=self.degrees[0], strict=True,
                use_bias=False, kernel_initializer=self.kernel_initializer, name="direct",
            )
            self.direct_layer.build((None, d))
        # Training passes so far: step t trains mask set t mod K.
        self.mask_step = self.add_weight(name="mask_step", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)
        self.built = True

    def _make_degrees(self):
        rng = np.random.default_rng(self.mask_seed)
        d = self.num_dims
        orders, per_mask = [], []
        for k in range(self.num_masks):
            if self.order == "natural":
                order = np.arange(d)
            elif self.order == "random":
                order = rng.permutation(d)
            else:
                order = np.asarray(self.order)
            degs = made_degrees(d, self.hidden_units, order, self.hidden_degrees, rng)
            if k > 0 and not self.resample_connectivity:
                # Same hidden degrees as the first set; only the input order changes.
                degs = [degs[0]] + per_mask[0][1:]
            orders.append(order)
            per_mask.append(degs)
        degrees = [np.stack([m[i] for m in per_mask]) for i in range(len(per_mask[0]))]
        return np.stack(orders), degrees

    # ------------------------------------------------------------ network
    def call(self, inputs, training=False, mask_index=None):
        """Logits of every conditional under mask set ``mask_index``.

        ``mask_index`` defaults to set 0, and in training (with ``K > 1``
        sets) to ``mask_step mod K``, counting the training passes (one per
        step in ``fit``).
        """
        if mask_index is None and training and self.num_masks > 1:
            mask_index = ops.mod(self.mask_step, self.num_masks)
            self.mask_step.assign_add(1)
        x = ops.reshape(ops.cast(inputs, "float32"), (-1, self.num_dims))
        h = x
        for layer in self.hidden_layers:
            h = layer(h, mask_index=mask_index)
        logits = self.output_layer(h, mask_index=mask_index)
        if self.direct_layer is not None:
            logits = logits + self.direct_layer(x, mask_index=mask_index)
        return ops.reshape(logits, (-1,) + self.event_shape)

    def nll_terms(self, x, params, training=False):
        """``-log p(x)``; with ``K > 1`` masks see the class docstring (cycled in training).

        ``params`` is ``call(x, training)``: in training the cycled mask set's
        logits; otherwise mask set 0's, and the other sets are evaluated here
        for the ensemble ``log (1/K) sum_k p_k(x)``.
        """
        if self.num_masks == 1 or training:
            return -self.likelihood.log_prob(x, params)
        per_mask = [self.likelihood.log_prob(x, params)] + [
            self.likelihood.log_prob(x, self(x, mask_index=k)) for k in range(1, self.num_masks)
        ]
        return math.log(self.num_masks) - ops.logsumexp(ops.stack(per_mask, axis=0), axis=0)

    def sample(self, n, seed=None, verbose=1, method="cached"):
        """Draw ``n`` examples: each from one mask set (uniform over the ``K`` sets), in its order.

        Args:
            n: int, number of samples.
            seed: int or None; the same int gives the same samples.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` per mask set used).
            method: ``"cached"`` (default): the first hidden layer's
                pre-activations are kept and updated by a rank-1 term after
                each draw, and only the next output unit is computed (one
                compiled loop per mask set used; ``keras_genmodels.samplers``).
                ``"naive"``: one full forward pass per value, the reference;
                the same int seed gives the same samples.

        Returns:
            float32 NumPy array ``(n,) + event_shape`` of 0/1 values.

        Raises:
            ValueError: for a non-positive ``n``, a bad ``seed`` or an unknown ``method``.

        Example:

        >>> from keras_genmodels.models import MADE
        >>> model = MADE(6, hidden_units=(8,), num_masks=2, order="random", seed=0)
        >>> fast = model.sample(4, seed=1, verbose=0)
        >>> bool((fast == model.sample(4, seed=1, verbose=0, method="naive")).all())
        True
        """
        _common.check_int("n", n)
        samplers.check_method(method)
        seed = samplers.resolve_seed(self, seed)
        # The mask set of each sample, then one loop per set used (over all n
        # samples, so every loop has the same shapes: one compiled function).
        if self.num_masks == 1:
            component = np.zeros(n, "int64")
        else:
            component = ops.convert_to_numpy(
                keras.random.randint((n,), 0, self.num_masks, seed=seed + 1))
        out = np.zeros((n, self.num_dims), "float32")
        cols = self.raster_shape[1]
        for k in sorted(set(component.tolist())):
            if method == "cached":
                state = samplers.run_rows(self, n, seed, verbose, weights=self.cache_weights(k))
                x = ops.convert_to_numpy(state["cache"]["x"])
            else:
                positions = [(int(p) // cols, int(p) % cols) for p in self.orders[k]]
                x = samplers.naive_sample(
                    self, n, seed, verbose, condition=ops.convert_to_tensor(k, "int32"),
                    network=lambda x, k: self(x, mask_index=k), key="mask_index",
                    positions=positions).reshape(n, -1)
            out[component == k] = x[component == k]
        return out.reshape((n,) + self.event_shape)

    # ---------------------------------------------------------- cache layout
    # Step t draws input order[t] of the mask set. The cache holds the values
    # so far (natural layout) and the first hidden layer's pre-activations,
    # updated by value * kernel[input] after each draw (``MaskedDense.add_input``);
    # the later hidden layers are evaluated in full and the output layer only
    # at the next input (``MaskedDense.output_at``).
    def cache_weights(self, mask_index=0):
        """Mask set ``mask_index``'s masked kernels and order (int32 tensor) for the cached loop."""
        return {
            "hidden": [layer.cached_kernels(mask_index) for layer in self.hidden_layers],
            "output": self.output_layer.cached_kernels(mask_index),
            "direct": (None if self.direct_layer is None
                       else self.direct_layer.cached_kernels(mask_index)),
            "order": ops.convert_to_tensor(np.asarray(self.orders[mask_index]), "int32"),
        }

    def build_cache(self, n):
        """The values so far ``(n, D)`` and the first hidden pre-activations (bias added at row 0)."""
        return {"x": buffers.zeros(n, self.num_dims),
                "pre": buffers.zeros(n, self.hidden_units[0])}

    def cache_row_start(self, weights, cache, i, condition):
        del condition  # unconditional
        first = ops.cast(ops.equal(i, 0), "float32")
        return dict(cache, pre=cache["pre"] + first * weights["hidden"][0][1]), None

    def _input_at(self, weights, i, j):
        return ops.take(weights["order"], self.raster_index(i, j))

    def call_with_cache(self, weights, cache, context, i, j):
        """The logit ``(n, 1)`` of the next input in the mask set's order."""
        d = self._input_at(weights, i, j)
        first = self.hidden_layers[0]
        h = cache["pre"] if first.activation is None else first.activation(cache["pre"])
        for layer, kernels in zip(self.hidden_layers[1:], weights["hidden"][1:]):
            h = layer.apply_cached(h, kernels)
        logit = self.output_layer.output_at(h, d, weights["output"])
        if self.direct_layer is not None:
            logit = logit + self.direct_layer.output_at(cache["x"], d, weights["direct"])
        return logit[:, None], cache

    def cache_write(self, weights, cache, context, i, j, values):
        d = self._input_at(weights, i, j)
        z = ops.zeros_like(d)
        pre = self.hidden_layers[0].add_input(cache["pre"], values[:, 0], d, weights["hidden"][0])
        return {"x": ops.slice_update(cache["x"], (z, d), values), "pre": pre}

    def cache_row_end(self, weights, cache, context, i):
        return cache

    def get_config(self):
        config = super().get_config()
        for key in ("event_shape", "likelihood"):
            config.pop(key, None)
        config.update({
            "input_dim": self.input_dim,
            "hidden_units": list(self.hidden_units),
            "num_masks": self.num_masks,
            "order": self.order,
            "hidden_degrees": self.hidden_degrees,
            "resample_connectivity": self.resample_connectivity,
            "direct_connections": self.direct_connections,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "mask_seed": self.mask_seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("input_dim"), list):
            config["input_dim"] = tuple(config["input_dim"])
        return cls(**config)
