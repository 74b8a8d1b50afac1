"""A tiny MROVSeg model config built on the tiny test CLIP."""
import copy

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

CLIP_MEAN = [122.7709383, 116.7460125, 104.09373615]
CLIP_STD = [68.5005327, 66.6321579, 70.32316305]


def tiny_model_cfg(clip_cfg: dict, checkpoint: str, **overrides) -> dict:
    """Model config; ``overrides`` maps 'backbone'/'neck'/... to dict updates."""
    cfg = dict(
        type='MROVSeg',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=CLIP_MEAN,
                               std=CLIP_STD, bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size=(64, 64)),
        backbone=dict(type='MultiResCLIPViT', model_cfg=clip_cfg,
                      pretrained=checkpoint, clip_input_size=32, base_size=64,
                      slice_ratio=0.5, fusion_layers=(0, 1, 2, 3, 4),
                      classifier_start_block=2),
        text_encoder=dict(type='OpenCLIPTextEncoder', model_cfg=clip_cfg,
                          pretrained=checkpoint, templates='single'),
        neck=dict(type='MultiResAdapter', in_channels=64, embed_dims=32,
                  num_heads=4, num_blocks=3, num_queries=8,
                  fusion_layers=(0, 2, 4)),
        decode_head=dict(type='MROVSegHead', embed_dims=32, clip_heads=4,
                         clip_dims=64, clip_proj_dims=32, num_queries=8,
                         decoder_layers=(4, 2, 0), num_points=256),
        vocabulary=['cat', 'dog', 'sky'])
    cfg = copy.deepcopy(cfg)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def make_batch(sizes, num_classes=3, ignore_all=False, seed=0):
    """Random uint8 images with blocky labels, as the data loader gives them."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for index, (height, width) in enumerate(sizes):
        inputs.append(torch.randint(0, 256, (3, height, width),
                                    generator=generator, dtype=torch.uint8))
        labels = torch.randint(0, num_classes, (1, height // 8 + 1,
                                                width // 8 + 1),
                               generator=generator)
        labels = labels.repeat_interleave(8, 1).repeat_interleave(8, 2)
        labels = labels[:, :height, :width]
        if ignore_all:
            labels = torch.full_like(labels, 255)
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(img_path=f'image_{index}.png',
                                 ori_shape=(height, width),
                                 img_shape=(height, width)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
