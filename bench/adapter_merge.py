#!/usr/bin/env python
"""Two adapters trained on different tasks, merged three ways: per-task scores of each merge.

The embedded model gets one LoRA on element symbols and one on MIME types (bundled tasks, separate runs);
each adapter alone and each merge (linear, TIES, DARE; equal weights) is scored by exact match on both
tasks' held-out prompts.

    python bench/adapter_merge.py [--steps 60] [--density 0.5]
"""
import argparse, os, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=60); ap.add_argument('--density', type=float, default=0.5)
    ap.add_argument('--tasks', default='elements,mime')
    a = ap.parse_args()
    from backprop_nb.config import make_config  # first: it silences bitsandbytes' import-time CPU warning
    import torch
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
    from backprop_nb.train import train
    from backprop_nb.data import heldout_prompts
    from backprop_nb.evaluate import eval_prompts
    from backprop_nb.export import merge_adapters, base_of
    from backprop_nb.models import load_tokenizer
    tasks = a.tasks.split(','); out = Path(tempfile.mkdtemp(prefix='bench-merge-'))
    runs = {}
    for t in tasks:
        t0 = time.time()
        runs[t] = train(make_config(**{'data.path': f'bundled:{t}', 'train.max_steps': a.steps, 'train.batch_size': 8, 'train.grad_accum': 1,
                                       'data.eval_fraction': 0.0, 'train.save_steps': 10_000, 'run.root': str(out), 'run.name': t}), progress=False)
        print(f'trained {t}: {time.time() - t0:.0f}s, final loss {runs[t].final_loss:.3f}', flush=True)
    base = base_of(runs[tasks[0]].run_dir); tok = load_tokenizer(base)
    load = lambda: AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    score = lambda m: {t: eval_prompts(m, tok, heldout_prompts(t), t, max_new_tokens=24, progress=False).summary['exact_match'] for t in tasks}
    rows = {f'adapter {t} alone': score(PeftModel.from_pretrained(load(), str(runs[t].adapter_dir))) for t in tasks}
    for method in ('linear', 'ties', 'dare'):
        pm = merge_adapters(load(), [runs[t].adapter_dir for t in tasks], [1 / len(tasks)] * len(tasks), method, a.density)
        rows[f'merged: {method}'] = score(pm)
    print(f'\n{"":24s} ' + ' '.join(f'{t:>10s}' for t in tasks) + f' {"mean":>8s}')
    for name, sc in rows.items():
        print(f'{name:24s} ' + ' '.join(f'{sc[t]:10.1%}' for t in tasks) + f' {sum(sc.values()) / len(sc):8.1%}')
    print(f'\n(exact match on held-out prompts; {a.steps} steps per adapter; TIES/DARE density {a.density}; weights equal)')


if __name__ == '__main__': main()
