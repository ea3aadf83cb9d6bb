"""Placeholder: DictionaryLearning (to be implemented)."""

class DictionaryLearning:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('DictionaryLearning')
