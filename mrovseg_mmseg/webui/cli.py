"""Start the web demo.

    bash tools/run_demo.sh                  # trains the shapes demo's model
    bash tools/run_zero_shot_demo.sh        # trains the zero-shot demo's
    python tools/webui.py                   # then open http://127.0.0.1:7860

Without ``--config`` the page serves a demo's model (``--demo``): by default
the zero-shot demo's once ``tools/run_zero_shot_demo.sh`` has trained it
(``configs/zero_shot_demo/mrovseg_tiny_materials64.py``, the paper model's
checkpoint under ``work_dirs/zero_shot_demo/paper/``), with held-out scenes
as examples and all twelve material names in the class box; else the shapes
demo's (``configs/mrovseg_tiny_shapes64.py`` and the checkpoint named in
``work_dirs/demo/last_checkpoint``). The page says which names segmentation
training saw and whether the model's CLIP was pretrained
(:mod:`.knowledge`). It binds to 127.0.0.1 unless ``--host`` says
otherwise; requests are queued and run one at a time. Needs the ``webui``
extra: ``pip install -e .[webui]``.
"""
import argparse
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

DEMO_CONFIG = 'configs/mrovseg_tiny_shapes64.py'
DEMO_WORK_DIR = 'work_dirs/demo'
ZERO_SHOT_CONFIG = 'configs/zero_shot_demo/mrovseg_tiny_materials64.py'
ZERO_SHOT_WORK_DIR = 'work_dirs/zero_shot_demo'
REPO = Path(__file__).resolve().parents[2]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Web page to segment images with any class names',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument(
        '--demo',
        choices=['zero-shot', 'shapes'],
        help='the demo model served without --config (default: zero-shot '
        'once tools/run_zero_shot_demo.sh has trained it and no '
        '--checkpoint is given, else shapes)')
    parser.add_argument(
        '--config',
        help='MROVSeg config (default: the demo\'s, '
        f'{ZERO_SHOT_CONFIG} or {DEMO_CONFIG})')
    parser.add_argument(
        '--checkpoint',
        help='trained weights (default: with --config, the config\'s own '
        'weights; else the demo\'s last checkpoint: the paper model\'s '
        f'under {ZERO_SHOT_WORK_DIR}/paper/, or the one named in '
        f'{DEMO_WORK_DIR}/last_checkpoint)')
    parser.add_argument(
        '--classes-file',
        help='first vocabulary shown, one class per line (default: the '
        'test set\'s classes for a model tested on held-out scenes, such as '
        'the zero-shot demo\'s; else the checkpoint\'s dataset classes)')
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to bind; 0.0.0.0 exposes the page to the network '
        '(default: %(default)s)')
    parser.add_argument(
        '--port', type=int, default=7860, help='(default: %(default)s)')
    parser.add_argument(
        '--device', help='cpu, cuda, cuda:1 ... (default: GPU if available)')
    parser.add_argument(
        '--precision',
        default='fp32',
        choices=['fp32', 'bf16', 'fp16'],
        help='autocast precision of the network (scoring stays fp32): bf16 '
        'is fast on CUDA and on CPUs with avx512_bf16 or amx_bf16, fp16 '
        'needs CUDA (default: %(default)s)')
    parser.add_argument(
        '--cache-dir', help='disk cache of the text embeddings')
    parser.add_argument(
        '--queue-size',
        type=int,
        default=16,
        help='requests that may wait; more are refused (default: '
        '%(default)s)')
    parser.add_argument(
        '--display-max-side',
        type=int,
        default=1024,
        help='longer side of the images shown (default: %(default)s)')
    parser.add_argument(
        '--max-pixels',
        type=float,
        default=50e6,
        help='largest image accepted, in pixels (default: %(default).0f)')
    parser.add_argument(
        '--max-file-size',
        default='50mb',
        help='largest upload (default: %(default)s)')
    return parser.parse_args(argv)


def find_file(path: str) -> str:
    """``path`` as given if it exists, else relative to this repository."""
    if os.path.exists(path) or os.path.isabs(path):
        return path
    in_repo = REPO / path
    return str(in_repo) if in_repo.exists() else path


