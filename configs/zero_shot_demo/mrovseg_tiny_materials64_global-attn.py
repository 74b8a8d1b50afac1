# Multi-grained attention off: the mask classifier attends to the global
# view's tokens only (no slice tokens), as in the paper's Table 2.
_base_ = ['./mrovseg_tiny_materials64.py']
model = dict(decode_head=dict(use_local_tokens=False))
