"""The plain deterministic autoencoder."""

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels._api import register
from keras_genmodels.likelihoods.base import sum_non_batch
from keras_genmodels.models import _common
from keras_genmodels.models._trainer import SingleLossModel
from keras_genmodels.presets import PresetMixin

_SQUARED_ERROR = ("mse", "squared_error")


@register
class Autoencoder(PresetMixin, SingleLossModel, keras.Model):
    """Deterministic autoencoder ``x_hat = decoder(encoder(x))``.

    Trained to minimise a per-example reconstruction loss averaged over the
    batch:

    - ``loss="mse"``: the squared error ``||x - x_hat||^2`` summed over all
      dimensions of an example (the autoencoder of the theory, i.e. a
      Gaussian likelihood with unit variance up to a constant and factor 1/2);
    - a likelihood (name such as ``"bernoulli"``, a
      ``keras_genmodels.likelihoods.Likelihood`` or its config): the decoder
      outputs the likelihood's parameters and the loss is
      ``-log p(x | decoder(encoder(x)))`` in nats.

    ``fit``/``evaluate`` show ``loss`` (reconstruction loss plus any losses
    the sub-networks add, e.g. weight regularizers) and
    ``reconstruction_loss``. ``encode(x)`` gives the code (usable as a feature
    extractor for :func:`keras_genmodels.metrics.frechet_distance_from_images`),
    ``anomaly_score(x)`` the per-example reconstruction loss (higher is more
    anomalous).

    Args:
        encoder: ``keras.Model`` mapping ``x`` to one code tensor.
        decoder: ``keras.Model`` mapping the code to ``x_hat`` (``"mse"``) or
            to the likelihood's parameters.
        loss: ``"mse"`` (alias ``"squared_error"``) or a likelihood.
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for non-Model networks, an encoder with several outputs,
            or an unknown loss.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.metrics import frechet_distance_from_images
    >>> from keras_genmodels.models import Autoencoder
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(32, 8, 8, 1)) < 0.5).astype("float32")  # binary images
    >>> x = keras.Input((8, 8, 1))
    >>> h = keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(x))
    >>> encoder = keras.Model(x, h)
    >>> z = keras.Input((4,))
    >>> out = keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(z))
    >>> decoder = keras.Model(z, out)
    >>> ae = Autoencoder(encoder, decoder, loss="bernoulli")
    >>> ae.compile(optimizer="adam")
    >>> history = ae.fit(x_train, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['loss', 'reconstruction_loss']
    >>> scores = ae.anomaly_score(x_train[:5])            # (n,), higher = stranger
    >>> scores.shape
    (5,)
    >>> tuple(ae.reconstruct(x_train[:5]).shape)          # pixel probabilities
    (5, 8, 8, 1)
    >>> fd = frechet_distance_from_images(x_train[:16], x_train[16:], ae.encoder)
    >>> fd >= 0.0
    True

    References:
        Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with
        Neural Networks", Science 2006.
        Goodfellow, Bengio & Courville, "Deep Learning", ch. 14, 2016.
    """

    # ``y`` is unused: ``fit(x, sample_weight=w)`` keeps ``w`` (see
    # ``_common.DataErrorsAsValueError``), and data errors in fit are ValueErrors.
    _ignores_y = True

    def __init__(self, encoder, decoder, loss="mse", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or not isinstance(decoder, keras.Model):
            raise ValueError(
                "Autoencoder needs keras.Model instances for encoder and decoder. Received: "
                f"encoder={type(encoder).__name__}, decoder={type(decoder).__name__}"
            )
        outputs = getattr(encoder, "outputs", None)
        if outputs is not None and len(outputs) != 1:
            raise ValueError(
                "The Autoencoder's encoder must have one output (the code). Received "
                f"{len(outputs)} outputs; for [z_mean, z_log_var] use models.VAE."
            )
        self.encoder = encoder
        self.decoder = decoder
        if isinstance(loss, str) and loss.lower() in _SQUARED_ERROR:
            self.loss_name = "mse"
            self.likelihood = None
        else:
            try:
                self.likelihood = likelihoods_lib.get(loss)
            except ValueError as e:
                raise ValueError(
                    f"loss must be 'mse' or a likelihood. Received: loss={loss!r} ({e})"
                ) from None
            self.loss_name = None
        self._trackers = _common.trackers("reconstruction_loss")
        if encoder.built and decoder.built:
            self.built = True

    # ------------------------------------------------------------------ API
    def encode(self, x, training=False):
        """The code ``encoder(x)``."""
        return self.encoder(x, training=training)

    def decode(self, z, training=False):
        """``x_hat`` (``"mse"``) or the likelihood's parameters for codes ``z``."""
        return self.decoder(z, training=training)

    def call(self, inputs, training=False):
        """``decoder(encoder(x))``: the reconstruction or the likelihood's parameters."""
        return self.decode(self.encode(inputs, training=training), training=training)

    def reconstruct(self, x, batch_size=256):
        """The reconstruction of ``x`` (the likelihood's mean, e.g. pixel probabilities)."""
        _common.check_int("batch_size", batch_size)
        x = np.asarray(x)
        out = []
        for start in range(0, len(x), batch_size):
            params = self(self._prepare(x[start:start + batch_size]), training=False)
            if self.likelihood is not None:
                params = self.likelihood.mean(params)
            out.append(ops.convert_to_numpy(params))
        return np.concatenate(out)

    def anomaly_score(self, x, batch_size=256):
        """Per-example reconstruction loss (NumPy ``(n,)``): higher is more anomalous."""
        _common.check_int("batch_size", batch_size)
        x = np.asarray(x)
        out = []
        for start in range(0, len(x), batch_size):
            xb = self._prepare(x[start:start + batch_size])
            out.append(ops.convert_to_numpy(self.reconstruction_errors(xb)))
        return np.concatenate(out)

    # --------------------------------------------------------------- losses
    def _prepare(self, x):
        x = _common.as_float32(x)
        x = _common.check_example_shape(self, x, _common.network_input_shape(self.encoder))
        if self.likelihood is not None:
            self.likelihood.validate(x)
        else:
            _backend.check_finite(x)
        return x

    def reconstruction_errors(self, x, training=False):
        """Per-example loss tensor ``(batch,)``: squared error or ``-log p(x | x_code)``."""
        return self._errors(x, self(x, training=training))

    def _errors(self, x, out):
        if self.likelihood is not None:
            return -self.likelihood.log_prob(x, out)
        if tuple(out.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(
                "With loss='mse' the decoder must output the shape of x. Received: "
                f"x {tuple(x.shape)}, decoder output {tuple(out.shape)}"
            )
        return sum_non_batch(ops.square(x - ops.cast(out, x.dtype)))

    def prepare_batch(self, x, y):
        return self._prepare(x), y

    def loss_terms(self, inputs, y_pred, sample_weight=None, training=False):
        recon = _common.weighted_mean(self._errors(inputs, y_pred), sample_weight)
        return {"loss": recon, "reconstruction_loss": recon}

    def compute_losses(self, x, sample_weight=None, training=False):
        """Batch losses as a dict: ``loss`` (with the layers' losses) and ``reconstruction_loss``."""
        terms = self.loss_terms(x, self(x, training=training), sample_weight, training=training)
        terms["loss"] = self._with_added_losses(terms["loss"])
        return terms

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": _common.serialize(self.encoder),
            "decoder": _common.serialize(self.decoder),
            "loss": "mse" if self.likelihood is None
            else likelihoods_lib.serialize(self.likelihood),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = _common.deserialize(config[key])
        if config.get("loss") != "mse":
            config["loss"] = likelihoods_lib.get(config["loss"])
        return cls(**config)
