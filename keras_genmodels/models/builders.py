"""Small network builders for the models' examples and benchmarks."""

import math

import keras


def mlp_vae_networks(input_shape, latent_dim, hidden_units=(500, 500), activation="softplus",
                     params_per_value=1, name="vae"):
    """Encoder and decoder MLPs for a VAE on data of shape ``input_shape``.

    The encoder outputs ``[z_mean, z_log_var]``; the decoder outputs
    ``params_per_value * prod(input_shape)`` values reshaped to
    ``input_shape[:-1] + (input_shape[-1] * params_per_value,)`` (logits for
    a Bernoulli likelihood when ``params_per_value=1``).

    Args:
        input_shape: tuple, data shape without the batch axis.
        latent_dim: int, size of ``z``.
        hidden_units: tuple of ints, hidden layer sizes (the decoder mirrors them).
        activation: hidden activation.
        params_per_value: int, likelihood parameters per data value.

    Returns:
        ``(encoder, decoder)`` functional ``keras.Model`` s.

    Example:

    >>> encoder, decoder = mlp_vae_networks((28, 28, 1), latent_dim=50)
    """
    input_shape = tuple(input_shape)
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}")
    x = keras.Input(input_shape, name="x")
    h = keras.layers.Flatten()(x)
    for units in hidden_units:
        h = keras.layers.Dense(units, activation=activation)(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    encoder = keras.Model(x, [z_mean, z_log_var], name=f"{name}_encoder")

    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in reversed(hidden_units):
        h = keras.layers.Dense(units, activation=activation)(h)
    out_shape = input_shape[:-1] + (input_shape[-1] * params_per_value,)
    h = keras.layers.Dense(math.prod(out_shape))(h)
    params = keras.layers.Reshape(out_shape, name="params")(h)
    decoder = keras.Model(z, params, name=f"{name}_decoder")
    return encoder, decoder
