"""Placeholder: SparseDense (to be implemented)."""

class SparseDense:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('SparseDense')
