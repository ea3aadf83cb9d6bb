"""Placeholder: weight_sparsity, strip (to be implemented)."""

def weight_sparsity(*args, **kwargs):
    raise NotImplementedError('weight_sparsity')

def strip(*args, **kwargs):
    raise NotImplementedError('strip')
