from .safe_checkpoint_hook import SafeCheckpointHook
from .vocabulary_hook import VocabularyHook

__all__ = ['SafeCheckpointHook', 'VocabularyHook']
