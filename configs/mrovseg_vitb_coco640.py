# MROVSeg, CLIP ViT-B/16, trained on COCO-Stuff-171 at 640x640 (paper
# Sec. 4.1 and App. B). 8 GPUs x 4 images, 60k iterations, AMP on GPU:
#   bash tools/dist_train.sh configs/mrovseg_vitb_coco640.py 8
_base_ = [
    './_base_/models/mrovseg_vit-b16.py',
    './_base_/datasets/coco_stuff171.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_60k_adamw.py',
]
# 4 images per GPU; 8 GPUs give the total batch of 32.
train_dataloader = dict(batch_size=4)
# Mixed precision: float16 with dynamic loss scaling on GPU (bfloat16 if run
# on a CPU).
optim_wrapper = dict(type='MixedPrecisionOptimWrapper')
