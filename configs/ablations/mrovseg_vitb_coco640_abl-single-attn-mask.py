# Fig. 7: single (not decoupled) attention-mask decoding.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(decode_head=dict(decoupled_attn_masks=False))
