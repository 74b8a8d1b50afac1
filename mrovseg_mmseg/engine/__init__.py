from .hooks import SafeCheckpointHook, VocabularyHook
from .optimizers import MixedPrecisionOptimWrapper

__all__ = [
    'MixedPrecisionOptimWrapper', 'SafeCheckpointHook', 'VocabularyHook'
]
