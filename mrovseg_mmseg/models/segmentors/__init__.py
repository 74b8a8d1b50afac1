from .mrovseg import MROVSeg

__all__ = ['MROVSeg']
