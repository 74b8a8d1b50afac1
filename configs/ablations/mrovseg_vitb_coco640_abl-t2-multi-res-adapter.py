# Table 2, row 2: + Multi-Res Adapter (flat decoding, global-only attention).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(decode_head=dict(hierarchical=False, use_local_tokens=False))
