# Slice ratio p = 0: the global view only, a single-resolution (SAN-like)
# model on the same pretrained CLIP.
_base_ = ['./mrovseg_tiny_twins64.py']
model = dict(backbone=dict(slice_ratio=0.0))
