# Table 2, row 1: single-resolution features, flat decoding, global-only masked attention.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(
    backbone=dict(slice_ratio=0.0),
    decode_head=dict(hierarchical=False, use_local_tokens=False))
