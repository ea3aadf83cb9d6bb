"""Small datasets from bundled files only: nothing is downloaded.

Placeholder (to be implemented).
"""

def load_digits(*args, **kwargs):
    raise NotImplementedError('load_digits')

def natural_patches(*args, **kwargs):
    raise NotImplementedError('natural_patches')

__all__ = ["load_digits", "natural_patches"]
