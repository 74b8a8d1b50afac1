# Table 4b: multi-res fusion by concatenation.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(scale_fusion='concat'))
