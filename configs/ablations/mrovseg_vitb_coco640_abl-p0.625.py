# Table 3: crop ratio p = 0.625 (overlapping slices).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(backbone=dict(slice_ratio=0.625))
