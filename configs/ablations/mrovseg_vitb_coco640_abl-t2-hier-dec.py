# Table 2, row 3: + hierarchical mask decoding (global-only attention).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(decode_head=dict(use_local_tokens=False))
