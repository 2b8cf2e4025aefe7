"""Adversarial losses on discriminator logits, and gradient penalties.

Every function takes the discriminator's raw outputs (logits ``l``, where
``D(x) = sigmoid(l)`` for the classic losses, or critic values for the
Wasserstein and hinge losses) of shape ``(batch, 1)`` or ``(batch,)`` and
returns a scalar: the batch mean of the per-example loss to *minimise*.
The log-probabilities are written with ``softplus`` (``-log sigmoid(l) =
softplus(-l)``, ``-log(1 - sigmoid(l)) = softplus(l)``), so they are exact and
finite for any logit.

=================  ==========================================  ====================================
family             discriminator loss                          generator loss
=================  ==========================================  ====================================
minimax            ``-log D(x) - log(1 - D(G(z)))``            ``log(1 - D(G(z)))`` (saturating)
non_saturating     same as minimax                             ``-log D(G(z))``
wasserstein        ``C(G(z)) - C(x)`` (+ gradient penalty)      ``-C(G(z))``
hinge              ``relu(1 - C(x)) + relu(1 + C(G(z)))``      ``-C(G(z))``
least_squares      ``((C(x) - 1)^2 + C(G(z))^2) / 2``          ``(C(G(z)) - 1)^2 / 2``
=================  ==========================================  ====================================

The minimax generator loss saturates: its gradient with respect to the
logit is ``-sigmoid(l)``, which vanishes when the discriminator confidently
rejects the samples (``D(G(z)) -> 0``), exactly when the generator most needs
a signal. The non-saturating loss has gradient ``-(1 - sigmoid(l)) -> -1``
there (Goodfellow et al., 2014, section 3).

:class:`GANLoss` bundles a family for the models (``models.GAN(loss=...)``);
:func:`get` resolves a name. :func:`gradient_penalty` (WGAN-GP) and
:func:`r1_penalty` need the discriminator's input gradients, which come from
``keras_genmodels._backend.input_gradients`` (on every backend).

Example:

>>> import numpy as np
>>> import keras
>>> from keras_genmodels.losses import gradient_penalty
>>> from keras_genmodels.losses import minimax_discriminator_loss
>>> from keras_genmodels.losses import non_saturating_generator_loss
>>> x_real = np.random.rand(4, 3).astype("float32")
>>> x_fake = np.random.rand(4, 3).astype("float32")
>>> critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
>>> d_loss = minimax_discriminator_loss(critic(x_real), critic(x_fake))
>>> g_loss = non_saturating_generator_loss(critic(x_fake))
>>> gp = gradient_penalty(critic, x_real, x_fake, seed=0)
>>> [tuple(value.shape) for value in (d_loss, g_loss, gp)]   # scalars
[(), (), ()]

References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017.
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
    Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral Normalization
    for GANs", ICLR 2018 (hinge loss).
    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
    Converge?", ICML 2018 (R1).
"""

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register


def _flat(logits):
    logits = ops.convert_to_tensor(logits)
    if keras.backend.standardize_dtype(logits.dtype) not in ("float32", "float64"):
        logits = ops.cast(logits, "float32")
    return ops.reshape(logits, (-1,))


# ---------------------------------------------------------------- minimax
def minimax_discriminator_loss(real_logits, fake_logits):
    """``mean(-log D(x)) + mean(-log(1 - D(G(z))))`` = ``mean(softplus(-real)) + mean(softplus(fake))``.

    The binary cross-entropy of the discriminator (real labelled 1, fake 0);
    also the discriminator loss of the non-saturating family.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import minimax_discriminator_loss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> # (softplus(-1) + softplus(-3)) / 2 + (softplus(-2) + softplus(0)) / 2
    >>> round(float(minimax_discriminator_loss(real_logits, fake_logits)), 4)
    0.591
    """
    return ops.mean(ops.softplus(-_flat(real_logits))) + ops.mean(ops.softplus(_flat(fake_logits)))


def minimax_generator_loss(fake_logits):
    """The saturating ``mean(log(1 - D(G(z)))) = -mean(softplus(fake))`` (to minimise).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import minimax_generator_loss
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(minimax_generator_loss(fake_logits)), 4)   # -(0.1269 + 0.6931) / 2
    -0.41
    """
    return -ops.mean(ops.softplus(_flat(fake_logits)))


# --------------------------------------------------------- non-saturating
def non_saturating_discriminator_loss(real_logits, fake_logits):
    """Same as :func:`minimax_discriminator_loss`.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import non_saturating_discriminator_loss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(non_saturating_discriminator_loss(real_logits, fake_logits)), 4)
    0.591
    """
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """``mean(-log D(G(z))) = mean(softplus(-fake))``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import non_saturating_generator_loss
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(non_saturating_generator_loss(fake_logits)), 4)   # (2.1269 + 0.6931) / 2
    1.41
    """
    return ops.mean(ops.softplus(-_flat(fake_logits)))


