from .hooks import VocabularyHook
from .optimizers import MixedPrecisionOptimWrapper

__all__ = ['MixedPrecisionOptimWrapper', 'VocabularyHook']