def shown_path(path: str) -> str:
    """``path`` relative to the working folder or this repository, if it
    lies inside one of them."""
    full = Path(path).resolve()
    for base in (Path.cwd().resolve(), REPO):
        if full.is_relative_to(base):
            return str(full.relative_to(base))
    return path


def demo_checkpoint(work_dir: str = DEMO_WORK_DIR) -> str:
    """The checkpoint the demo training wrote last.

    Raises:
        FileNotFoundError: saying how to train the demo model.
    """
    record = find_file(os.path.join(work_dir, 'last_checkpoint'))
    if not os.path.isfile(record):
        raise FileNotFoundError(
            f'no demo model: {record} does not exist. Train it with `bash '
            'tools/run_demo.sh` (a few minutes on a CPU) or pass --config '
            'and --checkpoint.')
    with open(record, encoding='utf-8') as file:
        return find_file(file.read().strip())


def zero_shot_checkpoint(work_dir: str = ZERO_SHOT_WORK_DIR) -> Optional[str]:
    """The paper model's checkpoint ``tools/run_zero_shot_demo.sh`` wrote
    (``<work_dir>/paper/seed<k>/last_checkpoint``, lowest seed first); None
    if there is none."""
    runs = []
    root = Path(find_file(work_dir))
    for record in root.glob('paper/seed*/last_checkpoint'):
        seed = record.parent.name[len('seed'):]
        if seed.isdigit():
            runs.append((int(seed), record))
    for _, record in sorted(runs):
        path = find_file(record.read_text(encoding='utf-8').strip())
        if os.path.isfile(path):
            return path
    return None


@dataclass
class Served:
    """The model the page serves.

    Attributes:
        config, checkpoint: as given to :class:`OVSegInferencer`.
        demo: 'zero-shot', 'shapes', or None for a model given by --config.
        other: how to serve something else, said on the command line and
            the page.
    """
    config: str
    checkpoint: Optional[str]
    demo: Optional[str]
    other: str


ANY_MODEL = 'any trained model: `--config CONFIG --checkpoint FILE`'
TRAIN_ZERO_SHOT = ('the zero-shot demo, whose CLIP was pretrained on material '
                   'names, is served by default once `bash '
                   'tools/run_zero_shot_demo.sh` has trained it')


def choose_model(args: argparse.Namespace) -> Served:
    """--config, else the --demo asked for, else the zero-shot demo if it
    is trained (and no --checkpoint is given), else the shapes demo.

    Raises:
        ValueError: --demo with --config.
        FileNotFoundError: the demo's checkpoint is missing, saying how to
            train it.
    """
    if args.config:
        if args.demo:
            raise ValueError('--demo and --config exclude each other: '
                             '--config serves the model it names')
        return Served(find_file(args.config), args.checkpoint, None,
                      'the demos: `--demo zero-shot` or `--demo shapes`')
    demo = args.demo
    zero_shot = zero_shot_checkpoint()
    if demo is None:  # a checkpoint alone goes with the shapes config
        demo = 'zero-shot' if zero_shot and not args.checkpoint else 'shapes'
    if demo == 'zero-shot':
        checkpoint = args.checkpoint or zero_shot
        if checkpoint is None:
            raise FileNotFoundError(
                'no zero-shot demo model: no paper/seed*/last_checkpoint '
                f'under {find_file(ZERO_SHOT_WORK_DIR)}. Train it with '
                '`bash tools/run_zero_shot_demo.sh` (about 15 minutes on a '
                'CPU) or serve the shapes demo with --demo shapes.')
        return Served(
            find_file(ZERO_SHOT_CONFIG), checkpoint, 'zero-shot',
            f'the shapes demo: `--demo shapes`; {ANY_MODEL}')
    other = ('the zero-shot demo: `--demo zero-shot`' if zero_shot else
             TRAIN_ZERO_SHOT)
    return Served(
        find_file(DEMO_CONFIG), args.checkpoint or demo_checkpoint(),
        'shapes', f'{other}; {ANY_MODEL}')


