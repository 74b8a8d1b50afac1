from .hooks import SafeCheckpointHook, VocabularyHook
from .optimizers import MixedPrecisionOptimWrapper
from .precision_test_loop import PrecisionTestLoop

__all__ = [
    'MixedPrecisionOptimWrapper', 'PrecisionTestLoop', 'SafeCheckpointHook',
    'VocabularyHook'
]
