# Table 3: crop ratio p = 1.0 (overlapping slices).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(backbone=dict(slice_ratio=1.0))
