"""Placeholder: MagnitudePruning (to be implemented)."""

class MagnitudePruning:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('MagnitudePruning')
