"""Fused, XLA-compiled kernels of keras-genmodels (installed as ``keras_genmodels.kernels``)."""
