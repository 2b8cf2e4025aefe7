"""Registration of public classes for Keras serialization.

Every public layer, model, likelihood and regularizer of the package is
decorated with :func:`register`, so a ``.keras`` file that contains it reloads
with ``keras.saving.load_model(path, safe_mode=True)`` without
``custom_objects``.
"""

import keras

PACKAGE = "keras_genmodels"


def register(cls):
    """Register ``cls`` for Keras serialization under package ``keras_genmodels``."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
