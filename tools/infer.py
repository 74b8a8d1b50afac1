"""Segment your own images with your own class names.

    python tools/infer.py photos/ street.jpg 'scans/*.png' \\
        --config configs/mrovseg_tiny_shapes64.py --checkpoint iter_600.pth \\
        --classes sky tree 'sofa, couch' --out-dir work_dirs/infer

Inputs are image files, folders (their images, not recursive) and glob
patterns. The vocabulary comes from ``--classes`` (one argument per class,
synonyms comma-separated) or ``--classes-file`` (one class per line, ``#``
comments). Written under ``--out-dir``:

    labels/<image>.png            class ids at the image's size (uint8; uint16
                                  above 255 classes); ids index classes.txt
    overlays/<image>.jpg          colour overlay with a legend
    probs/<image>/<id>_<class>.png  with --save-probs: probability x 255
    proposals/<image>.png         with --show-proposals K: the K mask
                                  proposals contributing most, captioned
    classes.txt, summary.json     the vocabulary; classes found per image
                                  (and the proposals, with --show-proposals)

With --show-proposals K, a proposal n's contribution is its share of the
label map's winning Eq. 9 score: the sum over pixels x of p_n[k*(x)] *
sigmoid(M_n(x)), where k*(x) is the label at x and p_n = softmax(C_n), over
the same sum for all N proposals (the N shares add up to 1). Each proposal
is reported with its mask (sigmoid > 0.5 at the image's size), its best
class k (no object excluded) with score p_n[k], the no-object probability
p_n[K], its share and its mask's area.

A summary table of the classes found and their area follows the progress
bar. Inputs that fail (missing, corrupt, unreadable) are reported at the end
and the exit status is 1; the others are still processed and written. Bad
options (config, checkpoint, vocabulary) stop before any image with status 2.
"""
import argparse
import json
import os
import re
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import DictAction
from tqdm import tqdm

