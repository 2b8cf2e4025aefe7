"""PixelRNN (van den Oord et al., 2016): Row LSTM and Diagonal BiLSTM image models."""

import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels import sampling as sampling_lib
from keras_genmodels._api import register
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.pixel_rnn import DiagonalBiLSTM
from keras_genmodels.layers.pixel_rnn import RowLSTM
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel

KINDS = ("row_lstm", "diagonal_bilstm")
_SUPPORTED = (likelihoods_lib.Bernoulli, likelihoods_lib.Categorical)
SAMPLING_METHODS = ("cached", "naive")


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

    ``sample`` uses a cached sampler by default (:func:`cached_sample`):
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
                the image; see :func:`cached_sample`). ``"naive"``:
                ``H * W * C`` full forward passes through a compiled function
                (``keras_genmodels.sampling.naive_sample``), the reference.
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
        _common.check_int("n", n)
        if method not in SAMPLING_METHODS:
            raise ValueError(
                f"Unknown sampling method. Expected one of {SAMPLING_METHODS}. "
                f"Received: method={method!r}"
            )
        if method == "naive":
            return sampling_lib.naive_sample(self, n, seed=seed, verbose=verbose)
        return cached_sample(self, n, seed=seed, verbose=verbose)

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


# ----------------------------------------------------------- cached sampler
#
# What the new pixel (i, j) needs, layer by layer (the teacher-forced network
# is ``PixelRNN.call``; every 1x1 convolution is a matrix product at (i, j)):
#
# * mask-A ``k x k`` input convolution: the rows above come from a zero-padded
#   cache of the image (written when a row is finished), computed for the
#   whole row at its start; the centre-row taps left of j (and the centre,
#   colour-masked) from a one-row buffer of the current row, at each pixel
#   (the scheme of ``keras_genmodels.sampling.cached_sample``).
#
# * Row LSTM: the gates at (i, j) are
#   ``K_is (*) x[i, j - k//2 .. j] + K_ss (*) h[i - 1, j - k//2 .. j + k//2] + b``
#   and the cell update reads ``c[i - 1, j]``. The state-to-state term only
#   involves the finished row i - 1 (all columns, including those right of
#   j), so it is one 1D convolution for the whole row at its start; the
#   input-to-state term reads a one-row buffer of the layer's input (taps
#   left of j and j itself, mask B). The state at (i, j) therefore depends on
#   no input right of j of row i: it is computed exactly at pixel j, and
#   rows i - 1 -> i of (h, c) are two ``(n, W, units)`` buffers.
#
# * Diagonal BiLSTM: in image coordinates the skewed column recurrence is
#   ``L(i, j) = LSTM(z_L(i, j) + K_l [hL(i-1, j); hL(i, j-1)], cL(i, j-1))``
#   (the left-to-right stream: above and left neighbours; the padding left
#   of each skewed row stays exactly zero, and the padding on the right never
#   feeds a real pixel), so L is computed per pixel from the previous row's
#   hL and the current row's (hL, cL) buffers. The right-to-left stream is
#   the same with the right neighbour, ``R(i, j)`` from ``R(i-1, j)`` and
#   ``R(i, j+1)``: row i of R needs the layer input of the whole row i, but
#   the layer adds ``R`` shifted down one row, so pixel (i, j) reads only
#   ``R(i-1, j)``. Row i of R is one right-to-left scan over the columns when
#   row i is finished (its input-to-state terms were stored at each pixel).
#   Every quantity is thus computed once per pixel (once per row for R),
#   exactly as in the layer, with no recomputation of diagonals.
#
# All buffers have fixed sizes, allocated once per call: the padded image
# cache ``(n, H + p, W + 2p, C)`` and per layer a few ``(n, W (+pad), units)``
# rows. The rows are an ``ops.fori_loop`` around the pixels' ``ops.fori_loop``
# in one XLA computation; the draws use the seed ``[s, t]`` of step ``t`` as
# ``keras_genmodels.sampling.naive_sample`` does, so both samplers return the
# same images for the same int seed. With several colour channels the pixel
# is recomputed once per channel (R, then G, then B); each pass overwrites
# the buffers' column j and reads the previous row's states, which no pass
# modifies.

_split = sampling_lib._split
_matrix = sampling_lib._matrix
_dense = sampling_lib._dense
_window = sampling_lib._row_window
_put = sampling_lib._put
_column = sampling_lib._column


def _is_row_lstm(lstm):
    return isinstance(lstm, RowLSTM)


