from .safe_checkpoint_hook import SafeCheckpointHook
from .vocabulary_hook import VocabularyHook
from .rng_state_hook import RNGStateHook
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .strict_load_hook import CheckpointMismatchError, StrictLoadHook
from .memory_usage_hook import MemoryUsageHook
from .evaluation_report_hook import EvaluationReportHook

__all__ = [
    'SafeCheckpointHook', 'VocabularyHook', 'RNGStateHook',
    'AtomicCheckpointHook', 'StrictLoadHook', 'CheckpointMismatchError',
    'MemoryUsageHook', 'EvaluationReportHook'
]
