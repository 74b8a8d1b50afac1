# Runtime shared by every MROVSeg config (MMSegmentation 1.x conventions).
custom_imports = dict(imports=['mrovseg_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='LegendSegVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# The vocabulary of the model follows the datasets: training uses the
# training set's classes, validation/testing their own. Checkpoints are kept
# loadable with torch.load(weights_only=True) and carry torch's generator
# states, so a resumed run continues bit for bit; load_from must be a safe
# file whose keys and shapes match the model exactly.
custom_hooks = [
    dict(type='VocabularyHook'),
    dict(type='SafeCheckpointHook'),
    dict(type='RNGStateHook'),
    dict(type='StrictLoadHook', strict=True),
]
tta_model = None
