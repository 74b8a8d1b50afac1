# Multi-grained attention off: the same masks, but the mask classifier
# attends to the global view's tokens only, so it names objects from what
# the low-resolution view shows (the primary endpoint's comparison).
_base_ = ['./mrovseg_tiny_twins64.py']
model = dict(decode_head=dict(use_local_tokens=False))
