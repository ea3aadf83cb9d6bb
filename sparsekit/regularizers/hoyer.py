"""Placeholder: Hoyer, HoyerSquare (to be implemented)."""

class Hoyer:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('Hoyer')

class HoyerSquare:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('HoyerSquare')
