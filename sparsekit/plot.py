"""Matplotlib figures for dictionaries, activations and sparsity histories.

matplotlib is imported inside the functions so `import sparsekit` stays light.

Placeholder (to be implemented).
"""

def atoms(*args, **kwargs):
    raise NotImplementedError('atoms')

def activation_histogram(*args, **kwargs):
    raise NotImplementedError('activation_histogram')

def sparsity_history(*args, **kwargs):
    raise NotImplementedError('sparsity_history')

__all__ = ["atoms", "activation_histogram", "sparsity_history"]
