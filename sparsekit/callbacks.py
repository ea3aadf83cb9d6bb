"""Keras callbacks that watch sparsity during training.

Placeholder (to be implemented).
"""

class SparsityMonitor:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('SparsityMonitor')

__all__ = ["SparsityMonitor"]
