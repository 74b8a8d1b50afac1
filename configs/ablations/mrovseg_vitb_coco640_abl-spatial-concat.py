# Table 4a: spatial fusion by concatenation (restored slices, 1x1 projection).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(spatial_fusion='concat'))
