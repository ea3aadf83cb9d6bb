"""Placeholder: KLSparsity (to be implemented)."""

class KLSparsity:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('KLSparsity')