def _rnn_weights(model):
    """The tensors the cached sampler reads (passed to the compiled function)."""
    layers = []
    for lstm, res in zip(model.lstm_layers, model.residual_convs):
        w = {"recurrent": ops.convert_to_tensor(lstm.recurrent_kernel, "float32"),
             "residual": _matrix(res)}
        bias = ops.convert_to_tensor(lstm.bias, "float32")
        if _is_row_lstm(lstm):
            # (k//2 + 1) taps of the 1 x k mask-B kernel, as one matrix.
            w["input"] = _split(lstm.input_to_state)[1]
            w["bias"] = bias
        else:
            # The 1x1 kernel's columns [group][direction][gate][unit] reordered
            # to [direction][group][gate][unit]: left stream, then right stream.
            matrix = _matrix(lstm.input_to_state)[0]
            rows, g = matrix.shape[0], lstm.color_groups
            matrix = ops.reshape(matrix, (rows, g, 2, -1))
            w["input"] = ops.concatenate(
                [ops.reshape(matrix[:, :, d], (rows, -1)) for d in range(2)], axis=-1)
            w["bias"] = ops.reshape(bias, (-1,))
        layers.append(w)
    return {
        "input": _split(model.input_conv),
        "layers": layers,
        "output": [_matrix(conv) for conv in model.output_convs] + [_matrix(model.params_conv)],
    }


def _rnn_init_state(model, n, forced=None):
    """Zero caches and row buffers (fixed sizes) and the image being generated."""
    height, width, channels = model.image_shape
    p = model.input_kernel_size // 2
    u, f = model.hidden_units, 2 * model.hidden_units
    zeros = lambda *shape: ops.zeros(shape, "float32")  # noqa: E731
    layers = []
    for lstm in model.lstm_layers:
        if _is_row_lstm(lstm):
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
    state = {
        "image": zeros(n, height, width, channels),
        "x": zeros(n, height + p, width + 2 * p, channels),
        "x_row": zeros(n, 1, width + p, channels),
        "layers": layers,
    }
    if forced is not None:
        state["forced"] = ops.cast(ops.convert_to_tensor(forced), "float32")
        state["params"] = zeros(n, height, width, model.num_params)
    return state


# Buffers the pixel loop modifies (the others are read-only during a row).
_PIXEL_KEYS = {True: ("input_row", "h_row", "c_row"), False: ("h_row", "c_row", "z_right")}


def _rnn_pixel(model, weights, state, loop, j, x_above, row_terms):
    """Parameters ``(n, num_params)`` at pixel (i, j); updates the row buffers in ``loop``."""
    p = model.input_kernel_size // 2
    w_in = weights["input"]
    h = ops.matmul(_window(loop["x_row"], j, p + 1), w_in[1]) + _column(x_above, j)
    buffers = []
    for lstm, w, fixed, buf, row_term in zip(model.lstm_layers, weights["layers"],
                                              state["layers"], loop["layers"], row_terms):
        u = lstm.units
        buf = dict(buf)
        if _is_row_lstm(lstm):
            q = lstm.kernel_size // 2
            buf["input_row"] = _put(buf["input_row"], j + q, h)
            z = ops.matmul(_window(buf["input_row"], j, q + 1), w["input"]) + w["bias"]
            out, c = lstm._cell(z + _column(row_term, j), _window(fixed["c_above"], j, 1))
            buf["h_row"] = _put(buf["h_row"], j, out)
            buf["c_row"] = _put(buf["c_row"], j, c)
        else:
            z = ops.matmul(h, w["input"]) + w["bias"]
            buf["z_right"] = _put(buf["z_right"], j, z[:, 4 * u:])
            neighbours = ops.concatenate(
                [_window(fixed["h_above"], j, 1), _window(buf["h_row"], j, 1)], axis=-1)
            left, c = lstm._cell(z[:, :4 * u] + ops.matmul(neighbours, w["recurrent"][0]),
                                 _window(buf["c_row"], j, 1))
            buf["h_row"] = _put(buf["h_row"], j + 1, left)
            buf["c_row"] = _put(buf["c_row"], j + 1, c)
            out = left + _window(fixed["h_right"], j, 1)  # right stream, shifted down a row
        h = h + _dense(out, w["residual"])
        buffers.append(buf)
    h = ops.relu(h)
    out0, out1, last = weights["output"]
    h = ops.relu(_dense(h, out0))
    h = ops.relu(_dense(h, out1))
    return _dense(h, last), dict(loop, layers=buffers)


