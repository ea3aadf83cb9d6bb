"""Placeholder: GroupLasso (to be implemented)."""

class GroupLasso:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('GroupLasso')
