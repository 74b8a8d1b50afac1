"""Start the web demo.

    bash tools/run_demo.sh                  # trains the demo model once
    python tools/webui.py                   # then open http://127.0.0.1:7860

Without ``--config`` and ``--checkpoint`` the page serves the demo's model:
``configs/mrovseg_tiny_shapes64.py`` and the checkpoint named in
``work_dirs/demo/last_checkpoint``. The page binds to 127.0.0.1 unless
``--host`` says otherwise; requests are queued and run one at a time.
Needs the ``webui`` extra: ``pip install -e .[webui]``.
"""
import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

DEMO_CONFIG = 'configs/mrovseg_tiny_shapes64.py'
DEMO_WORK_DIR = 'work_dirs/demo'
REPO = Path(__file__).resolve().parents[2]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Web page to segment images with any class names',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument(
        '--config',
        help=f'MROVSeg config (default: the demo\'s, {DEMO_CONFIG})')
    parser.add_argument(
        '--checkpoint',
        help='trained weights (default: with --config, the config\'s own '
        'weights; else the demo\'s last checkpoint, named in '
        f'{DEMO_WORK_DIR}/last_checkpoint)')
    parser.add_argument(
        '--classes-file',
        help='first vocabulary shown, one class per line (default: the '
        'checkpoint\'s dataset classes)')
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
    from ..apis import OVSegInferencer
    from ..models.text_encoders.vocabulary import load_vocabulary_file
    from .page import write_examples
    from .segmenter import PageSegmenter
    try:
        config = find_file(args.config or DEMO_CONFIG)
        checkpoint = args.checkpoint or (None if args.config else
                                         demo_checkpoint())
        inferencer = OVSegInferencer(
            config,
            checkpoint,
            device=args.device,
            precision=args.precision,
            cache_dir=args.cache_dir)
        if args.classes_file:
            inferencer.set_vocabulary(load_vocabulary_file(args.classes_file))
        segmenter = PageSegmenter(
            inferencer,
            display_max_side=args.display_max_side,
            max_pixels=int(args.max_pixels))
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl+C does
    try:
        examples = write_examples(os.path.join(segmenter.out_dir, 'examples'))
        weights = shown_path(checkpoint) if checkpoint else 'as built'
        note = (f'Model: `{shown_path(config)}`, weights `{weights}`, on '
                f'{inferencer.device}.')
        app = build_app(
            segmenter,
            model_note=note,
            examples=examples,
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
