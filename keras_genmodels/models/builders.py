"""Small network builders for the models' examples and benchmarks."""

import math

import keras


def mlp_vae_networks(input_shape, latent_dim, hidden_units=(500, 500), activation="softplus",
                     params_per_value=1, name="vae", num_classes=None):
    """Encoder and decoder MLPs for a VAE on data of shape ``input_shape``.

    The encoder outputs ``[z_mean, z_log_var]``; the decoder outputs
    ``params_per_value * prod(input_shape)`` values reshaped to
    ``input_shape[:-1] + (input_shape[-1] * params_per_value,)`` (logits for
    a Bernoulli likelihood when ``params_per_value=1``).

    With ``num_classes=K`` the networks are conditional, for
    ``models.VAE(..., num_classes=K)``: the encoder takes ``[x, y_onehot]``
    and the decoder ``[z, y_onehot]`` (``y_onehot`` of shape ``(batch, K)``,
    concatenated to the flattened ``x`` and to ``z``).

    Args:
        input_shape: tuple, data shape without the batch axis.
        latent_dim: int, size of ``z``.
        hidden_units: tuple of ints, hidden layer sizes (the decoder mirrors them).
        activation: hidden activation.
        params_per_value: int, likelihood parameters per data value.
        name: str, prefix of the networks' names.
        num_classes: int or None, for conditional networks.

    Returns:
        ``(encoder, decoder)`` functional ``keras.Model`` s.

    Example:

    >>> from keras_genmodels.models import mlp_vae_networks
    >>> encoder, decoder = mlp_vae_networks((28, 28, 1), latent_dim=50)
    >>> [tuple(t.shape) for t in encoder.outputs], tuple(decoder.output.shape)
    ([(None, 50), (None, 50)], (None, 28, 28, 1))
    >>> encoder, decoder = mlp_vae_networks((28, 28, 1), 16, num_classes=10)  # conditional
    >>> [tuple(t.shape) for t in decoder.inputs]   # [z, y_onehot]
    [(None, 16), (None, 10)]
    """
    input_shape = tuple(input_shape)
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}")
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"num_classes must be an int >= 1 or None. Received: num_classes="
                         f"{num_classes!r}")
    x = keras.Input(input_shape, name="x")
    h = keras.layers.Flatten()(x)
    if num_classes is not None:
        y = keras.Input((num_classes,), name="y_onehot")
        h = keras.layers.Concatenate()([h, y])
    for units in hidden_units:
        h = keras.layers.Dense(units, activation=activation)(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    encoder = keras.Model(x if num_classes is None else [x, y], [z_mean, z_log_var],
                          name=f"{name}_encoder")

    z = keras.Input((latent_dim,), name="z")
    h = z
    if num_classes is not None:
        y_dec = keras.Input((num_classes,), name="y_onehot")
        h = keras.layers.Concatenate()([z, y_dec])
    for units in reversed(hidden_units):
        h = keras.layers.Dense(units, activation=activation)(h)
    out_shape = input_shape[:-1] + (input_shape[-1] * params_per_value,)
    h = keras.layers.Dense(math.prod(out_shape))(h)
    params = keras.layers.Reshape(out_shape, name="params")(h)
    decoder = keras.Model(z if num_classes is None else [z, y_dec], params,
                          name=f"{name}_decoder")
    return encoder, decoder
