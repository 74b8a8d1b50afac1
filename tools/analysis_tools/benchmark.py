"""Benchmark a segmentor config on this machine: speed, FLOPs and memory.

Sections (each printed as a table; everything also goes to ``--out`` JSON):

- machine: CPU, torch threads, load average, and the fp32 matmul peak
  (best GFLOP/s of a few large ``torch.mm``), measured at the start and at the
  end of the run; the larger of the two is the peak used below.
- inference: ``model.predict`` (normalized image -> label map, the class
  embeddings of the vocabulary already computed) under
  ``torch.inference_mode``; warm latency = median of ``--repeats`` timed
  calls after ``--warmup`` untimed ones; FLOPs counted with
  ``torch.utils.flop_counter.FlopCounterMode`` on the first warmup call
  (1 FLOP = 1 multiply or 1 add; GMAC = GFLOP / 2); achieved fraction =
  FLOPs / latency / matmul peak.
- throughput: the same at ``--batch-size`` images per call.
- training: one step = data preprocessor + ``mode='loss'`` + backward +
  AdamW step, batch ``--train-batch-size`` at the main size.
- sizes (``--sizes WxH ...``, width first): inference at several sizes,
  latency, FLOP and memory growth against the pixel count.
- text (``--text``): the vocabulary (COCO-Stuff's 171 classes) with the
  templates (14 ViLD) embedded by the config's text encoder and by mmseg's
  ``CLIPTextEncoder`` holding the same weights; times, cache times and the
  largest difference of the normalized embeddings.
- ``--compare-san``: mmseg's SAN ViT-B/16 config measured the same way in the
  same run (right after the config's measurements, each in a fresh process
  like theirs), with MROVSeg / SAN ratios.

Memory: every measurement runs in a fresh Python process (this script with
``--run-case``), one per model, size and mode, so that no allocation of
another measurement is counted. In it, after the model is built, the
vocabulary embedded and the inputs made, the peak resident set size (VmHWM)
is reset through ``/proc/self/clear_refs`` and, after the calls, read back:
"peak RSS" is that peak (weights included), "growth" the peak minus the RSS
just before the calls (activations, workspaces, gradients, optimizer state).

Weights are random (no download): ``pretrained`` entries are set to None.
SAN's text tower gets open_clip's initialization (its ``torch.empty``
parameters would otherwise hold garbage); for the image measurements the
class embeddings of both models are computed before timing (SAN's cache is
filled with random unit vectors: its text time is the text section's).
Timings on a shared machine are inflated: the load average is recorded next
to every measurement.

    python tools/analysis_tools/benchmark.py configs/_base_/models/mrovseg_vit-b16.py \
        --compare-san --sizes --text --repeats 3 --out results.json
"""
import argparse
import contextlib
import ctypes
import gc
import json
import logging
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from mrovseg_mmseg.utils.flop_formulas import ATTENTION_FORMULAS

SAN_CONFIG = 'san/san-vit-b16_coco-stuff164k-640x640.py'
DEFAULT_SIZES = ('640x640', '1024x1024', '2048x1024')

# --------------------------------------------------------------- machine