def held_out_examples(
        cfg, folder: str) -> Optional[Tuple[List[str], Tuple[str, ...]]]:
    """(example files, the test set's classes) for a config tested on a
    generated dataset with names its training set lacks (the zero-shot
    demo's held-out scenes); None for other configs.

    The scenes are read where ``cfg`` (training's config) put them
    (``data_root``), else generated again into ``folder`` as the dataset
    does.
    """
    from mmseg.registry import DATASETS

    from ..datasets.generated import GeneratedSegDataset
    from .knowledge import config_train_classes, unseen_classes
    from .page import write_held_out_examples
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    kind = DATASETS.get(dataset.get('type')) if isinstance(
        dataset.get('type'), str) else None
    if kind is None or not issubclass(kind, GeneratedSegDataset):
        return None
    classes = tuple((dataset.get('metainfo') or {}).get('classes')
                    or kind.METAINFO['classes'])
    unseen = unseen_classes(classes, config_train_classes(cfg))
    if not unseen:
        return None
    prefix = dataset.get('data_prefix') or {}
    root = find_file(dataset.get('data_root') or '')
    images = os.path.join(root, prefix.get('img_path', ''))
    if not os.path.isdir(images) or not os.listdir(images):
        settings = {key: dataset[key] for key in kind.GENERATOR_SETTINGS
                    if key in dataset}
        root = kind.generate(os.path.join(folder, 'held_out_scenes'),
                             **settings)
        images = os.path.join(root, prefix.get('img_path', ''))
    labels = os.path.join(root, prefix.get('seg_map_path', ''))
    paths = write_held_out_examples(images, labels, classes, unseen,
                                    os.path.join(folder, 'examples'))
    return paths, classes


def model_note(served: Served, device: str) -> str:
    """The line under the page's title (Markdown): which model, on which
    device, and how to serve another."""
    weights = shown_path(served.checkpoint) if served.checkpoint else \
        'as built'
    which = {
        'zero-shot': 'the zero-shot demo\'s, ',
        'shapes': 'the shapes demo\'s, ',
        None: ''
    }[served.demo]
    return (f'Model: {which}`{shown_path(served.config)}`, weights '
            f'`{weights}`, on {device}. Other models: {served.other}.')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        from .app import build_app, launch
    except ImportError as err:
        print(
            f'error: the web demo needs gradio ({err}); install it with '
            "`pip install -e '.[webui]'` or `pip install -r "
            "requirements/webui.txt`",
            file=sys.stderr)
        return 2
    from mmengine.config import Config

    from ..apis import OVSegInferencer
    from ..models.text_encoders.vocabulary import load_vocabulary_file
    from .knowledge import knowledge_text, model_knowledge, training_config
    from .page import write_examples
    from .segmenter import PageSegmenter
    try:
        served = choose_model(args)
        inferencer = OVSegInferencer(
            served.config,
            served.checkpoint,
            device=args.device,
            precision=args.precision,
            cache_dir=args.cache_dir)
        if args.classes_file:
            inferencer.set_vocabulary(load_vocabulary_file(args.classes_file))
        cfg = Config.fromfile(served.config)
        knowledge = model_knowledge(cfg, inferencer.checkpoint_meta)
        segmenter = PageSegmenter(
            inferencer,
            display_max_side=args.display_max_side,
            max_pixels=int(args.max_pixels),
            knowledge=knowledge)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl+C does
    try:
        held_out = held_out_examples(
            training_config(cfg, inferencer.checkpoint_meta),
            segmenter.out_dir)
        if held_out is None:
            examples = write_examples(
                os.path.join(segmenter.out_dir, 'examples'))
            examples_label = 'Examples (synthetic shapes)'
        else:
            examples, test_classes = held_out
            examples_label = ('Examples (held-out scenes, with names '
                              'segmentation training never saw)')
            if not args.classes_file:
                inferencer.set_vocabulary(test_classes)
        note = model_note(served, str(inferencer.device))
        text = f'{note}\n{knowledge_text(knowledge)}'
        print(text.replace('`', '').replace('**', ''), flush=True)
        app = build_app(
            segmenter,
            model_note=note,
            knowledge_note=knowledge_text(knowledge),
            examples=examples,
            examples_label=examples_label,
            initial_classes=inferencer.classes)
        launch(
            app,
            host=args.host,
            port=args.port,
            queue_size=args.queue_size,
            max_file_size=args.max_file_size)
    except OSError as err:  # e.g. the port is taken
        print(f'error: {err}', file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
        segmenter.close()
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == '__main__':
    sys.exit(main())