def _right_stream_rows(model, weights, layers):
    """Row i of the right-to-left stream of every Diagonal BiLSTM, once row i is finished.

    ``R(i, j) = LSTM(z_R(i, j) + K_r [hR(i-1, j); hR(i, j+1)], cR(i, j+1))``,
    a scan over the columns from ``W - 1`` down to 0. Returns the layers'
    buffers with ``h_right`` replaced by row i.
    """
    width = model.image_shape[1]
    which = [l for l, lstm in enumerate(model.lstm_layers) if not _is_row_lstm(lstm)]
    if not which:
        return layers
    n = layers[which[0]]["h_right"].shape[0]
    carry = []
    for l in which:
        u = model.lstm_layers[l].units
        carry.append((ops.zeros((n, 1, width + 1, u), "float32"),
                      ops.zeros((n, 1, width + 1, u), "float32")))

    def column(s, carry):
        j = width - 1 - s
        new = []
        for l, (h_new, c_new) in zip(which, carry):
            lstm, w, buf = model.lstm_layers[l], weights["layers"][l], layers[l]
            neighbours = ops.concatenate(
                [_window(buf["h_right"], j, 1), _window(h_new, j + 1, 1)], axis=-1)
            h, c = lstm._cell(_window(buf["z_right"], j, 1)
                              + ops.matmul(neighbours, w["recurrent"][1]),
                              _window(c_new, j + 1, 1))
            new.append((_put(h_new, j, h), _put(c_new, j, c)))
        return new

    carry = ops.fori_loop(0, width, column, carry)
    layers = list(layers)
    for l, (h_new, _) in zip(which, carry):
        layers[l] = dict(layers[l], h_right=h_new[:, :, :width])
    return layers


