"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al., 2015)."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels._api import register
from keras_genmodels.layers.masked_dense import HIDDEN_DEGREES
from keras_genmodels.layers.masked_dense import MaskedDense
from keras_genmodels.layers.masked_dense import check_order
from keras_genmodels.layers.masked_dense import made_degrees
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.models.density import event_shape_of
from keras_genmodels.models.density import numpy_activation
from keras_genmodels.models.density import numpy_sigmoid
from keras_genmodels.models.density import sampling_progbar


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

    def _numpy_network(self, mask_index):
        """NumPy ``f(x_flat) -> logits``: the network of ``call`` with mask set
        ``mask_index``, its masked kernels computed once (``sample`` runs it D times
        on the host, where per-op dispatch of a backend would dominate)."""
        def numpy(t):
            return None if t is None else ops.convert_to_numpy(t)

        activation = numpy_activation(self.activation)
        hidden = [(numpy(layer.masked_kernel(mask_index)), numpy(layer.bias))
                  for layer in self.hidden_layers]
        out_kernel = numpy(self.output_layer.masked_kernel(mask_index))
        out_bias = numpy(self.output_layer.bias)
        direct = None if self.direct_layer is None else numpy(
            self.direct_layer.masked_kernel(mask_index))

        def network(x):
            h = x
            for kernel, bias in hidden:
                h = activation(h @ kernel + bias)
            logits = h @ out_kernel + out_bias
            if direct is not None:
                logits = logits + x @ direct
            return logits

        return network

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

    def sample(self, n, seed=None, verbose=1):
        """Draw ``n`` examples (``D`` forward passes per mask set used).

        Args:
            n: int, number of samples.
            seed: int or None; the same int gives the same samples.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar``).

        Returns:
            float32 NumPy array ``(n,) + event_shape`` of 0/1 values.
        """
        _common.check_int("n", n)
        gen = self.sample_seed_generator(seed)
        d = self.num_dims
        if self.num_masks == 1:
            component = np.zeros(n, "int64")
        else:
            component = ops.convert_to_numpy(
                keras.random.randint((n,), 0, self.num_masks, seed=gen))
        u = ops.convert_to_numpy(keras.random.uniform((n, d), seed=gen))
        used = [k for k in range(self.num_masks) if np.any(component == k)]
        bar = sampling_progbar(d * len(used), verbose)
        out = np.zeros((n, d), "float32")
        for j, k in enumerate(used):
            rows = np.flatnonzero(component == k)
            x = np.zeros((len(rows), d), "float32")
            network = self._numpy_network(k)
            for i, pixel in enumerate(self.orders[k]):
                logits = network(x)[:, pixel]
                x[:, pixel] = u[rows, pixel] < numpy_sigmoid(logits)
                if bar is not None:
                    bar.update(j * d + i + 1)
            out[rows] = x
        return out.reshape((n,) + self.event_shape)

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
