# Table 4c: 9 adapter blocks.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(num_blocks=9))
