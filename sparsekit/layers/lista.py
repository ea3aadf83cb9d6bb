"""Placeholder: LISTA (to be implemented)."""

class LISTA:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('LISTA')