# ------------------------------------------------------------ wasserstein
def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss ``mean(C(G(z))) - mean(C(x))`` (add :func:`gradient_penalty`).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import wasserstein_discriminator_loss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(wasserstein_discriminator_loss(real_logits, fake_logits)), 4)   # -1 - 2
    -3.0
    """
    return ops.mean(_flat(fake_logits)) - ops.mean(_flat(real_logits))


def wasserstein_generator_loss(fake_logits):
    """``-mean(C(G(z)))``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import wasserstein_generator_loss
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(wasserstein_generator_loss(fake_logits)), 4)
    1.0
    """
    return -ops.mean(_flat(fake_logits))


# ------------------------------------------------------------------ hinge
def hinge_discriminator_loss(real_logits, fake_logits):
    """``mean(relu(1 - C(x))) + mean(relu(1 + C(G(z))))``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import hinge_discriminator_loss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> # (relu(1 - 1) + relu(1 - 3)) / 2 + (relu(1 - 2) + relu(1 + 0)) / 2
    >>> round(float(hinge_discriminator_loss(real_logits, fake_logits)), 4)
    0.5
    """
    return ops.mean(ops.relu(1.0 - _flat(real_logits))) + ops.mean(ops.relu(1.0 + _flat(fake_logits)))


def hinge_generator_loss(fake_logits):
    """``-mean(C(G(z)))``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import hinge_generator_loss
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(hinge_generator_loss(fake_logits)), 4)
    1.0
    """
    return -ops.mean(_flat(fake_logits))


# ---------------------------------------------------------- least squares
def least_squares_discriminator_loss(real_logits, fake_logits):
    """``mean((C(x) - 1)^2) / 2 + mean(C(G(z))^2) / 2`` (LSGAN, targets a=0, b=1).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import least_squares_discriminator_loss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> # ((1 - 1)^2 + (3 - 1)^2) / 4 + ((-2)^2 + 0^2) / 4
    >>> round(float(least_squares_discriminator_loss(real_logits, fake_logits)), 4)
    2.0
    """
    return 0.5 * ops.mean(ops.square(_flat(real_logits) - 1.0)) + 0.5 * ops.mean(
        ops.square(_flat(fake_logits))
    )


def least_squares_generator_loss(fake_logits):
    """``mean((C(G(z)) - 1)^2) / 2`` (LSGAN, target c=1).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import least_squares_generator_loss
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> round(float(least_squares_generator_loss(fake_logits)), 4)   # (9 + 1) / 4
    2.5
    """
    return 0.5 * ops.mean(ops.square(_flat(fake_logits) - 1.0))


# -------------------------------------------------------------- penalties
def _per_example_sq_norm(grads):
    grads = ops.reshape(grads, (ops.shape(grads)[0], -1))
    return ops.sum(ops.square(grads), axis=-1)


def interpolate(real, fake, seed=None, weights=None):
    """``eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per example.

    Args:
        real, fake: tensors of the same shape ``(batch, ...)``.
        seed: int, ``keras.random.SeedGenerator`` or None.
        weights: optional ``(batch,)`` interpolation weights used instead of
            random ones.

    Returns:
        ``(interpolates, weights)``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.losses import interpolate
    >>> real, fake = np.ones((3, 2), "float32"), np.zeros((3, 2), "float32")
    >>> x_hat, eps = interpolate(real, fake, weights=np.array([0.0, 0.25, 1.0]))
    >>> keras.ops.convert_to_numpy(x_hat).tolist()
    [[0.0, 0.0], [0.25, 0.25], [1.0, 1.0]]
    >>> x_hat, eps = interpolate(real, fake, seed=0)   # eps ~ U[0, 1] per example
    >>> tuple(x_hat.shape), tuple(eps.shape)
    ((3, 2), (3,))
    """
    real = ops.convert_to_tensor(real)
    fake = ops.cast(ops.convert_to_tensor(fake), real.dtype)
    batch = ops.shape(real)[0]
    if weights is None:
        weights = keras.random.uniform((batch,), dtype=real.dtype, seed=seed)
    weights = ops.cast(ops.reshape(weights, (-1,)), real.dtype)
    w = ops.reshape(weights, (-1,) + (1,) * (len(real.shape) - 1))
    return w * real + (1.0 - w) * fake, weights


def gradient_penalty(critic_fn, real, fake, seed=None, target=1.0, weights=None):
    """WGAN-GP penalty ``mean((||grad_x C(x_hat)||_2 - target)^2)``.

    ``x_hat = eps * real + (1 - eps) * fake`` with ``eps ~ U[0, 1]`` drawn once
    per example (Gulrajani et al., 2017, Algorithm 1). Multiply by the
    penalty weight (lambda = 10 in the paper) yourself.

    Args:
        critic_fn: callable ``x -> (batch, 1)`` critic values; each output
            must depend on its own example only (no batch normalization in
            training mode).
        real, fake: tensors of the same shape ``(batch, ...)``.
        seed: int, ``keras.random.SeedGenerator`` or None, for ``eps``.
        target: float, the norm the gradients are pushed to.
        weights: optional ``(batch,)`` values of ``eps`` (for tests).

    Returns:
        A scalar tensor.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.losses import gradient_penalty
    >>> def critic(x):   # C(x) = sum(x): input gradients of norm sqrt(4) = 2
    ...     return keras.ops.sum(x, axis=-1, keepdims=True)
    >>> real = np.random.rand(3, 4).astype("float32")
    >>> fake = np.random.rand(3, 4).astype("float32")
    >>> round(float(gradient_penalty(critic, real, fake, seed=0)), 4)   # (2 - 1)^2
    1.0
    """
    x_hat, _ = interpolate(real, fake, seed=seed, weights=weights)
    grads = _backend.input_gradients(critic_fn, x_hat)
    norm = ops.sqrt(_per_example_sq_norm(grads) + 1e-12)
    return ops.mean(ops.square(norm - target))


def r1_penalty(critic_fn, real):
    """R1 penalty ``mean(||grad_x D(x)||^2)`` on real data (Mescheder et al., 2018).

    The paper's regularizer is ``gamma / 2`` times this value
    (``models.GAN(r1_gamma=gamma)`` applies that factor).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.losses import r1_penalty
    >>> def critic(x):   # D(x) = 3 * sum(x): squared gradient norm 9 * 2
    ...     return 3.0 * keras.ops.sum(x, axis=-1, keepdims=True)
    >>> round(float(r1_penalty(critic, np.random.rand(4, 2).astype("float32"))), 4)
    18.0
    """
    grads = _backend.input_gradients(critic_fn, ops.convert_to_tensor(real))
    return ops.mean(_per_example_sq_norm(grads))


# ------------------------------------------------------------ the bundles
_FAMILIES = {
    "minimax": (minimax_discriminator_loss, minimax_generator_loss, True),
    "non_saturating": (non_saturating_discriminator_loss, non_saturating_generator_loss, True),
    "wasserstein": (wasserstein_discriminator_loss, wasserstein_generator_loss, False),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss, False),
    "least_squares": (least_squares_discriminator_loss, least_squares_generator_loss, False),
}


@register
class GANLoss:
    """A pair of adversarial losses on discriminator logits.

    ``GANLoss(name)`` selects a built-in family; subclass it and override
    :meth:`discriminator_loss` / :meth:`generator_loss` (and set
    ``probabilities``) for a custom one, registering the subclass with
    ``keras.saving.register_keras_serializable`` so models that use it save.

    Args:
        name: one of ``"minimax"``, ``"non_saturating"``, ``"wasserstein"``,
            ``"hinge"``, ``"least_squares"``.

    Attributes:
        probabilities: bool, True when the discriminator's outputs are logits
            of probabilities (minimax, non-saturating): the models then report
            ``d_real``/``d_fake`` as ``sigmoid`` probabilities, else as raw
            critic values.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.losses import GANLoss
    >>> real_logits = np.array([[1.0], [3.0]], "float32")
    >>> fake_logits = np.array([[-2.0], [0.0]], "float32")
    >>> loss = GANLoss("hinge")
    >>> loss, loss.probabilities
    (GANLoss('hinge'), False)
    >>> round(float(loss.discriminator_loss(real_logits, fake_logits)), 4)
    0.5
    >>> round(float(loss.generator_loss(fake_logits)), 4)
    1.0

    References:
        See the module docstring.
    """

    def __init__(self, name="non_saturating"):
        if name not in _FAMILIES:
            raise ValueError(
                f"Unknown GAN loss name={name!r}. Expected one of {sorted(_FAMILIES)} or a "
                "keras_genmodels.losses.GANLoss instance."
            )
        self.name = name
        self._d, self._g, self.probabilities = _FAMILIES[name]

    def discriminator_loss(self, real_logits, fake_logits):
        return self._d(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return self._g(fake_logits)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"GANLoss({self.name!r})"


def get(identifier):
    """Resolve a :class:`GANLoss` from a name, a serialized dict or an instance.

    Raises:
        ValueError: for an unknown name or type.

    Example:

    >>> from keras_genmodels.losses import GANLoss, get
    >>> get("wasserstein")
    GANLoss('wasserstein')
    >>> loss = GANLoss("least_squares")
    >>> get(loss) is loss
    True
    >>> get("vanilla")
    Traceback (most recent call last):
    ...
    ValueError: Unknown GAN loss name='vanilla'. Expected one of [...] or a ... instance.
    """
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, str):
        return GANLoss(identifier)
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if isinstance(obj, GANLoss):
            return obj
    raise ValueError(
        f"Could not interpret GAN loss identifier: loss={identifier!r}. Expected one of "
        f"{sorted(_FAMILIES)} or a keras_genmodels.losses.GANLoss instance."
    )


def serialize(loss):
    """The Keras config dict of a :class:`GANLoss`, which :func:`get` turns back into one.

    Example:

    >>> from keras_genmodels.losses import GANLoss, get, serialize
    >>> config = serialize(GANLoss("hinge"))
    >>> config["registered_name"], config["config"]
    ('keras_genmodels>GANLoss', {'name': 'hinge'})
    >>> get(config)
    GANLoss('hinge')
    """
    return keras.saving.serialize_keras_object(loss)
