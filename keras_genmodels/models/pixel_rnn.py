"""PixelRNN (van den Oord et al., 2016): Row LSTM and Diagonal BiLSTM image models."""

import keras
import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels._api import register
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.pixel_rnn import DiagonalBiLSTM
from keras_genmodels.layers.pixel_rnn import RowLSTM
from keras_genmodels.models import _common
from keras_genmodels.models.density import DensityModel

KINDS = ("row_lstm", "diagonal_bilstm")
_SUPPORTED = (likelihoods_lib.Bernoulli, likelihoods_lib.Categorical)


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

    Sampling is naive: ``height * width * channels`` full forward passes of
    a compiled prediction function (``predict_on_batch``), one value drawn per
    pass.

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

    >>> model = models.PixelRNN((28, 28, 1), kind="diagonal_bilstm", num_layers=2)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(x_train, batch_size=32, epochs=1)     # binary images
    >>> model.log_prob(x_valid)                          # (n,) nats
    >>> images = model.sample(4, seed=0)                 # (4, 28, 28, 1)

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
        num_params = self.likelihood.params_shape(image_shape)[-1]
        self.params_conv = MaskedConv2D(
            num_params, 1, mask_type="B", color_groups=groups, name="params"
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

    def sample(self, n, seed=None, verbose=1, batch_size=None):
        """Draw ``n`` images by ancestral sampling, one value at a time.

        Args:
            n: int, number of images.
            seed: int or None. The same int gives the same images; None
                advances the model's own ``SeedGenerator``.
            verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over values).
            batch_size: images generated together (default: all ``n``).

        Returns:
            NumPy array ``(n, height, width, channels)``: binary values for
            ``"bernoulli"``, integers ``0..255`` (as float32) for
            ``"categorical"``.
        """
        _common.check_int("n", n)
        batch_size = n if batch_size is None else _common.check_int("batch_size", batch_size)
        gen = keras.random.SeedGenerator(seed) if seed is not None else self.seed_generator
        height, width, channels = self.image_shape
        total = height * width * channels
        progbar = keras.utils.Progbar(total * -(-n // batch_size)) if verbose else None
        out = []
        for start in range(0, n, batch_size):
            x = np.zeros((min(batch_size, n - start),) + self.image_shape, "float32")
            for i in range(height):
                for j in range(width):
                    for c in range(channels):
                        params = self.predict_on_batch(x)[:, i:i + 1, j:j + 1]
                        draw = self.likelihood.sample(params, seed=gen)
                        x[:, i, j, c] = ops.convert_to_numpy(draw)[:, 0, 0, c]
                        if progbar is not None:
                            progbar.add(1)
            out.append(x)
        return np.concatenate(out)

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
