"""PixelCNN and Gated PixelCNN: exact-likelihood autoregressive image models."""

import numpy as np
from keras import layers as keras_layers
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels import samplers
from keras_genmodels._api import register
from keras_genmodels.samplers import buffers
from keras_genmodels.layers.gated import GatedPixelCNNBlock
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel

_SUPPORTED = (
    likelihoods_lib.Bernoulli,
    likelihoods_lib.Categorical,
    likelihoods_lib.DiscretizedLogisticMixture,
)
SAMPLING_METHODS = samplers.METHODS


class _ResidualBlock(keras_layers.Layer):
    """The PixelCNN residual block: ReLU, 1x1 (2h -> h), ReLU, kxk mask B, ReLU, 1x1 (h -> 2h).

    Private to :class:`PixelCNN` (rebuilt from the model's config); its three
    ``MaskedConv2D`` are the attributes ``conv_in``, ``conv_mid``, ``conv_out``.
    """

    def __init__(self, filters, kernel_size, color_groups, **kwargs):
        super().__init__(**kwargs)
        half = filters // 2
        self.conv_in = MaskedConv2D(half, 1, "B", color_groups, name="conv_in")
        self.conv_mid = MaskedConv2D(half, kernel_size, "B", color_groups, name="conv_mid")
        self.conv_out = MaskedConv2D(filters, 1, "B", color_groups, name="conv_out")

    def build(self, input_shape):
        half_shape = tuple(input_shape[:-1]) + (self.conv_in.filters,)
        self.conv_in.build(input_shape)
        self.conv_mid.build(half_shape)
        self.conv_out.build(half_shape)

    def call(self, x):
        h = self.conv_in(ops.relu(x))
        h = self.conv_mid(ops.relu(h))
        h = self.conv_out(ops.relu(h))
        return x + h


