# MROVSeg with a frozen OpenAI CLIP ViT-B/16 (paper Sec. 4.1, App. B).
# 640x640 input, slice ratio p = 0.5 -> 2x2 slices of 320x320; every view is
# fed to CLIP at 320x320 (20x20 tokens).
clip_model = 'ViT-B-16'
# An open_clip tag, or a local file. OpenAI's released ViT-B-16.pt (a
# TorchScript archive) and state dicts saved from it are recognised and built
# with QuickGELU, the activation OpenAI trained with, as the 'openai' tag is.
# Any other file loads into clip_model as named: OpenAI's weights saved by
# open_clip (e.g. the tag's open_clip_pytorch_model.bin) need clip_model =
# 'ViT-B-16-quickgelu'. Both are resolved in this file: from a derived config
# set model.backbone and model.text_encoder (pretrained, model_name).
clip_pretrained = 'openai'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(640, 640))
model = dict(
    type='MROVSeg',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='MultiResCLIPViT',
        model_name=clip_model,
        pretrained=clip_pretrained,
        clip_input_size=320,
        base_size=640,
        slice_ratio=0.5,
        fusion_layers=(0, 3, 6, 9, 12),
        classifier_start_block=9),
    text_encoder=dict(
        type='OpenCLIPTextEncoder',
        model_name=clip_model,
        pretrained=clip_pretrained,
        templates='vild',
        cache_dir='work_dirs/text_embedding_cache'),
    neck=dict(
        type='MultiResAdapter',
        in_channels=768,
        embed_dims=768,
        num_heads=12,
        num_blocks=6,
        num_queries=100,
        fusion_layers=(0, 3, 6, 9, 12),
        spatial_fusion='dwconv',
        scale_fusion='scale_attn'),
    decode_head=dict(
        type='MROVSegHead',
        embed_dims=768,
        clip_heads=12,
        clip_dims=768,
        clip_proj_dims=512,
        num_queries=100,
        decoder_layers=(9, 6, 3),
        hierarchical=True,
        decoupled_attn_masks=True,
        use_local_tokens=True,
        no_object_weight=0.1,
        cls_loss_norm='weighted_mean',
        num_points=12544,
        oversample_ratio=3.0,
        importance_sample_ratio=0.75,
        ignore_index=255),
    test_cfg=dict(pixels_per_chunk=16384))
