"""Tiny networks shared by the model tests (backend-neutral: ``keras`` only)."""

import keras


def mlp(sizes, name=None):
    """``keras.Sequential``: input ``sizes[0]``, tanh ``Dense`` layers, linear ``Dense(sizes[-1])``."""
    net = [keras.Input((sizes[0],))]
    for units in sizes[1:-1]:
        net.append(keras.layers.Dense(units, activation="tanh"))
    net.append(keras.layers.Dense(sizes[-1]))
    return keras.Sequential(net, name=name)
