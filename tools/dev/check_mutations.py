"""Apply hand-written mutations of the model code and check that tests fail.

Each mutation replaces one exact snippet of a source file (it must occur
once) and names the tests that must then fail. The work happens in a copy of
the working tree under a temporary folder, so the checkout other people test
from is never edited. Mutmut (``tools/dev/mutmut.sh``) covers the generic
operator mutations; this list keeps the geometry and paper-equation bugs of
issue 15 killed.

    .venv/bin/python tools/dev/check_mutations.py            # all
    .venv/bin/python tools/dev/check_mutations.py logit_scale_exp add_only
    .venv/bin/python tools/dev/check_mutations.py --list

The tests are first run on the unmutated copy: if they fail there, nothing
is mutated. Only failing tests kill a mutation; a collection error or any
other pytest error is reported as an error. Exit status 1 if a mutation
survives (its tests still pass) or ends in an error.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import NamedTuple, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS = 'mrovseg_mmseg/models/'


class Mutation(NamedTuple):
    name: str
    path: str
    old: str
    new: str
    tests: Tuple[str, ...]


MUTATIONS = [
    Mutation('logit_scale_exp', MODELS + 'backbones/multi_res_clip_vit.py',
             'clip.logit_scale.detach().exp().clamp(max=100)',
             'clip.logit_scale.detach().clamp(max=100)',
             ('tests/test_models/test_mask_classifier.py',
              'tests/test_models/test_equations.py')),
    Mutation('pos_embed_transposed', MODELS + 'utils/clip_block.py',
             'patch_pos.reshape(1, *src_grid, channels).permute(0, 3, 1, 2)',
             'patch_pos.reshape(1, *src_grid, channels).permute(0, 3, 2, 1)',
             ('tests/test_models/test_backbone.py', )),
    Mutation('add_only_local', MODELS + 'necks/multi_res_fusion.py',
             'return local + upsampled', 'return local',
             ('tests/test_models/test_ablation_switches.py',
              'tests/test_models/test_equations.py')),
    Mutation('attn_fusion_weights_swapped', MODELS + 'necks/multi_res_fusion.py',
             'layout.global_to_slice((1 - attn) * global_feat)',
             'layout.global_to_slice(attn * global_feat)',
             ('tests/test_models/test_equations.py', )),
    Mutation('global_bias_shifted', MODELS + 'decode_heads/mask_classifier.py',
             'parts.append(_masked(global_bias, global_valid, dtype))',
             'parts.append(_masked(None if global_bias is None else '
             'global_bias.roll(1, -1), global_valid, dtype))',
             ('tests/test_models/test_mask_classifier.py',
              'tests/test_models/test_equations.py')),
    Mutation('local_bias_shifted', MODELS + 'decode_heads/mask_classifier.py',
             'local_bias[..., positions]', 'local_bias[..., positions - 1]',
             ('tests/test_models/test_mask_classifier.py',
              'tests/test_models/test_equations.py')),
    Mutation('global_to_slice_uncropped', MODELS + 'utils/multi_res_features.py',
             'resize_region(x[..., :gh, :gw], region, self.slice_grid)',
             'resize_region(x, region, self.slice_grid)',
             ('tests/test_models/test_layout.py', )),
    Mutation('avg_pool', MODELS + 'utils/multi_res_features.py',
             'F.adaptive_max_pool2d(x, (gh, gw))',
             'F.adaptive_avg_pool2d(x, (gh, gw))',
             ('tests/test_models/test_layout.py', )),
    Mutation('slices_nearest', MODELS + 'backbones/slicing.py',
             "mode='bilinear', align_corners=False,\n"
             "                               antialias=win > out_size)",
             "mode='nearest')",
             ('tests/test_models/test_slicing.py',
              'tests/test_models/test_backbone.py')),
    Mutation('slices_aliased', MODELS + 'backbones/slicing.py',
             'antialias=win > out_size)', 'antialias=False)',
             ('tests/test_models/test_slicing.py',
              'tests/test_models/test_backbone.py')),
    Mutation('decoder_layers_reversed',
             MODELS + 'decode_heads/hierarchical_mask_decoder.py',
             'layer = self.decoder_layers[stage]',
             'layer = self.decoder_layers[-1 - stage]',
             ('tests/test_models/test_mask_decoder.py',
              'tests/test_models/test_equations.py')),
    Mutation('no_object_weight_on_class0',
             MODELS + 'decode_heads/mrovseg_head.py',
             "cfg['class_weight'] = [1.0] * num_classes + "
             '[self.no_object_weight]',
             "cfg['class_weight'] = [self.no_object_weight] + "
             '[1.0] * num_classes',
             ('tests/test_models/test_cls_loss_norm.py', )),
    Mutation('single_mask_pools_h', MODELS +
             'decode_heads/attention_mask_decoder.py',
             'global_feats = layout.slice_to_global(local_feats)',
             'global_feats = layout.slice_to_global(visual)',
             ('tests/test_models/test_ablation_switches.py',
              'tests/test_models/test_equations.py')),
    Mutation('scores_softmax_without_no_object',
             MODELS + 'decode_heads/mrovseg_head.py',
             'probs = F.softmax(cls_logits, dim=-1)[..., :-1]',
             'probs = F.softmax(cls_logits[..., :-1], dim=-1)',
             ('tests/test_models/test_equations.py', )),
    Mutation('amp_step_ignores_scaler',
             'mrovseg_mmseg/engine/optimizers/mixed_precision_optim_wrapper.py',
             'if self.loss_scaler is None:\n            OptimWrapper.step(',
             'if True:\n            OptimWrapper.step(',
             ('tests/test_tools/test_amp.py', )),
    Mutation('amp_backward_unscaled',
             'mrovseg_mmseg/engine/optimizers/mixed_precision_optim_wrapper.py',
             'if self.loss_scaler is None:\n            OptimWrapper.backward(',
             'if True:\n            OptimWrapper.backward(',
             ('tests/test_tools/test_amp.py', )),
    Mutation('amp_cpu_float16',
             'mrovseg_mmseg/engine/optimizers/mixed_precision_optim_wrapper.py',
             'self.cast_dtype = dtype or torch.bfloat16',
             'self.cast_dtype = dtype or torch.float16',
             ('tests/test_tools/test_amp.py', )),
]


def copy_tree(destination: str) -> None:
    ignore = shutil.ignore_patterns('.git', '.venv', 'work_dirs', 'data',
                                    '__pycache__', '*.pyc', 'mutants')
    shutil.copytree(REPO, destination, ignore=ignore, symlinks=True)


def pytest(root: str, python: str, tests) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider', '-m',
         'not slow', *tests],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def verdict(returncode: int) -> str:
    """'killed' only when tests ran and failed (pytest exit 1); 'survived'
    when they passed; 'error' for pytest's other exits (2 interrupted or a
    module that does not import at collection, 3 internal error, 4 usage
    error, 5 no test collected): no test judged the mutation."""
    if returncode == 1:
        return 'killed'
    if returncode == 0:
        return 'survived'
    return 'error'


def check_baseline(root: str, python: str, tests) -> None:
    """The tests must pass on the unmutated copy, or no verdict means
    anything."""
    result = pytest(root, python, tests)
    if result.returncode != 0:
        tail = '\n'.join(result.stdout.strip().splitlines()[-15:])
        raise RuntimeError(
            f'the tests fail on the unmutated tree (pytest exit '
            f'{result.returncode}); fix them before mutating:\n{tail}')


def run(mutation: Mutation, root: str, python: str) -> str:
    """The mutation's verdict: 'killed', 'survived' or 'error'."""
    path = osp.join(root, mutation.path)
    with open(path, encoding='utf-8') as f:
        source = f.read()
    count = source.count(mutation.old)
    if count != 1:
        raise RuntimeError(f'{mutation.name}: the snippet occurs {count} '
                           f'times in {mutation.path}; update this list.')
    try:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(source.replace(mutation.old, mutation.new))
        result = pytest(root, python, mutation.tests)
    finally:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(source)
    last = result.stdout.strip().splitlines()[-1:] or ['']
    status = verdict(result.returncode)
    shown = {'killed': 'killed', 'survived': 'SURVIVED'}.get(
        status, f'ERROR (pytest exit {result.returncode})')
    print(f'{mutation.name:32s} {shown}  ({last[0]})', flush=True)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*', help='mutations to run (all)')
    parser.add_argument('--list', action='store_true')
    parser.add_argument(
        '--without', action='append', default=[], metavar='TEST_FILE',
        help='leave this test file out (to see what it kills); repeatable')
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f'unknown mutations: {sorted(unknown)}')
    if args.list:
        for mutation in chosen:
            print(mutation.name, mutation.path, *mutation.tests)
        return 0
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix='mrovseg_mutations_') as tmp:
        root = osp.join(tmp, 'repo')
        copy_tree(root)
        for path in args.without:
            os.remove(osp.join(root, path))
        runnable = []
        for mutation in chosen:
            tests = tuple(t for t in mutation.tests
                          if osp.isfile(osp.join(root, t)))
            runnable.append(mutation._replace(tests=tests))
        baseline = sorted({t for m in runnable for t in m.tests})
        if baseline:
            print(f'unmutated tree: {len(baseline)} test files', flush=True)
            check_baseline(root, python, baseline)
        results = {}
        for mutation in runnable:
            results[mutation.name] = (run(mutation, root, python)
                                      if mutation.tests else 'survived')
            if not mutation.tests:
                print(f'{mutation.name:32s} SURVIVED  (no tests)')
    survivors = [name for name, status in results.items()
                 if status == 'survived']
    errors = [name for name, status in results.items() if status == 'error']
    if survivors or errors:
        print(f'{len(survivors)} of {len(chosen)} survived: {survivors}; '
              f'{len(errors)} errors (not kills): {errors}')
        return 1
    print(f'all {len(chosen)} killed')
    return 0

if __name__ == '__main__':
    os.environ.setdefault('PYTHONDONTWRITEBYTECODE', '1')
    sys.exit(main())
