"""Placeholder: KWinners (to be implemented)."""

class KWinners:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('KWinners')