@register
class PixelCNN(DensityModel):
    """PixelCNN (and Gated PixelCNN) for binary or 8-bit images.

    ``p(x) = prod_i p(x_i | x_<i)`` over the pixels in raster order (and, for
    colour images with a per-channel likelihood, over R -> G -> B inside a
    pixel). Every conditional is computed in one teacher-forced pass, so
    ``log_prob`` is exact. Sampling is sequential; ``sample`` (``method=
    "cached"``) evaluates each layer only at the new pixel from cached
    activations (Ramachandran et al., 2017) instead of a forward pass per
    pixel (per channel).

    **Plain network** (``gated=False``, van den Oord et al. 2016a): a
    ``kernel_size`` mask-A ``MaskedConv2D``, ``num_layers`` residual blocks
    (ReLU, 1x1 ``filters -> filters/2``, ReLU, ``hidden_kernel_size`` mask B,
    ReLU, 1x1 back to ``filters``), then ReLU, 1x1 mask B (``filters``), ReLU
    and a 1x1 mask-B convolution to the likelihood's parameters. Stacked
    masked convolutions have a *blind spot*: pixels up and to the right of the
    current one that the receptive field never reaches.

    **Gated network** (``gated=True`` or :class:`GatedPixelCNN`, van den Oord
    et al. 2016b): a mask-A :class:`~keras_genmodels.layers.GatedPixelCNNBlock`
    of size ``kernel_size`` then ``num_layers`` mask-B blocks of size
    ``hidden_kernel_size``; a vertical stack (shifted down, so it never sees
    the current row) and a horizontal stack, with ``tanh * sigmoid`` gates:
    no blind spot. With ``num_classes`` the model is class-conditional: the
    one-hot label enters every gate as a bias; ``fit`` reads the labels from
    ``(x, labels)`` batches, ``log_prob(x, labels=...)`` and
    ``sample(n, labels=...)`` take them explicitly.

    **Likelihoods** (data and parameters per pixel):

    - ``"bernoulli"``: binary data {0, 1}; ``C`` logits.
    - ``"categorical"``: integers 0..255 (float or int dtype); a 256-way
      softmax per channel, ``256 C`` logits. Channels are ordered R -> G -> B
      by colour groups (``color_groups = C`` in every masked convolution).
    - ``"logistic_mixture"``: integers 0..255; the discretized logistic
      mixture of PixelCNN++ with ``num_mixtures`` components and the linear
      channel coupling; the whole pixel is one conditional, so the network
      uses a single colour group and samples a pixel per pass.

    Bernoulli inputs enter the network as ``2x - 1``, 8-bit ones as
    ``x / 127.5 - 1``.

    The layers are attributes, for samplers that need per-layer weights:
    ``input_conv`` and ``residual_blocks`` (plain), ``gated_blocks`` (gated),
    and ``output_convs``.

    Args:
        image_shape: tuple ``(H, W, C)``; any size, down to 1x1.
        filters: int or None, channels of the hidden layers. None: 64 rounded
            up to a multiple of ``2 * color_groups`` (64 for grey or
            logistic-mixture images, 66 for RGB with per-channel likelihoods).
            Must be divisible by ``2 * color_groups`` (plain) or
            ``color_groups`` (gated).
        num_layers: int >= 0, residual (plain) or mask-B gated blocks.
        kernel_size: odd int >= 3, the mask-A first layer's kernel (7).
        hidden_kernel_size: odd int, the kernels of the blocks (3).
        likelihood: ``"bernoulli"``, ``"categorical"``, ``"logistic_mixture"``
            or a ``Bernoulli`` / ``Categorical(256)`` /
            ``DiscretizedLogisticMixture`` instance.
        num_mixtures: int, components of the logistic mixture (used when
            ``likelihood="logistic_mixture"`` is given by name).
        gated: bool, Gated PixelCNN network.
        num_classes: int or None, class-conditional model (gated only).
        seed: int or None, seed of the model's ``SeedGenerator`` (sampling).
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for a malformed ``image_shape``, an unknown or unsupported
            likelihood, ``filters`` not divisible as required, an even kernel
            size, or ``num_classes`` without ``gated=True``; at fit/log_prob
            time for data of the wrong shape or outside the likelihood's
            support (non-binary for Bernoulli; outside [0, 255] or
            non-integer for the 8-bit likelihoods).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import PixelCNN
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(16, 4, 4, 1)) < 0.5).astype("float32")   # x in {0, 1}
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3,
    ...                  likelihood="bernoulli", seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(x_train, epochs=1, batch_size=8, verbose=0)
    >>> sorted(history.history)
    ['bits_per_dim', 'loss']
    >>> model.log_prob(x_train[:3]).shape   # (n,) exact log-likelihoods in nats
    (3,)
    >>> images = model.sample(2, seed=0, verbose=0)
    >>> images.shape
    (2, 4, 4, 1)
    >>> # 8-bit RGB images with the PixelCNN++ likelihood: 10 * 5 parameters per pixel.
    >>> rgb = PixelCNN((8, 8, 3), filters=16, num_layers=1, likelihood="logistic_mixture")
    >>> tuple(rgb(np.zeros((1, 8, 8, 3), "float32")).shape)
    (1, 8, 8, 50)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
        Networks", ICML 2016.
        van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
        "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016.
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017.
        Ramachandran et al., "Fast Generation for Convolutional
        Autoregressive Models", ICLR 2017 workshop (the cached sampler).
    """

    # compile(jit_compile="auto") on a TensorFlow CPU (bench/train_throughput.py,
    # one process): with oneDNN the plain step (the XLA step 0.56-0.61x); with
    # Eigen's kernels (TensorFlow's default on AVX2 CPUs) the XLA step, 1.13x,
    # 1.15x and 1.13x the plain step in three runs. The gated network keeps the plain step on
    # both (its XLA step 0.62-0.64x with oneDNN, 0.82x and 0.97x without).
    xla_on_cpu = {"onednn": False, "no_onednn": True}

    def __init__(
        self,
        image_shape,
        filters=None,
        num_layers=5,
        kernel_size=7,
        hidden_kernel_size=3,
        likelihood="bernoulli",
        num_mixtures=5,
        gated=False,
        num_classes=None,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("event_shape", None)
        if (not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3
                or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in image_shape)):
            raise ValueError(
                "image_shape must be a tuple (height, width, channels) of positive ints. "
                f"Received: image_shape={image_shape!r}"
            )
        image_shape = tuple(int(d) for d in image_shape)
        _common.check_int("num_mixtures", num_mixtures)
        if isinstance(likelihood, str) and likelihood.lower() == "logistic_mixture":
            likelihood = likelihoods_lib.DiscretizedLogisticMixture(num_mixtures)
        likelihood = likelihoods_lib.get(likelihood)
        if not isinstance(likelihood, _SUPPORTED):
            raise ValueError(
                "PixelCNN supports the likelihoods 'bernoulli', 'categorical' and "
                f"'logistic_mixture'. Received: likelihood={likelihood!r}"
            )
        if isinstance(likelihood, likelihoods_lib.Categorical) and likelihood.num_classes != 256:
            raise ValueError(
                "PixelCNN's categorical likelihood is the 256-way softmax of 8-bit "
                f"images. Received: Categorical(num_classes={likelihood.num_classes})"
            )
        if isinstance(likelihood, likelihoods_lib.DiscretizedLogisticMixture):
            num_mixtures = likelihood.num_mixtures
        super().__init__(event_shape=image_shape, likelihood=likelihood, seed=seed, **kwargs)
        _common.check_int("num_layers", num_layers, minimum=0)
        for name, k, low in (("kernel_size", kernel_size, 3),
                             ("hidden_kernel_size", hidden_kernel_size, 1)):
            if not isinstance(k, int) or k < low or k % 2 == 0:
                raise ValueError(f"{name} must be an odd int >= {low}. Received: {name}={k!r}")
        if num_classes is not None:
            _common.check_int("num_classes", num_classes, minimum=2)
            if not gated:
                raise ValueError(
                    "Class conditioning needs the gated network: pass gated=True (or use "
                    f"models.GatedPixelCNN). Received: num_classes={num_classes}, gated=False"
                )
        channels = image_shape[-1]
        joint_pixel = isinstance(likelihood, likelihoods_lib.DiscretizedLogisticMixture)
        self.color_groups = 1 if joint_pixel else channels
        unit = self.color_groups if gated else 2 * self.color_groups
        if filters is None:
            filters = -(-64 // unit) * unit
        _common.check_int("filters", filters)
        if filters % unit:
            raise ValueError(
                f"filters must be divisible by {unit} ({'color_groups' if gated else '2 * color_groups'}"
                f" with color_groups={self.color_groups}). Received: filters={filters}"
            )
        self.image_shape = image_shape
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.hidden_kernel_size = hidden_kernel_size
        self.num_mixtures = num_mixtures
        self.gated = bool(gated)
        if self.gated:
            self.xla_on_cpu = False
        self.num_classes = num_classes
        self.num_params = likelihood.params_shape(image_shape)[-1]
        self.sampling_channel_groups = (
            [list(range(channels))] if joint_pixel else [[c] for c in range(channels)]
        )

        # === Layers ===
        groups = self.color_groups
        if self.gated:
            self.input_conv = None
            self.residual_blocks = []
            self.gated_blocks = [
                GatedPixelCNNBlock(filters, kernel_size, "A", groups, num_classes, name="gated_block_0")
            ] + [
                GatedPixelCNNBlock(filters, hidden_kernel_size, "B", groups, num_classes,
                                   name=f"gated_block_{i + 1}")
                for i in range(num_layers)
            ]
        else:
            self.input_conv = MaskedConv2D(filters, kernel_size, "A", groups, name="input_conv")
            self.residual_blocks = [
                _ResidualBlock(filters, hidden_kernel_size, groups, name=f"residual_block_{i}")
                for i in range(num_layers)
            ]
            self.gated_blocks = []
        self.output_convs = [
            MaskedConv2D(filters, 1, "B", groups, name="output_conv_0"),
            MaskedConv2D(self.num_params, 1, "B", groups, name="output_conv_1"),
        ]
        # Build every weight now, so that a reloaded model restores them (and
        # the optimizer's slots) without a first call.
        dummy = ops.zeros((1,) + image_shape)
        cond = None if num_classes is None else ops.zeros((1, num_classes))
        self(dummy, condition=cond)
        self.built = True

    # ----------------------------------------------------------------- network
    def _network_input(self, x):
        x = ops.cast(x, "float32")
        if isinstance(self.likelihood, likelihoods_lib.Bernoulli):
            return 2.0 * x - 1.0
        return x / 127.5 - 1.0

    def call(self, inputs, condition=None, training=False):
        """Likelihood parameters of every conditional, ``(batch, H, W, num_params)``.

        Args:
            inputs: images ``(batch, H, W, C)`` in the data's units (not
                validated here; ``log_prob`` / ``fit`` validate), or
                ``(images, condition)`` for a conditional model.
            condition: one-hot labels ``(batch, num_classes)`` for a
                conditional model, else None.
        """
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or condition is not None:
                raise ValueError(
                    "PixelCNN takes images, or (images, condition) for a conditional model. "
                    f"Received {len(inputs)} inputs" + (" and condition=" if condition is not None
                                                        else "") + "."
                )
            inputs, condition = inputs
        if self.num_classes is not None and condition is None:
            raise ValueError(
                f"This PixelCNN is class-conditional (num_classes={self.num_classes}): "
                "pass condition= (one-hot labels)."
            )
        if self.num_classes is None and condition is not None:
            raise ValueError("This PixelCNN is unconditional; it takes no condition.")
        x = self._network_input(inputs)
        if self.gated:
            v, h = x, x
            for block in self.gated_blocks:
                args = [v, h] if condition is None else [v, h, ops.cast(condition, x.dtype)]
                v, h = block(args)
        else:
            h = self.input_conv(x)
            for block in self.residual_blocks:
                h = block(h)
        for conv in self.output_convs:
            h = conv(ops.relu(h))
        return h

    def _condition_from(self, y):
        if self.num_classes is None:
            return None
        if y is None:
            raise ValueError(
                f"This PixelCNN is class-conditional (num_classes={self.num_classes}) and "
                "needs labels: fit on (x, labels) batches, or pass labels=."
            )
        return _common.one_hot_labels(y, self.num_classes)

    # ---------------------------------------------------------------- sampling
    def sample(self, n, seed=None, verbose=1, method="cached", labels=None):
        """Generate ``n`` images autoregressively.

        Args:
            n: int, number of images.
            seed: int or None; the same int gives the same images.
            verbose: 1 shows a ``keras.utils.Progbar``; 0 is silent.
            method: ``"cached"`` (default): the fast sampler of Ramachandran
                et al. (2017), which evaluates every layer only at the new
                pixel from cached activations of the earlier ones (one
                XLA-compiled loop over the image; see ``keras_genmodels.samplers.cached_sample``).
                ``"naive"``: ``H * W * G`` full forward passes (``G`` = 1 or
                the number of channels) through a compiled function, the
                reference. With the same int ``seed`` both give the same
                images (they use the same random draw at every step).
            labels: int array ``(n,)`` (or one-hot ``(n, num_classes)``) for a
                class-conditional model; must be None otherwise.

        Returns:
            NumPy ``float32`` ``(n, H, W, C)``: {0, 1} for Bernoulli,
            integers 0..255 for the 8-bit likelihoods.
        """
        _common.check_int("n", n)
        if labels is None:
            condition = self._condition_from(None)
        else:
            if self.num_classes is None:
                raise ValueError("This PixelCNN is unconditional; sample() takes no labels.")
            labels = np.asarray(labels)
            if len(labels) != n:
                raise ValueError(f"labels must have n={n} entries. Received: {len(labels)}")
            condition = self._condition_from(labels)
        return self.generate(n, seed=seed, verbose=verbose, method=method, condition=condition)

    # ---------------------------------------------------------- cache layout
    # Ramachandran et al. (2017): a convolutional autoregressive network
    # computes its output at pixel (i, j) from a window of every layer's input
    # above and left of (i, j), all computed while the earlier pixels were
    # generated. Every layer with a spatial kernel keeps its input in a
    # zero-padded cache ``(n, H + q, W + 2q, C)`` (row r at r + q) and the row
    # being generated in a one-row buffer ``(n, 1, W + q, C)``; each kernel is
    # split (``MaskedConv2D.cached_kernels``) into the rows above the centre,
    # applied to a strip of finished rows once per row (``rows_above``; the
    # Gated PixelCNN's vertical stacks are computed there too), and the centre
    # row, applied at each new pixel (``at_pixel``). The loop itself is
    # ``keras_genmodels.samplers``'s.
    def _pads(self):
        """Padding ``k // 2`` of the image input and of each cached hidden input."""
        if self.gated:
            return (self.gated_blocks[0].kernel_size // 2,
                    [b.kernel_size // 2 for b in self.gated_blocks[1:]])
        return (self.kernel_size // 2,
                [b.conv_mid.kernel_size[0] // 2 for b in self.residual_blocks])

    def cache_weights(self):
        """The tensors the cached sampler reads (passed to its compiled loop on every call)."""
        weights = {"output": [conv.cached_kernels() for conv in self.output_convs]}
        if self.gated:
            weights["blocks"] = [block.cached_weights() for block in self.gated_blocks]
        else:
            weights["input"] = self.input_conv.cached_kernels()
            weights["blocks"] = [(b.conv_in.cached_kernels(), b.conv_mid.cached_kernels(),
                                  b.conv_out.cached_kernels()) for b in self.residual_blocks]
        return weights

    def build_cache(self, n):
        """Zero caches and row buffers (fixed sizes): the image input and every hidden input."""
        height, width, channels = self.image_shape
        p, pads = self._pads()
        hidden = ([b.filters for b in self.gated_blocks[1:]] if self.gated
                  else [b.conv_mid.filters for b in self.residual_blocks])
        return {
            "x": buffers.zeros(n, height + p, width + 2 * p, channels),
            "x_row": buffers.zeros(n, 1, width + p, channels),
            "hidden": [buffers.zeros(n, height + q, width + 2 * q, c) for q, c in zip(pads, hidden)],
            "hidden_row": [buffers.zeros(n, 1, width + q, c) for q, c in zip(pads, hidden)],
        }

    def cache_row_start(self, weights, cache, i, condition):
        """Row ``i``'s terms from finished rows: per spatial layer ``(n, W, out)``.

        Plain network: the kernel rows above the centre of the input and of
        every residual block's middle convolution. Gated network: every
        block's vertical stack, whose output row is written into the next
        block's cache (in order) before that block reads it.
        """
        p, pads = self._pads()
        if not self.gated:
            above = [self.input_conv.rows_above(buffers.strip(cache["x"], i, p),
                                                weights["input"])]
            for block, q, hidden, (_, mid, _) in zip(self.residual_blocks, pads, cache["hidden"],
                                                    weights["blocks"]):
                above.append(block.conv_mid.rows_above(buffers.strip(hidden, i, q), mid)
                             if q else None)
            return cache, above
        hidden = list(cache["hidden"])
        to_horizontal = []
        for l, (block, w) in enumerate(zip(self.gated_blocks, weights["blocks"])):
            source = cache["x"] if l == 0 else hidden[l - 1]
            to_h, v_out = block.vertical_row(buffers.strip(source, i, block.vertical_rows), w, i,
                                             condition)
            to_horizontal.append(to_h)
            if l + 1 < len(self.gated_blocks):
                q = pads[l]
                hidden[l] = buffers.write_row(
                    hidden[l], i, q, ops.pad(v_out[:, None], ((0, 0), (0, 0), (q, 0), (0, 0))))
        return dict(cache, hidden=hidden), to_horizontal

    def call_with_cache(self, weights, cache, context, i, j):
        """Parameters ``(n, num_params)`` at pixel (i, j); updates the hidden row buffers."""
        p, pads = self._pads()
        rows = list(cache["hidden_row"])
        window = buffers.row_window(cache["x_row"], j, p + 1)
        if self.gated:
            h = None
            for l, (block, w) in enumerate(zip(self.gated_blocks, weights["blocks"])):
                if l:
                    q = pads[l - 1]
                    rows[l - 1] = buffers.put(rows[l - 1], j + q, h)
                    window = buffers.row_window(rows[l - 1], j, q + 1)
                h = block.horizontal_pixel(window, buffers.column(context[l], j), h, w)
        else:
            h = self.input_conv.at_pixel(window, weights["input"], buffers.column(context[0], j))
            for l, (block, (w_in, mid, w_out)) in enumerate(zip(self.residual_blocks,
                                                                weights["blocks"])):
                q, part = pads[l], context[l + 1]
                a = ops.relu(block.conv_in.at_pixel(ops.relu(h), w_in))
                rows[l] = buffers.put(rows[l], j + q, a)
                m = block.conv_mid.at_pixel(buffers.row_window(rows[l], j, q + 1), mid,
                                            None if part is None else buffers.column(part, j))
                h = h + block.conv_out.at_pixel(ops.relu(m), w_out)
        for conv, w in zip(self.output_convs, weights["output"]):
            h = conv.at_pixel(ops.relu(h), w)
        return h, dict(cache, hidden_row=rows)

    def cache_write(self, weights, cache, context, i, j, values):
        """The new pixel's values (network units) into the image's row buffer."""
        p = self._pads()[0]
        return dict(cache, x_row=buffers.put(cache["x_row"], j + p, self._network_input(values)))

    def cache_row_end(self, weights, cache, context, i):
        """The finished row's buffers into the caches (the gated hidden caches: at row start)."""
        p, pads = self._pads()
        cache = dict(cache, x=buffers.write_row(cache["x"], i, p, cache["x_row"]))
        if not self.gated:
            cache["hidden"] = [buffers.write_row(c, i, q, r)
                               for c, q, r in zip(cache["hidden"], pads, cache["hidden_row"])]
        return cache

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.pop("event_shape", None)
        config.update({
            "image_shape": self.image_shape,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "hidden_kernel_size": self.hidden_kernel_size,
            "num_mixtures": self.num_mixtures,
            "gated": self.gated,
            "num_classes": self.num_classes,
        })
        return config


@register
class GatedPixelCNN(PixelCNN):
    """Gated PixelCNN: :class:`PixelCNN` with ``gated=True``.

    Vertical and horizontal stacks of
    :class:`~keras_genmodels.layers.GatedPixelCNNBlock` with ``tanh * sigmoid``
    gates; the vertical stack is shifted down so it never sees the current row,
    and the receptive field has no blind spot. ``num_classes`` makes it
    class-conditional (one-hot label as a bias in every gate).

    Args:
        image_shape, filters, num_layers, kernel_size, hidden_kernel_size,
        likelihood, num_mixtures, num_classes, seed: as in :class:`PixelCNN`.
        **kwargs: ``keras.Model`` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import GatedPixelCNN
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.uniform(size=(16, 4, 4, 1)) < 0.5).astype("float32")   # binary images
    >>> y = rng.integers(0, 10, size=(16,))                             # their classes
    >>> model = GatedPixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3,
    ...                       num_classes=10, seed=0)
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    >>> model.log_prob(x[:2], labels=y[:2]).shape   # (n,) nats
    (2,)
    >>> sevens = model.sample(4, labels=[7] * 4, seed=0, verbose=0)
    >>> sevens.shape
    (4, 4, 4, 1)

    References:
        van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
        "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016.
    """

    def __init__(self, image_shape, **kwargs):
        if not kwargs.pop("gated", True):
            raise ValueError("GatedPixelCNN is always gated. Received: gated=False")
        super().__init__(image_shape, gated=True, **kwargs)