from mrovseg_mmseg.apis import FailedInput, OVSegInferencer, collect_inputs
from mrovseg_mmseg.apis.inferencer import OVSegResult
from mrovseg_mmseg.models.text_encoders.vocabulary import load_vocabulary_file
from mrovseg_mmseg.utils.precision import PRECISIONS
from mrovseg_mmseg.visualization import draw_overlay, draw_proposals


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Open-vocabulary segmentation of your own images',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument(
        'inputs', nargs='+', help='image files, folders or glob patterns')
    parser.add_argument('--config', required=True, help='MROVSeg config')
    parser.add_argument(
        '--checkpoint',
        help='trained weights; without, the config\'s weights are used')
    vocabulary = parser.add_mutually_exclusive_group(required=True)
    vocabulary.add_argument(
        '--classes',
        nargs='+',
        metavar='CLASS',
        help="class names, one argument each: sky tree 'sofa, couch'")
    vocabulary.add_argument(
        '--classes-file',
        help='text file, one class per line, synonyms comma-separated')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/infer',
        help='output folder (default: %(default)s)')
    parser.add_argument(
        '--device',
        help='cpu, cuda, cuda:1 ... '
        '(default: GPU if available)')
    parser.add_argument(
        '--precision',
        default='fp32',
        choices=list(PRECISIONS),
        help='autocast precision of the network (scoring stays fp32): bf16 '
        'is fast on CUDA and on CPUs with avx512_bf16 or amx_bf16, fp16 '
        'needs CUDA (default: %(default)s)')
    parser.add_argument(
        '--save-probs',
        action='store_true',
        help='also write one probability map per class')
    parser.add_argument(
        '--show-proposals',
        type=int,
        default=0,
        metavar='K',
        help='also draw the K mask proposals contributing most to the label '
        'map (their share of its winning score, see below) and list them in '
        'summary.json')
    parser.add_argument(
        '--cache-dir', help='disk cache of the text embeddings')
    parser.add_argument(
        '--scale',
        nargs=2,
        type=int,
        metavar=('LONG', 'SHORT'),
        help='bound of the keep-ratio resize the model sees (default: the '
        'config\'s test pipeline)')
    parser.add_argument(
        '--overlay-max-side',
        type=int,
        default=2048,
        help='longer side of the overlays in pixels (default: %(default)s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.show_proposals < 0:
        print(f'error: --show-proposals {args.show_proposals}: give a count '
              '>= 0', file=sys.stderr)
        return 2
    try:
        classes = (
            load_vocabulary_file(args.classes_file)
            if args.classes_file else args.classes)
        inferencer = OVSegInferencer(
            args.config,
            args.checkpoint,
            device=args.device,
            precision=args.precision,
            vocabulary=classes,
            cache_dir=args.cache_dir,
            scale=args.scale,
            cfg_options=args.cfg_options)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    with open(
            os.path.join(args.out_dir, 'classes.txt'), 'w',
            encoding='utf-8') as file:
        file.write(''.join(f'{name}\n' for name in inferencer.classes))
    items = collect_inputs(args.inputs)
    names = output_names(items)
    failed: List[FailedInput] = []
    results: Dict[str, dict] = {}
    outcomes = inferencer.iter_results(
        items,
        return_probs=args.save_probs,
        return_proposals=args.show_proposals,
        keep_image=True)
    progress = tqdm(outcomes, total=len(items), unit='image', desc='infer')
    for outcome, name in zip(progress, names):
        if isinstance(outcome, FailedInput):
            failed.append(outcome)
            continue
        try:
            write_outputs(outcome, name, args.out_dir, inferencer.palette,
                          args.overlay_max_side)
        except (OSError, ValueError) as err:
            failed.append(FailedInput(outcome.source, f'writing: {err}'))
            continue
        results[outcome.source] = summarize(outcome, name)
    with open(
            os.path.join(args.out_dir, 'summary.json'), 'w',
            encoding='utf-8') as file:
        json.dump(
            dict(
                classes=list(inferencer.classes),
                images=results,
                errors={item.source: item.error
                        for item in failed}),
            file,
            indent=1)
    print(summary_table(results.values(), inferencer.classes))
    print(f'{len(results)} of {len(items)} inputs written to {args.out_dir}')
    if failed:
        print(f'{len(failed)} inputs failed:', file=sys.stderr)
        for item in failed:
            print(f'  {item.source}: {item.error}', file=sys.stderr)
        return 1
    return 0


def output_names(items: Sequence) -> List[str]:
    """A unique file stem per item: the image's, then ``_2``, ``_3`` ..."""
    names, used = [], set()
    for item in items:
        source = item if isinstance(item, str) else item.source
        stem = safe_name(os.path.splitext(os.path.basename(source))[0])
        name, count = stem, 1
        while name in used:
            count += 1
            name = f'{stem}_{count}'
        used.add(name)
        names.append(name)
    return names


def safe_name(text: str) -> str:
    """Letters, digits, '.', '-' and '_' only, at most 60 characters."""
    return re.sub(r'[^\w.-]+', '_', text).strip('._')[:60] or 'image'


def write_outputs(result: OVSegResult, name: str, out_dir: str,
                  palette: Sequence[Sequence[int]], overlay_max_side: int):
    """Label map, overlay and (if any) probability maps and proposals of
    one image."""
    write_image(
        os.path.join(out_dir, 'labels', f'{name}.png'), result.label_map)
    image, labels = shrink(result.image, result.label_map, overlay_max_side)
    overlay = draw_overlay(image, labels, result.classes, palette)
    write_image(
        os.path.join(out_dir, 'overlays', f'{name}.jpg'), overlay[..., ::-1],
        [cv2.IMWRITE_JPEG_QUALITY, 90])
    if result.prob_maps is not None:
        folder = os.path.join(out_dir, 'probs', name)
        for index, prob_map in enumerate(result.prob_maps):
            class_name = safe_name(result.classes[index].split(',')[0])
            write_image(
                os.path.join(folder, f'{index}_{class_name}.png'), prob_map)
    if result.proposals is not None:
        picture = draw_proposals(result.image, result.proposals, palette)
        write_image(
            os.path.join(out_dir, 'proposals', f'{name}.png'),
            picture[..., ::-1])


def shrink(image: np.ndarray, labels: np.ndarray, max_side: int):
    """Image (area) and label map (nearest) with the longer side <= max."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image, labels
    size = (max(1, round(image.shape[1] * scale)),
            max(1, round(image.shape[0] * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST))


def write_image(path: str, array: np.ndarray, params=()) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(array), list(params)):
        raise OSError(f'could not write {path!r}')


def summarize(result: OVSegResult, name: str) -> dict:
    height, width = result.label_map.shape
    summary = dict(
        output=name,
        height=height,
        width=width,
        found=[
            dict(
                index=item.index,
                name=item.name,
                area=round(item.area, 6),
                pixels=round(item.area * height * width),
                score=round(item.score, 6)) for item in result.found
        ])
    if result.proposals is not None:
        summary['proposals'] = [item.summary() for item in result.proposals]
    return summary


def summary_table(results, classes: Sequence[str]) -> str:
    """Classes found over all images: images, pixel area, mean score."""
    images, pixels, weighted = defaultdict(int), defaultdict(float), \
        defaultdict(float)
    total = 0
    for result in results:
        size = result['height'] * result['width']
        total += size
        for item in result['found']:
            images[item['index']] += 1
            pixels[item['index']] += item['pixels']
            weighted[item['index']] += item['score'] * item['pixels']
    if not total:
        return 'no image processed'
    width = max([len('class')] + [len(classes[i]) for i in images])
    lines = [f'{"class":<{width}}  images    area  score']
    for index in sorted(images, key=lambda i: (-pixels[i], i)):
        lines.append(f'{classes[index]:<{width}}  {images[index]:>6}  '
                     f'{100 * pixels[index] / total:5.1f}%  '
                     f'{weighted[index] / pixels[index]:5.3f}')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
