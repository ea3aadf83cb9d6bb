"""Placeholder: topk_mask (to be implemented)."""

def topk_mask(*args, **kwargs):
    raise NotImplementedError('topk_mask')
