from .open_clip_text_encoder import OpenCLIPTextEncoder
from .templates import TEMPLATE_SET_NAMES, resolve_templates
from .vocabulary import load_vocabulary_file, parse_vocabulary

__all__ = [
    'OpenCLIPTextEncoder', 'TEMPLATE_SET_NAMES', 'resolve_templates',
    'load_vocabulary_file', 'parse_vocabulary'
]
