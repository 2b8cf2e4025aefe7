"""PixelRNN (van den Oord et al., 2016): Row LSTM and Diagonal BiLSTM image models."""

import warnings

from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels import samplers
from keras_genmodels._api import register
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.pixel_rnn import DiagonalBiLSTM
from keras_genmodels.layers.pixel_rnn import RowLSTM
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel
from keras_genmodels.samplers import buffers

KINDS = ("row_lstm", "diagonal_bilstm")
_SUPPORTED = (likelihoods_lib.Bernoulli, likelihoods_lib.Categorical)
SAMPLING_METHODS = samplers.METHODS


@register
class PixelRNN(DensityModel):
    """PixelRNN: an autoregressive image model built from two-dimensional LSTM layers.

    ``p(x) = prod_i p(x_i | x_<i)`` over pixels in raster order and, inside a
    pixel, over colour channels R -> G -> B. The network (teacher forcing:
    all conditionals in one pass) is ::

        h = MaskedConv2D(2h, input_kernel_size, mask "A")(x)
        repeat num_layers:
            h = h + MaskedConv2D(2h, 1, mask "B")(LSTM(h))   # residual
        h = ReLU -> MaskedConv2D(output_units, 1, "B") -> ReLU
              -> MaskedConv2D(output_units, 1, "B") -> ReLU
        params = MaskedConv2D(likelihood params, 1, "B")(h)

    where ``LSTM`` is :class:`~keras_genmodels.layers.RowLSTM`
    (``kind="row_lstm"``, triangular receptive field, rows computed in
    parallel) or :class:`~keras_genmodels.layers.DiagonalBiLSTM`
    (``kind="diagonal_bilstm"``, nearly the whole past: see its docstring).
    Every convolution is split in ``channels`` colour groups, so channel
    ``c`` of pixel ``i`` is predicted from the earlier pixels and channels
    ``< c`` of pixel ``i``.

    ``fit``/``evaluate`` minimise and report the negative log-likelihood in
    nats per example (``loss``) and ``bits_per_dim``; ``log_prob(x)`` is exact.

    ``sample`` uses a cached sampler by default (``keras_genmodels.samplers``):
    every layer is evaluated only at the new pixel, from one-row buffers and
    the LSTM states of the previous row, in one XLA-compiled loop over the
    image. ``sample(..., method="naive")`` is the reference, one full
    forward pass per value; with the same int seed both return the same
    images.

    Args:
        image_shape: tuple ``(height, width, channels)``.
        kind: ``"row_lstm"`` or ``"diagonal_bilstm"``.
        hidden_units: int, LSTM units ``h`` per layer (the residual stream
            has ``2h`` features). Default ``16 * channels``. Must be
            divisible by ``channels``.
        num_layers: int >= 1, number of LSTM layers.
        output_units: int, width of the two 1x1 output convolutions; default
            ``2 * hidden_units``. Must be divisible by ``channels``.
        kernel_size: int, odd, width of the Row LSTM's convolutions (unused
            by the Diagonal BiLSTM).
        input_kernel_size: int, odd, size of the mask-A input convolution
            (7 in the paper; any size works for any image, ``"same"`` padding).
        unroll: bool, passed to the LSTM layers: False (default) runs the
            recurrence as a ``keras.ops.scan``, True as an unrolled Python
            loop (slower to compile, sometimes faster per step).
        likelihood: ``"bernoulli"`` (binary images) or ``"categorical"``
            (a 256-way softmax per channel for 8-bit images), or such a
            ``Likelihood`` instance.
        seed: int or None, seed of the model's ``SeedGenerator``.
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for an unknown ``kind``, a malformed ``image_shape``, an
            unsupported likelihood, sizes not divisible by ``channels``, or
            inputs of the wrong rank / shape.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import PixelRNN
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(16, 4, 4, 1)) < 0.5).astype("float32")  # binary images
    >>> model = PixelRNN((4, 4, 1), kind="diagonal_bilstm", hidden_units=4, num_layers=1)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(x_train, batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['bits_per_dim', 'loss']
    >>> model.log_prob(x_train[:3]).shape   # (n,) nats
    (3,)
    >>> images = model.sample(2, seed=0, verbose=0)
    >>> images.shape
    (2, 4, 4, 1)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
        Networks", ICML 2016.
    """

    def __init__(
        self,
        image_shape,
        kind="row_lstm",
        hidden_units=None,
        num_layers=2,
        output_units=None,
        kernel_size=3,
        input_kernel_size=7,
        unroll=False,
        likelihood="bernoulli",
        seed=None,
        **kwargs,
    ):
        image_shape = _check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, likelihood=likelihood, seed=seed, **kwargs)
        if not isinstance(self.likelihood, _SUPPORTED):
            raise ValueError(
                "PixelRNN supports likelihood='bernoulli' or 'categorical'. Received: "
                f"likelihood={self.likelihood!r}"
            )
        if kind not in KINDS:
            raise ValueError(
                f"Unknown PixelRNN kind. Expected one of {KINDS}. Received: kind={kind!r}"
            )
        channels = image_shape[-1]
        if hidden_units is None:
            hidden_units = 16 * channels
        _common.check_int("hidden_units", hidden_units)
        _common.check_int("num_layers", num_layers)
        if output_units is None:
            output_units = 2 * hidden_units
        _common.check_int("output_units", output_units)
        for name, value in (("hidden_units", hidden_units), ("output_units", output_units)):
            if value % channels:
                raise ValueError(
                    f"{name} must be divisible by the number of channels ({channels}) so "
                    f"that each colour channel has its own group. Received: {name}={value}"
                )
        for name, value in (("kernel_size", kernel_size), ("input_kernel_size", input_kernel_size)):
            _common.check_int(name, value)
            if value % 2 == 0:
                raise ValueError(f"{name} must be odd. Received: {name}={value}")
        self.image_shape = image_shape
        self.kind = kind
        self.hidden_units = hidden_units
        self.num_layers = num_layers
        self.output_units = output_units
        self.kernel_size = kernel_size
        self.input_kernel_size = input_kernel_size
        self.unroll = bool(unroll)
        self.num_params = self.likelihood.params_shape(image_shape)[-1]
        # One conditional per colour channel (R -> G -> B), read by the samplers.
        self.sampling_channel_groups = [[c] for c in range(channels)]

        # === Layers ===
        groups = channels
        features = 2 * hidden_units
        self.input_conv = MaskedConv2D(
            features, input_kernel_size, mask_type="A", color_groups=groups, name="input_conv"
        )
        self.lstm_layers = []
        self.residual_convs = []
        for k in range(num_layers):
            if kind == "row_lstm":
                lstm = RowLSTM(hidden_units, kernel_size=kernel_size, color_groups=groups,
                               unroll=self.unroll, name=f"row_lstm_{k}")
            else:
                lstm = DiagonalBiLSTM(hidden_units, color_groups=groups, unroll=self.unroll,
                                      name=f"diagonal_bilstm_{k}")
            self.lstm_layers.append(lstm)
            self.residual_convs.append(
                MaskedConv2D(features, 1, mask_type="B", color_groups=groups, name=f"residual_{k}")
            )
        self.output_convs = [
            MaskedConv2D(output_units, 1, mask_type="B", color_groups=groups,
                         activation="relu", name=f"output_{k}")
            for k in range(2)
        ]
        self.params_conv = MaskedConv2D(
            self.num_params, 1, mask_type="B", color_groups=groups, name="params"
        )
        self._build_network()

    def _build_network(self):
        shape = (None,) + self.image_shape
        feat = shape[:-1] + (2 * self.hidden_units,)
        self.input_conv.build(shape)
        for lstm, res in zip(self.lstm_layers, self.residual_convs):
            lstm.build(feat)
            res.build(feat[:-1] + (self.hidden_units,))
        self.output_convs[0].build(feat)
        self.output_convs[1].build(feat[:-1] + (self.output_units,))
        self.params_conv.build(feat[:-1] + (self.output_units,))
        # Sub-layers are built, so the model is (reloaded models restore optimizer slots).
        self.built = True

    def _network_input(self, x):
        if isinstance(self.likelihood, likelihoods_lib.Categorical):
            top = float(self.likelihood.num_classes - 1)
            return x * (2.0 / top) - 1.0
        return x

    def call(self, inputs, training=False):
        """Likelihood parameters of every conditional ``p(x_i | x_<i)`` at once."""
        x = _common.as_float32(inputs)
        shape = tuple(x.shape)
        if len(shape) != 4 or any(
            s is not None and s != e for s, e in zip(shape[1:], self.image_shape)
        ):
            raise ValueError(
                f"PixelRNN expects inputs of shape (batch,) + {self.image_shape}. "
                f"Received: shape={shape}"
            )
        h = self.input_conv(self._network_input(x))
        for lstm, res in zip(self.lstm_layers, self.residual_convs):
            h = h + res(lstm(h))
        h = ops.relu(h)
        for conv in self.output_convs:
            h = conv(h)
        return self.params_conv(h)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.likelihood.params_shape(self.image_shape)[-1],)

    def sample(self, n, seed=None, verbose=1, method="cached"):
        """Generate ``n`` images autoregressively (raster order, R -> G -> B inside a pixel).

        Args:
            n: int, number of images.
            seed: int or None. The same int gives the same images; None draws
                a seed from the model's ``SeedGenerator`` (different images on
                every call).
            verbose: 1 shows a ``keras.utils.Progbar``; 0 is silent.
            method: ``"cached"`` (default): every layer is evaluated only at
                the new pixel, from one-row buffers of the layer inputs and
                the LSTM states of the previous row (one XLA-compiled loop over
                the image; see ``keras_genmodels.samplers.cached_sample``). ``"naive"``:
                ``H * W * C`` full forward passes through a compiled function
                (``keras_genmodels.samplers.naive_sample``), the reference.
                With the same int ``seed`` both give the same images (they
                use the same random draw at every step).

        Returns:
            NumPy ``float32`` ``(n, H, W, C)``: {0, 1} for ``"bernoulli"``,
            integers ``0..num_classes - 1`` for ``"categorical"``.

        Raises:
            ValueError: for a non-positive ``n``, a ``seed`` that is not an
                int or None, or an unknown ``method``.

        Example:

        >>> from keras_genmodels.models import PixelRNN
        >>> model = PixelRNN((4, 4, 1), kind="row_lstm", hidden_units=4, num_layers=1)
        >>> fast = model.sample(2, seed=0, verbose=0)
        >>> slow = model.sample(2, seed=0, verbose=0, method="naive")
        >>> bool((fast == slow).all())
        True
        """
        return self.generate(n, seed=seed, verbose=verbose, method=method)

    # ---------------------------------------------------------- cache layout
    # What the new pixel (i, j) needs, layer by layer (the teacher-forced
    # network is ``call``; every 1x1 convolution is a matrix product at (i, j)):
    #
    # * the mask-A ``k x k`` input convolution: the rows above from a
    #   zero-padded cache of the image, once per row; the centre-row taps
    #   from a one-row buffer, at each pixel (``MaskedConv2D.rows_above`` /
    #   ``at_pixel``, the PixelCNN scheme);
    # * Row LSTM: the state-to-state term of row i only involves the finished
    #   row i - 1 (``RowLSTM.row_term``, once per row); the input-to-state
    #   term reads a one-row buffer of the layer's input (mask B taps left
    #   of j and j); the state at (i, j) is exact at pixel j
    #   (``RowLSTM.pixel_step``); rows i - 1 -> i of (h, c) are buffers;
    # * Diagonal BiLSTM: in image coordinates the left-to-right stream at
    #   (i, j) reads its above and left neighbours (``left_pixel_step``); the
    #   right-to-left stream enters shifted down a row, so row i of it is one
    #   right-to-left scan once row i is finished (``right_row``), from the
    #   input-to-state terms stored at each pixel.
    #
    # Every quantity is computed once per pixel (once per row for the row
    # terms), exactly as in the layers; all buffers have fixed sizes. With
    # several colour channels the pixel is recomputed once per channel; each
    # pass overwrites the buffers' column j and reads the previous row's
    # states, which no pass modifies.
    def cache_weights(self):
        """The tensors the cached sampler reads (passed to its compiled loop on every call)."""
        return {
            "input": self.input_conv.cached_kernels(),
            "layers": [(lstm.cached_weights(), res.cached_kernels())
                       for lstm, res in zip(self.lstm_layers, self.residual_convs)],
            "output": [conv.cached_kernels() for conv in self.output_convs + [self.params_conv]],
        }

    def build_cache(self, n):
        """Zero caches and row buffers (fixed sizes): the padded image and per layer a few rows."""
        height, width, channels = self.image_shape
        p = self.input_kernel_size // 2
        u, f = self.hidden_units, 2 * self.hidden_units
        zeros = buffers.zeros
        layers = []
        for lstm in self.lstm_layers:
            if isinstance(lstm, RowLSTM):
                q = lstm.kernel_size // 2
                layers.append({
                    "input_row": zeros(n, 1, width + q, f),  # layer input, row i (left pad q)
                    "h_above": zeros(n, 1, width, u),        # states of row i - 1
                    "c_above": zeros(n, 1, width, u),
                    "h_row": zeros(n, 1, width, u),          # states of row i
                    "c_row": zeros(n, 1, width, u),
                })
            else:
                layers.append({
                    "h_above": zeros(n, 1, width, u),        # left stream, row i - 1
                    "h_row": zeros(n, 1, width + 1, u),      # left stream, row i (column 0: j = -1)
                    "c_row": zeros(n, 1, width + 1, u),
                    "z_right": zeros(n, 1, width, 4 * u),    # right stream input-to-state, row i
                    "h_right": zeros(n, 1, width, u),        # right stream, row i - 1
                })
        return {"x": zeros(n, height + p, width + 2 * p, channels),
                "x_row": zeros(n, 1, width + p, channels), "layers": layers}

    def cache_row_start(self, weights, cache, i, condition):
        """Row ``i``'s terms from finished rows: the input convolution's and each Row LSTM's."""
        del condition  # unconditional
        p = self.input_kernel_size // 2
        terms = [self.input_conv.rows_above(buffers.strip(cache["x"], i, p), weights["input"])]
        for lstm, (w, _), layer in zip(self.lstm_layers, weights["layers"], cache["layers"]):
            terms.append(lstm.row_term(layer["h_above"][:, 0], w)
                         if isinstance(lstm, RowLSTM) else None)
        return cache, terms

    def call_with_cache(self, weights, cache, context, i, j):
        """Parameters ``(n, num_params)`` at pixel (i, j); updates the row buffers."""
        p = self.input_kernel_size // 2
        h = self.input_conv.at_pixel(buffers.row_window(cache["x_row"], j, p + 1),
                                     weights["input"], buffers.column(context[0], j))
        layers = []
        for lstm, res, (w, w_res), layer, term in zip(
                self.lstm_layers, self.residual_convs, weights["layers"], cache["layers"],
                context[1:]):
            layer = dict(layer)
            if isinstance(lstm, RowLSTM):
                q = lstm.kernel_size // 2
                layer["input_row"] = buffers.put(layer["input_row"], j + q, h)
                out, c = lstm.pixel_step(buffers.row_window(layer["input_row"], j, q + 1),
                                         buffers.column(term, j),
                                         buffers.row_window(layer["c_above"], j, 1), w)
                layer["h_row"] = buffers.put(layer["h_row"], j, out)
                layer["c_row"] = buffers.put(layer["c_row"], j, c)
            else:
                left, c, z_right = lstm.left_pixel_step(
                    h, buffers.row_window(layer["h_above"], j, 1),
                    buffers.row_window(layer["h_row"], j, 1),
                    buffers.row_window(layer["c_row"], j, 1), w)
                layer["z_right"] = buffers.put(layer["z_right"], j, z_right)
                layer["h_row"] = buffers.put(layer["h_row"], j + 1, left)
                layer["c_row"] = buffers.put(layer["c_row"], j + 1, c)
                # The right stream enters shifted down a row: row i - 1's.
                out = left + buffers.row_window(layer["h_right"], j, 1)
            h = h + res.at_pixel(out, w_res)
            layers.append(layer)
        h = ops.relu(h)
        for conv, w in zip(self.output_convs + [self.params_conv], weights["output"]):
            h = conv.at_pixel(h, w)
        return h, dict(cache, layers=layers)

    def cache_write(self, weights, cache, context, i, j, values):
        """The new pixel's values (network units) into the image's row buffer."""
        p = self.input_kernel_size // 2
        return dict(cache, x_row=buffers.put(cache["x_row"], j + p, self._network_input(values)))

    def cache_row_end(self, weights, cache, context, i):
        """Row ``i`` is finished: it becomes the row above of every cache (and the right streams run)."""
        p = self.input_kernel_size // 2
        layers = []
        for lstm, (w, _), layer in zip(self.lstm_layers, weights["layers"], cache["layers"]):
            if isinstance(lstm, RowLSTM):
                layers.append(dict(layer, h_above=layer["h_row"], c_above=layer["c_row"]))
            else:
                h_right = lstm.right_row(layer["z_right"][:, 0], layer["h_right"][:, 0], w)
                layers.append(dict(layer, h_above=layer["h_row"][:, :, 1:],
                                   h_right=h_right[:, None]))
        return dict(cache, x=buffers.write_row(cache["x"], i, p, cache["x_row"]), layers=layers)

    def get_config(self):
        config = super().get_config()
        config.pop("event_shape", None)
        config.update({
            "image_shape": self.image_shape,
            "kind": self.kind,
            "hidden_units": self.hidden_units,
            "num_layers": self.num_layers,
            "output_units": self.output_units,
            "kernel_size": self.kernel_size,
            "input_kernel_size": self.input_kernel_size,
            "unroll": self.unroll,
        })
        return config


