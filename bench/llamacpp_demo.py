#!/usr/bin/env python
"""The tuned demo model through llama.cpp: train the README's demo (or take a run directory), export GGUF as
f16, q8_0 and Q4_K_M, and answer the held-out prompts with llama.cpp beside transformers (the run's adapter,
plain peft), greedy, through the model's own chat template.

    python bench/llamacpp_demo.py                 # trains the demo first (~2-4 minutes on 2 cores)
    python bench/llamacpp_demo.py --run runs/demo-...
"""
import argparse, os, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', default=None); ap.add_argument('--quants', default='f16,q8_0,q4_k_m')
    a = ap.parse_args()
    from backprop_nb.config import make_config
    from backprop_nb.data import heldout_prompts
    from backprop_nb.export import export_run
    from backprop_nb.llamacpp import answers_through_llama_cpp
    from backprop_nb.train import train
    run = Path(a.run) if a.run else train(make_config(preset='demo', **{'run.root': tempfile.mkdtemp()}), progress=False).run_dir
    pairs, results = heldout_prompts(), {}
    for q in a.quants.split(','):
        t0 = time.time()
        d = export_run(run, 'gguf', Path(tempfile.mkdtemp()) / q, qtype=q)
        g = next(d.glob('*.gguf'))
        results[q] = answers_through_llama_cpp(run, g, pairs)
        r = results[q]
        print(f'{q:7s} {g.stat().st_size / 2**20:6.1f} MiB  exact match: transformers {r["em_hf"]:.0f}/{r["n"]}, '
              f'llama.cpp {r["em_lc"]:.0f}/{r["n"]}; same answer {r["same"]}/{r["n"]}; same top-1 token at '
              f'{r["top1"]:.1%} of positions  ({time.time() - t0:.0f} s)')
    print(f'\nrun: {run}\n\n| prompt | gold | transformers | ' + ' | '.join(f'llama.cpp {q}' for q in results) + ' |')
    print('|---|---|---|' + '---|' * len(results))
    for i, (p, g) in enumerate(pairs):
        rows = [results[q]['rows'][i] for q in results]
        mark = lambda s, ok: f'{s} {"✓" if ok else "✗"}'
        print(f'| {p} | {g} | {mark(rows[0]["transformers"], rows[0]["em_hf"])} | '
              + ' | '.join(mark(r['llama_cpp'], r['em_lc']) for r in rows) + ' |')


if __name__ == '__main__': main()
