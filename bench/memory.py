#!/usr/bin/env python
"""Estimated vs measured peak memory of LoRA / QLoRA training (target: within ±20 % on CPU RSS).

Each configuration trains the embedded SmolLM2-135M for a few steps in a fresh process, on samples of an
exact token length, and reports that process's peak resident memory (ru_maxrss); the estimate comes from
`plan.estimate_memory` with the same config, without loading anything. On a machine with a GPU, the same
configurations are measured with torch.cuda.max_memory_allocated (target ±15 %).

    python bench/memory.py
"""
import json, os, subprocess, sys
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

CONFIGS = [
    dict(name='r8  b4  L128', r=8, batch=4, length=128, quant='none'),
    dict(name='r32 b8  L128', r=32, batch=8, length=128, quant='none'),
    dict(name='r16 b8  L256', r=16, batch=8, length=256, quant='none'),
    dict(name='r16 b2  L512', r=16, batch=2, length=512, quant='none'),
    dict(name='r16 b4  L128 4-bit', r=16, batch=4, length=128, quant='4bit'),
    dict(name='r16 b4  L256 8-bit', r=16, batch=4, length=256, quant='8bit'),
]

CHILD = r"""
import json, os, resource, sys, torch
c = json.loads(sys.argv[1])
from backprop_nb.config import make_config
from backprop_nb.train import train
from backprop_nb.data import Sample
from backprop_nb.models import embedded_model_dir, load_tokenizer
tok = load_tokenizer(str(embedded_model_dir()))
# samples of exactly `length` tokens: a reply of words, the assistant turn trained
words = ' '.join(['alpha', 'beta', 'gamma', 'delta'] * 400)
def sample(i):
    msgs = [{'role': 'user', 'content': f'Sample {i}: repeat.'}, {'role': 'assistant', 'content': words}]
    return Sample(f'm:{i}', msgs)
samples = [sample(i) for i in range(c['batch'] * 4)]
cfg = make_config(**{'lora.r': c['r'], 'train.batch_size': c['batch'], 'train.grad_accum': 1, 'train.max_steps': 3, 'data.max_length': c['length'],
                     'model.quantization': c['quant'], 'data.eval_fraction': 0.0, 'train.save_steps': 1000, 'run.root': c['root'], 'data.duplicates': 'keep',
                     'data.near_duplicates': 'keep'})
cuda = torch.cuda.is_available()
r = train(cfg, samples=samples, progress=False)
peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(peak_rss=peak_rss, cuda_peak=torch.cuda.max_memory_allocated() if cuda else None, tokens=[e.tokens for e in r.events if e.kind == 'step'])))
"""


def main():
    import tempfile
    from backprop_nb.config import make_config
    from backprop_nb.plan import arch_of, estimate_memory, fmt_bytes
    import torch
    arch = arch_of('embedded')
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    print(f'device: {dev}; model: {arch.name}; each row trains 3 steps in a fresh process\n')
    print(f'{"config":20s} {"estimate":>10s} {"measured":>10s} {"ratio":>7s}   estimate by component')
    errs = []
    for c in CONFIGS:
        c = dict(c, root=tempfile.mkdtemp())
        out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(c)], capture_output=True, text=True, timeout=1200)
        if out.returncode != 0: print(f'{c["name"]:20s} failed: {out.stderr[-400:]}'); continue
        m = json.loads(out.stdout.strip().splitlines()[-1])
        cfg = make_config(**{'lora.r': c['r'], 'train.batch_size': c['batch'], 'data.max_length': c['length'], 'model.quantization': c['quant']})
        est = estimate_memory(cfg, arch, c['length'], c['batch'], dev, trained_share=1.0)
        measured = m['cuda_peak'] if dev == 'cuda' else m['peak_rss']
        target = est.allocated if dev == 'cuda' else est.total
        ratio = target / measured
        errs.append(abs(ratio - 1))
        parts = ', '.join(f'{k.split()[0].lower()} {fmt_bytes(v)}' for k, v in est.rows()[:-1])
        print(f'{c["name"]:20s} {fmt_bytes(target):>10s} {fmt_bytes(measured):>10s} {ratio:7.2f}   {parts}', flush=True)
    tol = 0.15 if dev == 'cuda' else 0.20
    print(f'\nlargest error: {max(errs):.1%} (target ±{tol:.0%}: {"met" if max(errs) <= tol else "NOT met"})')


if __name__ == '__main__': main()
