# Table 4c: 3 adapter blocks (fusion layers {stem, 3, 6}; decoder uses 6, 3, stem).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(
    neck=dict(num_blocks=3, fusion_layers=(0, 3, 6)),
    decode_head=dict(decoder_layers=(6, 3, 0)))
