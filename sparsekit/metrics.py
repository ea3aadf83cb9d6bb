"""Sparsity metrics as plain functions on numpy arrays or backend tensors.

Placeholder (to be implemented).
"""

def activation_sparsity(*args, **kwargs):
    raise NotImplementedError('activation_sparsity')

def l0(*args, **kwargs):
    raise NotImplementedError('l0')

def hoyer(*args, **kwargs):
    raise NotImplementedError('hoyer')

def gini(*args, **kwargs):
    raise NotImplementedError('gini')

def dead_units(*args, **kwargs):
    raise NotImplementedError('dead_units')

def lifetime_sparsity(*args, **kwargs):
    raise NotImplementedError('lifetime_sparsity')

def population_sparsity(*args, **kwargs):
    raise NotImplementedError('population_sparsity')

def code_overlap(*args, **kwargs):
    raise NotImplementedError('code_overlap')

__all__ = ["activation_sparsity", "l0", "hoyer", "gini", "dead_units", "lifetime_sparsity", "population_sparsity", "code_overlap"]