def load_average() -> List[float]:
    """1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open('/proc/cpuinfo') as file:
            names = re.findall(r'^model name\s*:\s*(.+)$', file.read(), re.M)
            cpu = names[0] if names else cpu
    return dict(
        cpu=cpu,
        logical_cpus=os.cpu_count(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        mkldnn=torch.backends.mkldnn.is_available(),
        python=platform.python_version())


def measure_matmul_peak(shapes: Sequence[Tuple[int, int, int]] = (
        (2048, 2048, 2048), (2000, 768, 3072), (2000, 3072, 768)),
                        repeats: int = 10) -> dict:
    """Best fp32 ``torch.mm`` speed over (M, K, N) shapes, in GFLOP/s.

    Each shape is run twice untimed, then ``repeats`` times; its speed is
    2 M K N / the fastest time.
    """
    generator = torch.Generator().manual_seed(0)
    per_shape = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, generator=generator)
        b = torch.randn(k, n, generator=generator)
        out = torch.empty(m, n)
        times = []
        for index in range(repeats + 2):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            if index >= 2:
                times.append(time.perf_counter() - start)
        per_shape[f'{m}x{k}x{n}'] = 2 * m * k * n / min(times) / 1e9
    best = max(per_shape, key=per_shape.get)
    return dict(gflops=per_shape[best], best_shape=best, per_shape=per_shape,
                threads=torch.get_num_threads(), load_avg=load_average())


# ---------------------------------------------------------------- memory

_LIBC = None


def _trim_heap() -> None:
    """Return freed heap memory to the OS (glibc), so the baseline is tight."""
    global _LIBC
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        _LIBC = _LIBC or ctypes.CDLL('libc.so.6')
        _LIBC.malloc_trim(0)


def _status_kib(field: str) -> Optional[int]:
    with contextlib.suppress(OSError):
        with open('/proc/self/status') as file:
            match = re.search(rf'^{field}:\s*(\d+) kB', file.read(), re.M)
            return int(match.group(1)) if match else None
    return None


class PeakRSS:
    """Peak resident memory of this process over a stretch of code.

    Uses Linux's resettable high-water mark (write 5 to
    ``/proc/self/clear_refs``, read ``VmHWM``); elsewhere it falls back on
    ``getrusage`` ``ru_maxrss``, a lifetime peak that cannot be reset
    (``method`` says which was used).
    """

    def __enter__(self) -> 'PeakRSS':
        _trim_heap()
        self.method = 'VmHWM after clear_refs'
        try:
            with open('/proc/self/clear_refs', 'w') as file:
                file.write('5')
        except OSError:
            self.method = 'ru_maxrss (lifetime peak, not reset)'
        self.baseline = self._current()
        return self

    def __exit__(self, *exc) -> None:
        peak = _status_kib('VmHWM')
        if peak is None or not self.method.startswith('VmHWM'):
            import resource
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak = max(peak * 1024, self.baseline)

    @staticmethod
    def _current() -> int:
        rss = _status_kib('VmRSS')
        if rss is None:
            import resource
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss * 1024

    def result(self) -> dict:
        return dict(peak_rss_bytes=self.peak, baseline_rss_bytes=self.baseline,
                    growth_bytes=self.peak - self.baseline,
                    memory_method=self.method)


# ----------------------------------------------------------------- FLOPs

HEAVY_OP = re.compile(
    r'attention|conv|(^|_)(b?mm|addb?mm|baddbmm|matmul|linear|einsum)($|_)')


class _OpRecorder(TorchDispatchMode):
    """Names of the aten ops actually executed (below the FLOP counter)."""

    def __init__(self):
        super().__init__()
        self.packets = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.packets.add(func._overloadpacket)
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def count_flops():
    """Count FLOPs of the code in the block; yields a dict filled on exit.

    Keys: ``flops`` (total), ``by_op`` (FLOPs per aten op) and
    ``uncounted_ops`` (executed ops that look like matmul/conv/attention but
    have no formula: their work is missing from ``flops``).
    """
    report = {}
    recorder = _OpRecorder()
    counter = FlopCounterMode(display=False, custom_mapping=ATTENTION_FORMULAS)
    with recorder, counter:
        yield report
    by_op = {str(op): int(n) for op, n in
             counter.get_flop_counts().get('Global', {}).items()}
    report.update(
        flops=int(counter.get_total_flops()),
        by_op=dict(sorted(by_op.items(), key=lambda item: -item[1])),
        uncounted_ops=sorted(
            str(packet) for packet in recorder.packets
            if packet not in counter.flop_registry
            and HEAVY_OP.search(str(packet).split('.')[-1])))


# ------------------------------------------------------------- the model


def setup_registries() -> None:
    from mmseg.utils import register_all_modules

    import mrovseg_mmseg  # noqa: F401
    register_all_modules(init_default_scope=True)


def san_config_path() -> str:
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', SAN_CONFIG)


def coco_stuff_names() -> List[str]:
    from mmseg.datasets import COCOStuffDataset
    return list(COCOStuffDataset.METAINFO['classes'])


@contextlib.contextmanager
def quiet_mmengine():
    """Silence mmengine's INFO lines (``init_weights`` logs every tensor)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def model_config(config: str, cfg_options: Optional[dict] = None,
                 text_cache_dir: Optional[str] = None,
                 size: Optional[Tuple[int, int]] = None) -> Config:
    """The ``model`` of ``config`` with weights off (random initialization).

    ``size`` (H, W) becomes the data preprocessor's fixed padding size.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config} has no `model` dict')
    model = cfg.model
    if 'pretrained' in model:
        model.pretrained = None
    for part in ('backbone', 'image_encoder', 'text_encoder'):
        if part in model and 'pretrained' in model[part]:
            model[part].pretrained = None
    if 'text_encoder' in model and 'cache_dir' in model.text_encoder:
        model.text_encoder.cache_dir = text_cache_dir
    if size is not None and 'data_preprocessor' in model:
        model.data_preprocessor.size = tuple(size)
        model.data_preprocessor.size_divisor = None
    return model


def init_clip_text_tower(encoder: torch.nn.Module) -> None:
    """open_clip's initialization of the parameters torch leaves empty."""
    width = encoder.positional_embedding.shape[-1]
    torch.nn.init.normal_(encoder.token_embedding.weight, std=0.02)
    torch.nn.init.normal_(encoder.positional_embedding, std=0.01)
    torch.nn.init.normal_(encoder.text_projection, std=width**-0.5)


def init_weights(model: torch.nn.Module) -> None:
    """``model.init_weights()``, working around SAN's head.

    Without a checkpoint, mmseg's ``RecWithAttnbias.init_weights(None)``
    calls ``nn.Module.init_weights``, which does not exist; its layers keep
    PyTorch's default initialization instead, the rest of the head gets
    SAN's.
    """
    from mmseg.models.decode_heads.san_head import SideAdapterCLIPHead
    if not any(isinstance(module, SideAdapterCLIPHead)
               for module in model.children()):
        model.init_weights()
        return
    for module in model.children():
        if isinstance(module, SideAdapterCLIPHead):
            module.side_adapter_network.init_weights()
        elif hasattr(module, 'init_weights'):
            module.init_weights()


