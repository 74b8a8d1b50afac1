# Table 3: crop ratio p = 0 (global view only).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(backbone=dict(slice_ratio=0.0))
