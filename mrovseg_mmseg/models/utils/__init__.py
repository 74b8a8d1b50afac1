from .open_clip_loader import build_open_clip

__all__ = ['build_open_clip']