def build_segmentor(config: str, cfg_options: Optional[dict] = None,
                    text_cache_dir: Optional[str] = None,
                    size: Optional[Tuple[int, int]] = None,
                    seed: int = 0) -> torch.nn.Module:
    """Build and initialize a segmentor of ``config`` with random weights."""
    from mmseg.models.text_encoder import CLIPTextEncoder
    from mmseg.registry import MODELS
    setup_registries()
    cfg = model_config(config, cfg_options, text_cache_dir, size)
    torch.manual_seed(seed)
    with quiet_mmengine():
        model = MODELS.build(cfg)
        init_weights(model)
    for module in model.modules():
        if isinstance(module, CLIPTextEncoder):
            with torch.no_grad():
                init_clip_text_tower(module)
    return model


def prepare_vocabulary(model: torch.nn.Module,
                       names: Sequence[str]) -> float:
    """Embed the vocabulary before timing; returns the seconds it took.

    MROVSeg-style models (``set_vocabulary``) encode it with their own text
    encoder; mmseg's ``CLIPTextEncoder`` (SAN) gets its cache filled with
    random unit vectors of the right shape.
    """
    from mmseg.models.text_encoder import CLIPTextEncoder
    start = time.perf_counter()
    encoder = getattr(model, 'text_encoder', None)
    if hasattr(model, 'set_vocabulary'):
        model.set_vocabulary(list(names))
        encoder(list(names))
    elif isinstance(encoder, CLIPTextEncoder):
        generator = torch.Generator().manual_seed(0)
        dims = encoder.text_projection.shape[1]
        if encoder.dataset_name is not None:
            from mmseg.utils import get_classes
            count = len([name for name in get_classes(encoder.dataset_name)
                         if name != 'background'])
            encoder.cache[encoder.dataset_name] = F.normalize(
                torch.randn(count, dims, generator=generator), dim=-1)
        else:
            for word in encoder.vocabulary:
                encoder.cache[word] = F.normalize(
                    torch.randn(dims, generator=generator), dim=0)
    return time.perf_counter() - start


