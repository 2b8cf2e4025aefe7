"""DCGAN-style generator and discriminator builders (Radford et al., 2016)."""

import keras

from keras_genmodels.models import _common


def _check_image_shape(image_shape):
    shape = tuple(image_shape)
    if len(shape) != 3 or any(not isinstance(d, int) or d < 1 for d in shape):
        raise ValueError(
            f"image_shape must be (height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    h, w, _ = shape
    if h % 4 or w % 4:
        raise ValueError(
            "The DCGAN builders up/down-sample twice by 2, so height and width must be "
            f"multiples of 4 (e.g. 28x28x1, 32x32x3, 64x64x3). Received: image_shape={shape}"
        )
    return shape


def dcgan_generator(image_shape, latent_dim, base_filters=64, num_classes=None,
                    output_activation="tanh", name="generator"):
    """DCGAN generator: ``z -> Dense -> (h/4, w/4, 2f) -> 2 x ConvTranspose(stride 2) -> image``.

    Batch normalization and ReLU between layers, ``tanh`` output (images in
    ``[-1, 1]``). With ``num_classes`` the model takes ``[z, labels]``
    (integer labels, shape ``(batch,)``) and concatenates a learned label
    embedding to ``z`` (conditional GAN, Mirza & Osindero 2014).

    Args:
        image_shape: ``(height, width, channels)``, height and width multiples of 4.
        latent_dim: int, size of ``z``.
        base_filters: int, filters of the last hidden convolution (the first has twice).
        num_classes: int or None, for a conditional generator.
        output_activation: activation of the output layer.
        name: model name.

    Returns:
        A functional ``keras.Model``.

    Raises:
        ValueError: for image sizes that are not multiples of 4 or bad ints.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import dcgan_generator
    >>> g = dcgan_generator((32, 32, 3), latent_dim=128, base_filters=16)
    >>> g.output_shape
    (None, 32, 32, 3)
    >>> images = keras.ops.convert_to_numpy(g(np.random.normal(size=(2, 128))))
    >>> images.shape, bool(np.all(np.abs(images) <= 1.0))   # tanh output
    ((2, 32, 32, 3), True)

    References:
        Radford, Metz & Chintala, "Unsupervised Representation Learning with
        Deep Convolutional Generative Adversarial Networks", ICLR 2016.
    """
    h, w, c = _check_image_shape(image_shape)
    _common.check_int("latent_dim", latent_dim)
    _common.check_int("base_filters", base_filters)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    hidden = z
    if num_classes is not None:
        _common.check_int("num_classes", num_classes)
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        emb = keras.layers.Embedding(num_classes, latent_dim, name="label_embedding")(labels)
        hidden = keras.layers.Concatenate()([z, emb])
    f = 2 * base_filters
    hidden = keras.layers.Dense((h // 4) * (w // 4) * f, use_bias=False)(hidden)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.ReLU()(hidden)
    hidden = keras.layers.Reshape((h // 4, w // 4, f))(hidden)
    hidden = keras.layers.Conv2DTranspose(base_filters, 4, strides=2, padding="same",
                                          use_bias=False)(hidden)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.ReLU()(hidden)
    out = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same",
                                       activation=output_activation, name="image")(hidden)
    return keras.Model(inputs if len(inputs) > 1 else z, out, name=name)


def dcgan_discriminator(image_shape, base_filters=64, num_classes=None, dropout=0.3,
                        name="discriminator"):
    """DCGAN discriminator: ``2 x Conv(stride 2) + LeakyReLU(0.2) -> Dense(1)`` logits.

    No batch normalization, so it also serves as a WGAN-GP critic (the
    penalty is per example). With ``num_classes`` it takes ``[x, labels]``
    and appends a learned ``(h, w, 1)`` label map to the image channels.

    Args:
        image_shape: ``(height, width, channels)``, height and width multiples of 4.
        base_filters: int, filters of the first convolution (the second has twice).
        num_classes: int or None, for a conditional discriminator.
        dropout: float in [0, 1), dropout after each convolution.
        name: model name.

    Returns:
        A functional ``keras.Model`` with output ``(batch, 1)`` (logits).

    Raises:
        ValueError: for image sizes that are not multiples of 4 or bad numbers.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import dcgan_discriminator
    >>> d = dcgan_discriminator((28, 28, 1), base_filters=8)
    >>> d.output_shape   # logits
    (None, 1)
    >>> d_cond = dcgan_discriminator((28, 28, 1), base_filters=8, num_classes=10)
    >>> logits = d_cond([np.zeros((2, 28, 28, 1), "float32"), np.array([3, 7])])
    >>> tuple(logits.shape)
    (2, 1)

    References:
        Radford, Metz & Chintala, ICLR 2016.
    """
    h, w, c = _check_image_shape(image_shape)
    _common.check_int("base_filters", base_filters)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout!r}")
    x = keras.Input((h, w, c), name="x")
    inputs = [x]
    hidden = x
    if num_classes is not None:
        _common.check_int("num_classes", num_classes)
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        emb = keras.layers.Embedding(num_classes, h * w, name="label_embedding")(labels)
        emb = keras.layers.Reshape((h, w, 1))(emb)
        hidden = keras.layers.Concatenate()([x, emb])
    for filters in (base_filters, 2 * base_filters):
        hidden = keras.layers.Conv2D(filters, 4, strides=2, padding="same")(hidden)
        hidden = keras.layers.LeakyReLU(0.2)(hidden)
        if dropout:
            hidden = keras.layers.Dropout(dropout)(hidden)
    hidden = keras.layers.Flatten()(hidden)
    out = keras.layers.Dense(1, name="logit")(hidden)
    return keras.Model(inputs if len(inputs) > 1 else x, out, name=name)