def _check_image_shape(image_shape):
    try:
        shape = tuple(int(d) for d in image_shape)
        ok = len(shape) == 3 and all(d >= 1 for d in shape) and all(
            float(d) == float(s) for d, s in zip(shape, image_shape)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "image_shape must be a tuple (height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    return shape


def cached_sample(model, n, seed=None, verbose=1):
    """Deprecated alias of ``keras_genmodels.samplers.cached_sample`` (one release).

    Example:

    >>> import warnings
    >>> from keras_genmodels.models import PixelRNN
    >>> from keras_genmodels.models.pixel_rnn import cached_sample
    >>> model = PixelRNN((3, 3, 1), hidden_units=2, num_layers=1)
    >>> with warnings.catch_warnings(record=True):
    ...     cached_sample(model, 2, seed=0, verbose=0).shape
    (2, 3, 3, 1)
    """
    _deprecated("cached_sample")
    _common.check_int("n", n)
    return samplers.cached_sample(model, n, seed=seed, verbose=verbose)


def cached_params(model, x):
    """Deprecated alias of ``keras_genmodels.samplers.cached_params`` (one release).

    Example:

    >>> import warnings
    >>> import numpy as np
    >>> from keras_genmodels.models import PixelRNN
    >>> from keras_genmodels.models.pixel_rnn import cached_params
    >>> model = PixelRNN((3, 3, 1), hidden_units=2, num_layers=1)
    >>> with warnings.catch_warnings(record=True):
    ...     cached_params(model, np.zeros((2, 3, 3, 1), "float32")).shape
    (2, 3, 3, 1)
    """
    _deprecated("cached_params")
    return samplers.cached_params(model, x)


def _deprecated(name):
    warnings.warn(
        f"keras_genmodels.models.pixel_rnn.{name} is deprecated; use "
        f"keras_genmodels.samplers.{name}.", DeprecationWarning, stacklevel=3)
