"""Descriptor + scikit-learn models, molecular kernels and model assessment."""