def random_batch(size: Tuple[int, int], batch_size: int, num_classes: int,
                 seed: int = 0) -> dict:
    """uint8 (3, H, W) images and blocky labels, as a data loader gives them."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    inputs, samples = [], []
    for index in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, height, width),
                                    generator=generator, dtype=torch.uint8))
        labels = torch.randint(0, num_classes,
                               (1, height // 32 + 1, width // 32 + 1),
                               generator=generator)
        labels = labels.repeat_interleave(32, 1).repeat_interleave(32, 2)
        sample = SegDataSample(
            gt_sem_seg=PixelData(data=labels[:, :height, :width]))
        sample.set_metainfo(dict(img_path=f'image_{index}.png',
                                 ori_shape=(height, width),
                                 img_shape=(height, width)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# ------------------------------------------------------------ measuring


def time_calls(step: Callable[[], object], repeats: int,
               warmup: int) -> dict:
    """Warm up, then time ``repeats`` calls; FLOPs of one call.

    FLOPs are counted on the first warmup call (or on an extra call after the
    timed ones when ``warmup`` is 0): the counter's overhead never enters a
    timed call.
    """
    if repeats < 1:
        raise ValueError(f'repeats={repeats} must be >= 1')
    flops = None
    for index in range(warmup):
        if index == 0:
            with count_flops() as flops:
                step()
        else:
            step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    if flops is None:
        with count_flops() as flops:
            step()
    ordered = sorted(times)
    middle = len(ordered) // 2
    median = (ordered[middle] if len(ordered) % 2 else
              (ordered[middle - 1] + ordered[middle]) / 2)
    return dict(times=times, median_s=median, min_s=ordered[0],
                max_s=ordered[-1], flops=flops['flops'],
                flops_by_op=flops['by_op'],
                uncounted_ops=flops['uncounted_ops'])


def measure_inference(model: torch.nn.Module, size: Tuple[int, int],
                      batch_size: int, repeats: int, warmup: int) -> dict:
    """``model.predict`` on a normalized batch under ``inference_mode``."""
    model.eval()
    batch = random_batch(size, batch_size, num_classes=2)
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, training=False)['inputs']
    with torch.inference_mode(), PeakRSS() as memory:
        timing = time_calls(lambda: model.predict(inputs), repeats, warmup)
    return dict(timing, **memory.result(),
                input_shape=list(inputs.shape))


def measure_training(model: torch.nn.Module, size: Tuple[int, int],
                     batch_size: int, repeats: int, warmup: int,
                     num_classes: int) -> dict:
    """Preprocess + ``mode='loss'`` + backward + AdamW step, per step."""
    model.train()
    batch = random_batch(size, batch_size, num_classes)
    params = [param for param in model.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4)

    def step() -> None:
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with PeakRSS() as memory:
        timing = time_calls(step, repeats, warmup)
    return dict(timing, **memory.result(),
                trainable_params=sum(param.numel() for param in params))


def run_case(case: dict) -> dict:
    """Build a model and run one measurement in this process.

    ``case``: ``kind`` ('inference', 'training' or 'text'), ``config``,
    ``cfg_options``, ``size`` [H, W], ``batch_size``, ``repeats``,
    ``warmup``, ``threads``, ``text_cache_dir``, ``templates`` (text).
    """
    if case.get('threads'):
        torch.set_num_threads(case['threads'])
    result = dict(case=case, load_avg_start=load_average(),
                  threads=torch.get_num_threads())
    names = coco_stuff_names()
    if case['kind'] == 'text':
        setup_registries()
        cfg = model_config(case['config'], case.get('cfg_options'))
        result.update(measure_text_encoding(
            cfg.text_encoder.to_dict(), names, case.get('templates', 'vild')))
    else:
        size = tuple(case['size'])
        start = time.perf_counter()
        model = build_segmentor(
            case['config'], case.get('cfg_options'),
            case.get('text_cache_dir'),
            size if case['kind'] == 'training' else None)
        result['build_s'] = time.perf_counter() - start
        result['vocabulary_s'] = prepare_vocabulary(model, names)
        result['params'] = sum(param.numel() for param in model.parameters())
        if case['kind'] == 'inference':
            result.update(measure_inference(model, size, case['batch_size'],
                                            case['repeats'], case['warmup']))
        else:
            result.update(measure_training(model, size, case['batch_size'],
                                           case['repeats'], case['warmup'],
                                           len(names)))
    result['load_avg_end'] = load_average()
    return result


def run_case_isolated(case: dict, timeout: Optional[float] = None) -> dict:
    """:func:`run_case` in a fresh Python process (clean memory numbers)."""
    with tempfile.TemporaryDirectory(prefix='benchmark_case_') as folder:
        case_file = osp.join(folder, 'case.json')
        out_file = osp.join(folder, 'result.json')
        with open(case_file, 'w') as file:
            json.dump(case, file)
        env = dict(os.environ)
        if case.get('threads'):
            for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
                env[name] = str(case['threads'])
        command = [sys.executable, osp.abspath(__file__), '--run-case',
                   case_file, '--case-out', out_file]
        process = subprocess.run(command, env=env, capture_output=True,
                                 text=True, timeout=timeout)
        if process.returncode != 0 or not osp.isfile(out_file):
            tail = '\n'.join(process.stderr.strip().splitlines()[-15:])
            return dict(case=case, error=f'exit code {process.returncode}:\n'
                        f'{tail}')
        with open(out_file) as file:
            return json.load(file)


# ----------------------------------------------------------------- text


def _mmseg_text_state_dict(encoder) -> dict:
    """State dict of an ``OpenCLIPTextEncoder`` renamed for mmseg's
    ``CLIPTextEncoder``, or ValueError saying which part has no counterpart.
    """
    from open_clip.transformer import QuickGELU, ResidualAttentionBlock
    if encoder.pool_type != 'argmax':
        raise ValueError(f'pooling {encoder.pool_type!r}: mmseg pools the '
                         'token with the largest id (argmax) only')
    if not isinstance(encoder.text_projection, torch.nn.Parameter):
        raise ValueError('a Linear text projection: mmseg has a plain '
                         '(width, dims) matrix')
    for index, block in enumerate(encoder.transformer.resblocks):
        if type(block) is not ResidualAttentionBlock or not all(
                isinstance(getattr(block, name), torch.nn.Identity)
                for name in ('ls_1', 'ls_2')):
            raise ValueError(f'text block {index} is not a plain pre-norm '
                             'block (layer scale or another block type): '
                             'mmcv BaseTransformerLayer has no counterpart')
        if not isinstance(block.mlp.gelu, QuickGELU):
            raise ValueError(f'text block {index} uses '
                             f'{type(block.mlp.gelu).__name__}: mmseg '
                             'hard-codes QuickGELU')
    renames = (
        (r'^transformer\.resblocks\.(\d+)\.ln_1\.', r'transformer.\1.norms.0.'),
        (r'^transformer\.resblocks\.(\d+)\.ln_2\.', r'transformer.\1.norms.1.'),
        (r'^transformer\.resblocks\.(\d+)\.attn\.',
         r'transformer.\1.attentions.0.attn.'),
        (r'^transformer\.resblocks\.(\d+)\.mlp\.c_fc\.',
         r'transformer.\1.ffns.0.layers.0.0.'),
        (r'^transformer\.resblocks\.(\d+)\.mlp\.c_proj\.',
         r'transformer.\1.ffns.0.layers.1.'),
    )
    state = {}
    for key, value in encoder.state_dict().items():
        for pattern, replacement in renames:
            key = re.sub(pattern, replacement, key)
        state[key] = value
    return state


def _quick_gelu_variant(text_cfg: dict) -> Tuple[dict, str]:
    """The text encoder's architecture with QuickGELU, as mmseg's encoder
    (and OpenAI's CLIP weights) use; a note on what was changed."""
    import open_clip
    if text_cfg.get('model_cfg') is not None:
        return (dict(model_name=None,
                     model_cfg=dict(text_cfg['model_cfg'], quick_gelu=True)),
                'model_cfg with quick_gelu=True')
    name = text_cfg.get('model_name', 'ViT-B-16')
    if name.endswith('-quickgelu'):
        return dict(model_name=name, model_cfg=None), name
    if f'{name}-quickgelu' in open_clip.list_models():
        return (dict(model_name=f'{name}-quickgelu', model_cfg=None),
                f'{name}-quickgelu (QuickGELU, as OpenAI weights)')
    return dict(model_name=name, model_cfg=None), f'{name} (GELU: differs)'


def measure_text_encoding(text_cfg: dict, names: Sequence[str],
                          templates='vild') -> dict:
    """Embed ``names`` with the config's text encoder and with mmseg's.

    A random CLIP of the encoder's architecture (QuickGELU) is saved to a
    temporary file and loaded by ``OpenCLIPTextEncoder`` (so the disk cache
    is keyed by the file, as with real weights); its text tower is then
    copied into mmseg's ``CLIPTextEncoder``.
    """
    import open_clip
    from mmseg.models.text_encoder import CLIPTextEncoder
    from mmseg.utils import tokenizer as mmseg_tokenizer

    from mrovseg_mmseg.models.text_encoders import (OpenCLIPTextEncoder,
                                                    resolve_templates)
    templates = list(resolve_templates(templates))
    architecture, note = _quick_gelu_variant(text_cfg)
    result = dict(classes=len(names), templates=len(templates),
                  prompts=len(names) * len(templates), architecture=note)
    torch.manual_seed(0)
    if architecture['model_cfg'] is not None:
        clip = open_clip.CLIP(**architecture['model_cfg'])
    else:
        clip = open_clip.create_model(architecture['model_name'],
                                      pretrained=None)
    with tempfile.TemporaryDirectory(prefix='benchmark_text_') as folder:
        weights = osp.join(folder, 'random_clip.pt')
        torch.save(clip.state_dict(), weights)
        del clip
        kwargs = dict(architecture, pretrained=weights, templates=templates,
                      cache_dir=osp.join(folder, 'cache'))
        ours = OpenCLIPTextEncoder(**kwargs)
        start = time.perf_counter()
        embeddings = ours(list(names))
        result['ours_cold_s'] = time.perf_counter() - start
        start = time.perf_counter()
        ours(list(names))
        result['ours_memory_cache_s'] = time.perf_counter() - start
        start = time.perf_counter()
        second = OpenCLIPTextEncoder(**kwargs)
        result['ours_build_s'] = time.perf_counter() - start
        start = time.perf_counter()
        cached = second(list(names))
        result['ours_disk_cache_s'] = time.perf_counter() - start
        result['disk_cache_max_abs_diff'] = float(
            (cached - embeddings).abs().max())
        del second

    prompts = [template.format(name) for name in names
               for template in templates]
    tokens = ours.tokenizer(prompts)
    lengths = tokens.argmax(dim=-1) + 1  # end-of-text has the largest id
    result.update(
        context_length=int(tokens.shape[1]),
        tokens_mean=float(lengths.float().mean()),
        tokens_max=int(lengths.max()),
        tokens_equal_mmseg=bool(
            torch.equal(tokens, mmseg_tokenizer.tokenize(prompts))))
    try:
        state = _mmseg_text_state_dict(ours)
    except ValueError as err:
        result['mmseg_error'] = f'weights cannot be mapped: {err}'
        return result
    block = ours.transformer.resblocks[0]
    width = ours.transformer.width
    mmseg = CLIPTextEncoder(
        vocabulary=list(names), templates=templates,
        total_vocab_size=ours.token_embedding.num_embeddings,
        context_length=ours.context_length, embed_dims=width,
        num_layers=len(ours.transformer.resblocks),
        num_heads=block.attn.num_heads,
        mlp_ratio=block.mlp.c_fc.out_features // width,
        output_dims=ours.embed_dims, cache_feature=True, cat_bg=False)
    incompatible = mmseg.load_state_dict(state, strict=False)
    missing = [key for key in incompatible.missing_keys
               if key != 'logit_scale']
    if missing or incompatible.unexpected_keys:
        result['mmseg_error'] = (
            f'weights do not map: missing {missing}, unexpected '
            f'{incompatible.unexpected_keys}')
        return result
    mmseg.eval()
    start = time.perf_counter()
    reference = F.normalize(mmseg(), dim=-1)
    result['mmseg_cold_s'] = time.perf_counter() - start
    result['mmseg_finite'] = bool(torch.isfinite(reference).all())
    result['max_abs_diff'] = float((reference - embeddings).abs().max())
    result['speedup'] = result['mmseg_cold_s'] / result['ours_cold_s']
    return result


# -------------------------------------------------------------- report


def parse_size(text: str) -> Tuple[int, int]:
    """'WxH' (width first, as in 2048x1024) -> (H, W)."""
    match = re.fullmatch(r'(\d+)x(\d+)', text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f'{text!r}: use WIDTHxHEIGHT')
    return int(match.group(2)), int(match.group(1))


def size_text(size: Sequence[int]) -> str:
    return f'{size[1]}x{size[0]}'


def table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ['  '.join(cell.rjust(width) if index else cell.ljust(width)
                       for index, (cell, width) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines)


def _gb(value: Optional[float]) -> str:
    return '-' if value is None else f'{value / 1e9:.2f}'


def _ratio(a, b) -> Optional[float]:
    return None if not a or not b else a / b


def _fmt(value, spec='.2f', suffix='') -> str:
    return '-' if value is None else f'{value:{spec}}{suffix}'


def derived(result: dict, peak_gflops: float) -> dict:
    """Per call: GFLOP, GMAC, achieved GFLOP/s, fraction of peak; img/s."""
    if 'error' in result:
        return {}
    gflop = result['flops'] / 1e9
    achieved = gflop / result['median_s']
    return dict(gflop=gflop, gmac=gflop / 2, achieved_gflops=achieved,
                peak_fraction=achieved / peak_gflops,
                images_per_s=result['case']['batch_size'] / result['median_s'])


def case_row(label: str, result: dict, peak: float) -> list:
    if 'error' in result:
        return [label, size_text(result['case']['size']), 'failed'] + \
            ['-'] * (len(CASE_HEADERS) - 3)
    d = derived(result, peak)
    return [label, size_text(result['case']['size']),
            result['case']['batch_size'], f'{result["median_s"]:.2f}',
            f'{result["min_s"]:.2f}-{result["max_s"]:.2f}',
            f'{d["images_per_s"]:.3f}', f'{d["gflop"]:.1f}',
            f'{d["gmac"]:.1f}', f'{d["achieved_gflops"]:.1f}',
            f'{100 * d["peak_fraction"]:.1f}%',
            _gb(result['peak_rss_bytes']), _gb(result['growth_bytes']),
            '/'.join(f'{v:.1f}' for v in result['load_avg_start'])]


CASE_HEADERS = ['model', 'WxH', 'batch', 'median s', 'min-max s', 'img/s',
                'GFLOP', 'GMAC', 'GFLOP/s', '% peak', 'peak RSS GB',
                'growth GB', 'load 1/5/15']


def print_report(report: dict) -> None:
    machine, peak = report['machine'], report['peak_gflops']
    print(f'\n== Machine ==\nCPU: {machine["cpu"]}, {machine["logical_cpus"]}'
          f' logical CPUs; torch {machine["torch"]}, {report["threads"]} '
          f'threads, fp32\nmatmul peak: '
          + ', '.join(f'{p["gflops"]:.1f} GFLOP/s at {when} (load '
                      f'{p["load_avg"][0]:.2f}, best {p["best_shape"]})'
                      for when, p in report['matmul'].items())
          + f'\npeak used for "% peak": {peak:.1f} GFLOP/s (the larger)')
    cases = report['cases']
    labels = report['labels']
    for section, title in (
            ('inference', 'Inference: predict() (image -> label map), '
             f'batch 1, median of {report["args"]["repeats"]} after '
             f'{report["args"]["warmup"]} warmup'),
            ('throughput', f'Throughput: predict() at batch '
             f'{report["args"]["batch_size"]} (GFLOP and memory per call)'),
            ('training', f'Training step, batch '
             f'{report["args"]["train_batch_size"]}: preprocess + loss + '
             'backward + AdamW (GFLOP per step)')):
        rows = []
        for model in labels:
            result = cases.get(f'{model}/{section}')
            if result is None:
                continue
            row = case_row(labels[model], result, peak)
            rows.append(row)
        if rows:
            print(f'\n== {title} ==\n{table(CASE_HEADERS, rows)}')
            ratio = report['ratios'].get(section)
            if ratio:
                print('MROVSeg / SAN: ' + ', '.join(
                    f'{key} {_fmt(value, ".2f", "x")}'
                    for key, value in ratio.items()))
    sweep = report.get('sizes')
    if sweep:
        headers = ['model', 'WxH', 'pixels x', 'latency s', 'latency x',
                   'latency x / pixels x', 'GFLOP', 'GFLOP x', 'peak RSS GB',
                   'growth GB', 'growth x', 'load 1/5/15']
        rows = []
        for model, entries in sweep.items():
            for entry in entries:
                rows.append([
                    labels[model], entry['size'], f'{entry["pixel_ratio"]:.2f}',
                    _fmt(entry.get('latency_s')),
                    _fmt(entry.get('latency_ratio')),
                    _fmt(entry.get('latency_growth_per_pixel_growth')),
                    _fmt(entry.get('gflop'), '.1f'),
                    _fmt(entry.get('flops_ratio')),
                    _gb(entry.get('peak_rss_bytes')),
                    _gb(entry.get('growth_bytes')),
                    _fmt(entry.get('growth_ratio')),
                    entry.get('load', '-')])
        print('\n== Size sweep: predict() batch 1, ratios against the first '
              'size ==\n' + table(headers, rows))
    text = report.get('text')
    if text:
        print_text(text)
    print_targets(report)
    shown = set()
    for key, value in cases.items():
        if 'error' in value and id(value) not in shown:
            shown.add(id(value))
            print(f'\n[failed] {key}: {value["error"]}')


def print_text(text: dict) -> None:
    if 'error' in text:
        print(f'\n== Text encoding ==\nfailed: {text["error"]}')
        return
    rows = [['OpenCLIPTextEncoder, first call', f'{text["ours_cold_s"]:.2f}',
             f'<= {text["tokens_max"]} (mean {text["tokens_mean"]:.1f})'],
            ['  same instance again (memory cache)',
             f'{text["ours_memory_cache_s"]:.4f}', '-'],
            ['  new instance, same weights file (disk cache)',
             f'{text["ours_disk_cache_s"]:.4f}', '-'],
            ['  (building that instance)', f'{text["ours_build_s"]:.2f}', '-']]
    if 'mmseg_cold_s' in text:
        rows.append(['mmseg CLIPTextEncoder, first call',
                     f'{text["mmseg_cold_s"]:.2f}',
                     str(text['context_length'])])
    print(f'\n== Text encoding: {text["classes"]} classes x '
          f'{text["templates"]} templates = {text["prompts"]} prompts, '
          f'{text["architecture"]}, random weights ==\n'
          + table(['encoder', 'seconds', 'tokens per prompt'], rows))
    if 'mmseg_error' in text:
        print(f'mmseg comparison: {text["mmseg_error"]}')
        return
    print(f'speed-up over mmseg: {text["speedup"]:.2f}x; normalized '
          f'embeddings (same weights): max |difference| '
          f'{text["max_abs_diff"]:.2e} (mmseg output finite: '
          f'{text["mmseg_finite"]}); identical tokens: '
          f'{text["tokens_equal_mmseg"]}; load '
          + '/'.join(f'{v:.1f}' for v in text['load_avg_start']))


def print_targets(report: dict) -> None:
    """The measured values next to the targets of issue 8."""
    lines = []
    main = report['cases'].get('main/inference', {})
    if 'flops' in main:
        fraction = derived(main, report['peak_gflops'])['peak_fraction']
        lines.append(f'inference at {size_text(main["case"]["size"])}: '
                     f'{100 * fraction:.1f}% of the matmul peak (target >= '
                     '60%)')
    entries = (report.get('sizes') or {}).get('main', [])
    if len(entries) > 1 and 'latency_growth_per_pixel_growth' in entries[-1]:
        last = entries[-1]
        lines.append(f'latency {entries[0]["size"]} -> {last["size"]}: '
                     f'{last["latency_ratio"]:.2f}x for '
                     f'{last["pixel_ratio"]:.2f}x pixels = '
                     f'{last["latency_growth_per_pixel_growth"]:.2f}x the '
                     'pixel ratio (target <= 1.1)')
    text = report.get('text') or {}
    if 'speedup' in text:
        lines.append(f'vocabulary encoding: {text["speedup"]:.2f}x faster '
                     f'than mmseg (target >= 7), max |difference| '
                     f'{text["max_abs_diff"]:.1e} (target <= 1e-5), disk '
                     f'cache {text["ours_disk_cache_s"]:.3f} s (target < 1)')
    ratio = report['ratios'].get('training')
    if ratio:
        lines.append(f'training step vs SAN: time {ratio["latency"]:.2f}x, '
                     f'peak RSS {ratio["peak RSS"]:.2f}x')
    if lines:
        print('\n== Against the targets of issue 8 (timings inflated by the '
              'load) ==\n' + '\n'.join(f'- {line}' for line in lines))


def summarize(report: dict) -> None:
    """Fill ``report['ratios']`` and ``report['sizes']`` from the cases."""
    cases, peak = report['cases'], report['peak_gflops']
    report['ratios'] = {}
    for section in ('inference', 'throughput', 'training'):
        ours = cases.get(f'main/{section}', {})
        san = cases.get(f'san/{section}', {})
        if not ours or not san or 'error' in ours or 'error' in san:
            continue
        d_ours, d_san = derived(ours, peak), derived(san, peak)
        report['ratios'][section] = {
            'latency': _ratio(ours['median_s'], san['median_s']),
            'FLOPs': _ratio(ours['flops'], san['flops']),
            '% peak': _ratio(d_ours['peak_fraction'], d_san['peak_fraction']),
            'peak RSS': _ratio(ours['peak_rss_bytes'], san['peak_rss_bytes']),
            'growth': _ratio(ours['growth_bytes'], san['growth_bytes'])}
    sizes = report['args'].get('sizes')
    if not sizes:
        return
    report['sizes'] = {}
    for model in report['labels']:
        entries, base = [], None
        for size in sizes:
            result = cases.get(f'{model}/size/{size_text(size)}')
            if result is None:
                continue
            entry = dict(size=size_text(size), pixels=size[0] * size[1])
            if 'error' not in result:
                entry.update(latency_s=result['median_s'],
                             gflop=result['flops'] / 1e9,
                             peak_rss_bytes=result['peak_rss_bytes'],
                             growth_bytes=result['growth_bytes'],
                             load='/'.join(f'{v:.1f}' for v in
                                           result['load_avg_start']))
            base = base or entry
            entry['pixel_ratio'] = entry['pixels'] / base['pixels']
            if 'latency_s' in entry and 'latency_s' in base:
                entry['latency_ratio'] = entry['latency_s'] / base['latency_s']
                entry['latency_growth_per_pixel_growth'] = (
                    entry['latency_ratio'] / entry['pixel_ratio'])
                entry['flops_ratio'] = entry['gflop'] / base['gflop']
                entry['growth_ratio'] = _ratio(entry['growth_bytes'],
                                               base['growth_bytes'])
            entries.append(entry)
        report['sizes'][model] = entries


# ------------------------------------------------------------------ main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[2:]))
    parser.add_argument('config', nargs='?', help='config with a `model`')
    parser.add_argument('--size', type=parse_size, default=(640, 640),
                        help='WxH of the inference and training images')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed calls per measurement (median reported)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed calls before timing (the first one '
                        'counts FLOPs)')
    parser.add_argument('--batch-size', type=int, default=2,
                        help='images per call for the throughput section '
                        '(1 skips it)')
    parser.add_argument('--train-batch-size', type=int, default=2)
    parser.add_argument('--no-train', action='store_true',
                        help='skip the training-step section')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--sizes', nargs='*', type=parse_size, default=None,
                        help='size sweep; without values: '
                        + ' '.join(DEFAULT_SIZES))
    parser.add_argument('--text', action='store_true',
                        help='text-encoding benchmark against mmseg')
    parser.add_argument('--text-templates', default='vild')
    parser.add_argument('--compare-san', action='store_true',
                        help="also measure mmseg's SAN ViT-B/16")
    parser.add_argument('--san-config', default=None,
                        help=f'SAN config (default: mmseg\'s {SAN_CONFIG})')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    parser.add_argument('--out', help='write all results to this JSON file')
    parser.add_argument('--run-case', help=argparse.SUPPRESS)
    parser.add_argument('--case-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is not None and not args.sizes:
        args.sizes = [parse_size(size) for size in DEFAULT_SIZES]
    if not args.run_case and not args.config:
        parser.error('the config is required')
    return args


def plan_cases(args: argparse.Namespace,
               text_cache_dir: Optional[str]) -> Dict[str, dict]:
    """Every measurement of the run, keyed '<model>/<section>'."""
    models = {'main': (args.config, args.cfg_options)}
    if args.compare_san:
        models['san'] = (args.san_config or san_config_path(), None)
    common = dict(repeats=args.repeats, warmup=args.warmup,
                  threads=args.threads, text_cache_dir=text_cache_dir)
    cases = {}
    for model, (config, options) in models.items():
        base = dict(common, config=config, cfg_options=options)
        cases[f'{model}/inference'] = dict(
            base, kind='inference', size=args.size, batch_size=1)
        if args.batch_size > 1:
            cases[f'{model}/throughput'] = dict(
                base, kind='inference', size=args.size,
                batch_size=args.batch_size)
        if not args.no_train:
            cases[f'{model}/training'] = dict(
                base, kind='training', size=args.size,
                batch_size=args.train_batch_size)
        for size in args.sizes or ():
            key = f'{model}/size/{size_text(size)}'
            if tuple(size) != tuple(args.size):
                cases[key] = dict(base, kind='inference', size=size,
                                  batch_size=1)
    if args.text:
        cases['text'] = dict(common, kind='text', config=args.config,
                             cfg_options=args.cfg_options,
                             templates=args.text_templates)
    return cases


def run_all(args: argparse.Namespace,
            runner: Callable[[dict], dict] = run_case_isolated,
            matmul_peak: Callable[[], dict] = measure_matmul_peak) -> dict:
    """Run every planned case with ``runner``; the report as a dict.

    ``matmul_peak`` is measured before the first and after the last case.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    report = dict(args={k: v for k, v in vars(args).items()
                        if k not in ('run_case', 'case_out')},
                  machine=machine_info(), threads=args.threads,
                  labels={'main': 'MROVSeg'}, cases={}, matmul={})
    if args.compare_san:
        report['labels']['san'] = 'SAN'
    if args.config and 'mrovseg' not in osp.basename(args.config).lower():
        report['labels']['main'] = osp.splitext(osp.basename(args.config))[0]
    report['matmul']['start'] = matmul_peak()
    with tempfile.TemporaryDirectory(prefix='benchmark_text_cache_') as cache:
        for key, case in plan_cases(args, cache).items():
            print(f'[benchmark] {key} ({case["kind"]}'
                  + (f', {size_text(case["size"])}, batch '
                     f'{case["batch_size"]}' if 'size' in case else '')
                  + f') load {load_average()[0]:.2f} ...', flush=True)
            start = time.perf_counter()
            result = runner(case)
            result['wall_s'] = time.perf_counter() - start
            print(f'[benchmark]   done in {result["wall_s"]:.0f} s'
                  + (' (FAILED)' if 'error' in result else ''), flush=True)
            report['cases'][key] = result
    report['matmul']['end'] = matmul_peak()
    report['peak_gflops'] = max(p['gflops'] for p in report['matmul'].values())
    for model in report['labels']:
        main = report['cases'].get(f'{model}/inference')
        if main is not None and tuple(args.size) in map(tuple, args.sizes
                                                        or ()):
            report['cases'][f'{model}/size/{size_text(args.size)}'] = main
    report['text'] = report['cases'].pop('text', None)
    summarize(report)
    return report


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.run_case:
        with open(args.run_case) as file:
            case = json.load(file)
        result = run_case(case)
        with open(args.case_out, 'w') as file:
            json.dump(result, file)
        return
    report = run_all(args)
    print_report(report)
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(report, file, indent=1)
        print(f'\nresults written to {args.out}')


if __name__ == '__main__':
    main()
