from . import backbones, decode_heads, necks, segmentors  # noqa: F401
from . import text_encoders  # noqa: F401
