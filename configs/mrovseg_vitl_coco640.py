# MROVSeg, CLIP ViT-L/14, trained on COCO-Stuff-171 at 640x640.
_base_ = [
    './_base_/models/mrovseg_vit-l14.py',
    './_base_/datasets/coco_stuff171.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_60k_adamw.py',
]
train_dataloader = dict(batch_size=4)
# Mixed precision: float16 with dynamic loss scaling on GPU.
optim_wrapper = dict(type='MixedPrecisionOptimWrapper')