def _rnn_row_function(model, n, forced):
    """``(weights, state, i, base_seed) -> state``: generates (or teacher-forces) row ``i``."""
    width, channels = model.image_shape[1:]
    groups = model.sampling_channel_groups
    lik = model.likelihood
    num_params = model.num_params
    value_masks = np.stack([np.isin(np.arange(channels), g) for g in groups]).astype("float32")
    per_value = num_params // channels
    param_masks = np.stack([np.isin(np.arange(num_params) // per_value, g)
                            for g in groups]).astype("float32")
    p = model.input_kernel_size // 2

    def row(weights, state, i, base):
        z = sampling_lib._zero(i)
        w_in = weights["input"]
        x_above = sampling_lib._above(state["x"], i, w_in[0], w_in[2])
        row_terms = []
        for lstm, w, fixed in zip(model.lstm_layers, weights["layers"], state["layers"]):
            if _is_row_lstm(lstm):  # K_ss (*) h[i - 1] for the whole row
                row_terms.append(ops.conv(fixed["h_above"][:, 0], w["recurrent"], padding="same"))
            else:
                row_terms.append(None)
        loop = {
            "x_row": state["x_row"],
            "row": ops.zeros((n, 1, width, channels), "float32"),
            "layers": [{k: fixed[k] for k in _PIXEL_KEYS[_is_row_lstm(lstm)]}
                       for lstm, fixed in zip(model.lstm_layers, state["layers"])],
        }
        if forced:
            target = ops.slice(state["forced"], (z, i, z, z), (n, 1, width, channels))
            loop["params"] = ops.zeros((n, 1, width, num_params), "float32")

        def channel(j, g, loop):
            """Draw (or read) the values of channel group ``g`` of pixel (i, j)."""
            params, loop = _rnn_pixel(model, weights, state, loop, j, x_above, row_terms)
            if forced:
                values = _window(target, j, 1)
                old = _window(loop["params"], j, 1)
                mask = ops.take(param_masks, g, axis=0)
                loop = dict(loop, params=_put(loop["params"], j, old + mask * (params - old)))
            else:
                t = (i * width + j) * len(groups) + g
                values = lik.sample(ops.reshape(params, (n, 1, 1, -1)),
                                    seed=sampling_lib._step_seed(base, t))
                values = ops.reshape(ops.cast(values, "float32"), (n, channels))
            old = _window(loop["row"], j, 1)
            new = old + ops.take(value_masks, g, axis=0) * (values - old)
            return dict(loop, row=_put(loop["row"], j, new),
                        x_row=_put(loop["x_row"], j + p, model._network_input(new)))

        def pixel(j, loop):
            if len(groups) == 1:
                return channel(j, ops.zeros_like(j), loop)
            # A loop over the channel groups (not unrolled: a third of the
            # graph to compile for RGB).
            return ops.fori_loop(0, len(groups), lambda g, lp: channel(j, g, lp), loop)

        loop = ops.fori_loop(0, width, pixel, loop)
        # Row i is finished: it becomes the "above" row of every cache.
        layers = []
        for lstm, fixed, buf in zip(model.lstm_layers, state["layers"], loop["layers"]):
            if _is_row_lstm(lstm):
                layers.append(dict(fixed, input_row=buf["input_row"], h_row=buf["h_row"],
                                   c_row=buf["c_row"], h_above=buf["h_row"],
                                   c_above=buf["c_row"]))
            else:
                layers.append(dict(fixed, h_row=buf["h_row"], c_row=buf["c_row"],
                                   z_right=buf["z_right"], h_above=buf["h_row"][:, :, 1:]))
        layers = _right_stream_rows(model, weights, layers)
        state = dict(
            state,
            image=ops.slice_update(state["image"], (z, i, z, z), loop["row"]),
            x=sampling_lib._write_row(state["x"], i, p, loop["x_row"]),
            x_row=loop["x_row"],
            layers=layers,
        )
        if forced:
            state["params"] = ops.slice_update(state["params"], (z, i, z, z), loop["params"])
        return state

    return row


def _run_rnn_rows(model, n, seed, verbose, forced=None):
    return sampling_lib._run_row_loop(
        model, lambda: _rnn_row_function(model, n, forced is not None), (n, forced is not None),
        _rnn_weights(model), _rnn_init_state(model, n, forced), sampling_lib._base_seed(model, seed),
        verbose)


def cached_sample(model, n, seed=None, verbose=1):
    """Draw ``n`` images from a :class:`PixelRNN` with the cached (fast) sampler.

    Each new pixel evaluates every layer at that pixel only: the mask-A input
    convolution from a cache of the finished rows and a one-row buffer; the
    Row LSTM from a one-row buffer of its input and the previous row's
    ``(h, c)`` (its state-to-state convolution computed once per row); the
    Diagonal BiLSTM's left-to-right stream from its above and left
    neighbours, and its right-to-left stream (which the layer shifts down a
    row) from one right-to-left scan per finished row. The whole image is
    one XLA-compiled loop. Same int seed, same images as
    ``keras_genmodels.sampling.naive_sample``: both draw step ``t`` with the
    seed ``[seed, t]``, and the parameters agree to float rounding.

    Args:
        model: a ``keras_genmodels.models.PixelRNN`` (either kind).
        n: int, number of images.
        seed: int or None (a seed drawn from ``model.seed_generator``).
        verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over the rows).

    Returns:
        NumPy ``float32`` array ``(n, H, W, C)``.

    Memory: the zero-padded image ``(n, H + p, W + 2p, C)`` and, per layer, a
    few one-row buffers ``(n, W, units)``, allocated once; nothing grows with
    the number of pixels generated.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import PixelRNN
    >>> from keras_genmodels.models.pixel_rnn import cached_sample
    >>> model = PixelRNN((4, 4, 1), kind="diagonal_bilstm", hidden_units=4, num_layers=1)
    >>> images = cached_sample(model, 2, seed=0, verbose=0)
    >>> images.shape, bool(np.isin(images, [0.0, 1.0]).all())
    ((2, 4, 4, 1), True)

    References:
        Ramachandran et al., "Fast Generation for Convolutional
        Autoregressive Models", ICLR 2017 workshop (the caching idea);
        van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016.
    """
    _common.check_int("n", n)
    state = _run_rnn_rows(model, n, seed, verbose)
    return ops.convert_to_numpy(state["image"]).astype("float32")


def cached_params(model, x):
    """The conditionals' parameters of ``x`` computed by the cached sampler's recursion.

    Teacher forcing through the same per-pixel computation as
    :func:`cached_sample` (values read from ``x`` instead of sampled). It
    equals ``model(x)`` up to float rounding; the tests use it to check the
    caches independently of the random draws.

    Args:
        model: a ``PixelRNN``.
        x: images ``(n, H, W, C)`` in the data's units (binary, or integers
            for ``"categorical"``).

    Returns:
        NumPy ``float32`` array ``(n, H, W, num_params)``.

    Raises:
        ValueError: when ``x`` does not have the shape ``(n,) + image_shape``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import PixelRNN
    >>> from keras_genmodels.models.pixel_rnn import cached_params
    >>> model = PixelRNN((4, 4, 1), kind="row_lstm", hidden_units=4, num_layers=1)
    >>> x = (np.random.rand(2, 4, 4, 1) < 0.5).astype("float32")
    >>> params = cached_params(model, x)
    >>> params.shape, bool(np.allclose(params, keras.ops.convert_to_numpy(model(x)), atol=1e-5))
    ((2, 4, 4, 1), True)
    """
    x = np.asarray(x, "float32")
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(model.image_shape) or x.shape[0] < 1:
        raise ValueError(
            f"cached_params expects images of shape (n,) + {tuple(model.image_shape)}. "
            f"Received: shape={x.shape}"
        )
    state = _run_rnn_rows(model, x.shape[0], 0, 0, forced=x)
    return ops.convert_to_numpy(state["params"])
