"""Placeholder: TopK (to be implemented)."""

class TopK:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('TopK')
