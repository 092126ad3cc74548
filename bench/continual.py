#!/usr/bin/env python
"""Continual learning that can tell the methods apart: the embedded model over four classification tasks built
from tables people wrote, three on which the untrained model is at chance (script of a letter, the language —
French or German — a place's or a language's name is written in, sentiment of a word; the last two with their
labels replaced by unrelated words) and one above it (kind of a name) —
backprop_nb.clbench; fourteen tasks can be chosen with --tasks —
every method in one harness over several task orders, scored among each task's labels, with paired bootstrap
intervals for the differences, the multi-task bound, and a figure.

    python bench/continual.py                        # the default benchmark (2321 s measured on a 2-core CPU, bf16 weights)
    python bench/continual.py --quick                # a smoke run: 3 tasks, small, 2 methods (179 s measured)
    python bench/continual.py --lr 1e-4 --rank 8 --targets qv --methods sequential,slao --no-multitask \
        --save --name continual_paper_settings       # the paper's settings
    python bench/continual.py --lr 1e-3 --methods sequential,slao --no-multitask --save --name continual_lr1e-3
    python bench/continual.py --lr 1e-3 --steps 80 --methods sequential,slao --no-multitask --save \
        --name continual_lr1e-3_steps80              # both methods at their best measured setting (1640 s)
    python bench/continual.py --save                 # also write bench/results/continual.{txt,png,json}
"""
import argparse, json, os, sys, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def bench_config(a):
    from backprop_nb.clbench import BenchConfig, METHODS, DEFAULT_TASKS
    settings = {'continual.steps_per_task': a.steps, 'train.batch_size': a.batch, 'train.lr': a.lr, 'lora.r': a.rank,
                'lora.targets': a.targets, 'continual.curve': a.curve}
    if a.quick:
        return BenchConfig(tasks=('script', 'names_coded', 'sentiment_coded'), orders=2, n_train=120, n_held=60,
                           methods=('sequential', 'slao'), multitask=False,
                           settings={**settings, 'continual.steps_per_task': min(a.steps, 10)})
    methods = tuple(a.methods.split(',')) if a.methods else tuple(METHODS)
    return BenchConfig(tasks=tuple(a.tasks.split(',')) if a.tasks else DEFAULT_TASKS, orders=a.orders,
                       n_train=a.n_train, n_held=a.n_held, methods=methods, multitask=not a.no_multitask,
                       settings=settings)


def main():
    from backprop_nb.clbench import BenchConfig
    d = BenchConfig().settings                                   # the defaults live in one place
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true'); ap.add_argument('--save', action='store_true')
    ap.add_argument('--name', default='continual', help='--save writes bench/results/NAME.{txt,png,json}')
    ap.add_argument('--methods', default=None); ap.add_argument('--tasks', default=None)
    ap.add_argument('--orders', type=int, default=3); ap.add_argument('--n-train', type=int, default=400)
    ap.add_argument('--n-held', type=int, default=150); ap.add_argument('--no-multitask', action='store_true')
    ap.add_argument('--steps', type=int, default=d['continual.steps_per_task'])
    ap.add_argument('--batch', type=int, default=d['train.batch_size'])
    ap.add_argument('--lr', type=float, default=d['train.lr']); ap.add_argument('--rank', type=int, default=d['lora.r'])
    ap.add_argument('--targets', default=d['lora.targets']); ap.add_argument('--curve', default=d['continual.curve'])
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    from backprop_nb.clbench import run_bench, comparisons, report, bench_figure, summarize
    bc = bench_config(a)
    out = Path(a.out or tempfile.mkdtemp(prefix='bench-continual-'))
    import torch
    from backprop_nb.models import cpu_matmul_rates, pick_dtype
    rates = ', '.join(f'{k} {v:.3f}' for k, v in cpu_matmul_rates().items())   # the seconds depend on these
    t0 = time.time()
    head = (f'continual benchmark ({time.strftime("%Y-%m-%d")}): tasks {", ".join(bc.tasks)}; {bc.orders} orders for '
            f'{", ".join(bc.every_order)}, the first order for the rest; {bc.n_train} training rows and {bc.n_held} '
            f'held-out prompts per task; settings {bc.settings}\n'
            f'CPU, {torch.get_num_threads()} threads, weights in {str(pick_dtype("cpu")).split(".")[-1]}; '
            f'matmul rate (TFLOP/s, 768x1536x768): {rates}')
    print(head, flush=True)
    runs = run_bench(bc, out)
    comps = comparisons(runs)
    text = f'{head}\n\n{report(runs, comps, bc)}\nwall time {time.time() - t0:.0f} s; runs in {out}\n'
    print('\n' + text)
    cmd = 'python bench/continual.py ' + ' '.join(sys.argv[1:])
    text = f'# {cmd}\n{text}'
    (out / 'continual.txt').write_text(text)
    bench_figure(runs).savefig(out / 'continual.png', dpi=110)
    keep = [{k: v for k, v in r.items() if k not in ('details', 'base_details')} for r in runs]
    (out / 'continual.json').write_text(json.dumps(dict(command=cmd, settings=bc.settings, summary=summarize(runs),
                                                      comparisons=comps, runs=keep), indent=1))
    (out / 'runs.json').write_text(json.dumps(runs))          # with every per-prompt score
    if a.save:
        res = Path(__file__).parent / 'results'
        for x in ('txt', 'png', 'json'): (res / f'{a.name}.{x}').write_bytes((out / f'continual.{x}').read_bytes())
    print(f'figure and numbers: {out}/continual.png, continual.json (per-prompt scores in runs.json)')


if __name__ == '__main__': main()
