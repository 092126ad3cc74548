#!/usr/bin/env python
"""Continual learning on the bundled task sequence with the embedded model: SLAO vs the baselines.

Tasks (real tables, see backprop_nb/assets/datasets.json): element symbols → ISO alpha-3 country codes →
Unicode character names → MIME types. After each task every task is scored by exact match on held-out
prompts about entities never seen in training. Every method runs in the same harness from the same initial
LoRA, with the same steps, LR and data; printed per method: the accuracy matrix, AA, BWT, FWT, wall time
and adapter bytes. A figure with all matrices and the AA/BWT bars is saved.

    python bench/continual.py                              # all methods (~35 min on a 2-core CPU)
    python bench/continual.py --methods sequential,slao --steps 40
"""
import argparse, json, os, sys, time, tempfile
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path

ALL = ['sequential', 'fresh', 'slao_no_orth', 'slao_last_merge', 'slao', 'slao+replay']


def method_settings(m):
    if m == 'slao+replay': return {'continual.method': 'slao', 'continual.replay': 0.1}
    return {'continual.method': m}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--methods', default=','.join(ALL)); ap.add_argument('--steps', type=int, default=60)
    ap.add_argument('--rank', type=int, default=16); ap.add_argument('--targets', default='all-linear')
    ap.add_argument('--lr', type=float, default=5e-4); ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--curve', default='sqrt'); ap.add_argument('--out', default=None)
    ap.add_argument('--tasks', default='elements,countries,unicode,mime')
    ap.add_argument('--eval-future', action='store_true', help='also score tasks not yet trained (for FWT; ~60%% more evaluation)')
    a = ap.parse_args()
    from backprop_nb.config import make_config
    from backprop_nb.continual import continual, matrix_markdown, matrix_figure
    from backprop_nb.train import model_with_lora
    from backprop_nb.slao import get_state, set_state
    out = Path(a.out or tempfile.mkdtemp(prefix='bench-continual-'))
    common = {'continual.tasks': ','.join(f'bundled:{t}' for t in a.tasks.split(',')), 'continual.steps_per_task': a.steps,
              'continual.curve': a.curve, 'lora.r': a.rank, 'lora.targets': a.targets, 'train.lr': a.lr, 'train.batch_size': a.batch,
              'train.grad_accum': 1, 'train.save_steps': 10_000, 'train.eval_steps': 10_000, 'data.eval_fraction': 0.0, 'run.root': str(out),
              'continual.eval_future': a.eval_future}
    cfg0 = make_config(**common)
    model, tok, info = model_with_lora(cfg0)
    init = get_state(model)
    print(f'{info}\ntasks: {a.tasks}; {a.steps} steps × batch {a.batch} per task, LR {a.lr}, LoRA r={a.rank} on {a.targets}, curve {a.curve}\n', flush=True)
    results = {}
    for m in a.methods.split(','):
        set_state(model, init)                                   # every method starts from the same LoRA
        cfg = make_config(**common, **method_settings(m), **{'run.name': m.replace('+', '_')})
        r = continual(cfg, model=model, tokenizer=tok, progress=False)
        results[m] = r
        print(f'== {m}: AA {r.metrics["AA"]:.1%}  BWT {r.metrics["BWT"]:+.1%}  FWT {r.metrics.get("FWT", float("nan")):+.1%}  '
              f'{r.seconds:.0f}s  adapter {r.adapter_bytes/2**20:.2f} MiB', flush=True)
        print(matrix_markdown(r.tasks, r.matrix, r.base) + '\n', flush=True)
    print(f'\n{"method":16s} {"AA":>7s} {"BWT":>7s} {"FWT":>7s} {"seconds":>8s} {"adapter bytes":>14s}')
    for m, r in results.items():
        print(f'{m:16s} {r.metrics["AA"]:7.1%} {r.metrics["BWT"]:+7.1%} {r.metrics.get("FWT", float("nan")):+7.1%} {r.seconds:8.0f} {r.adapter_bytes:14,d}')
    if 'sequential' in results and 'slao' in results:
        s, q = results['slao'].metrics, results['sequential'].metrics
        ratio = (-s['BWT']) / (-q['BWT']) if q['BWT'] < 0 else float('nan')
        print(f'\nSLAO forgetting / sequential forgetting: {ratio:.2f} (target ≤ 0.5);  AA: SLAO {s["AA"]:.1%} vs sequential {q["AA"]:.1%} (target ≥)')
    fig = figure(results)
    fig.savefig(out / 'continual.png', dpi=110)
    (out / 'continual.json').write_text(json.dumps({m: dict(tasks=r.tasks, matrix=r.matrix, base=r.base, metrics=r.metrics, seconds=r.seconds,
                                                            adapter_bytes=r.adapter_bytes) for m, r in results.items()}, indent=1))
    print(f'\nfigure and numbers: {out}/continual.png, {out}/continual.json')


def figure(results):
    from matplotlib.figure import Figure
    from backprop_nb.continual import matrix_figure
    n = len(results)
    fig = Figure(figsize=(3.2 * min(n, 3) + 0.5, 2.9 * ((n + 2) // 3) + 2.6))
    gs = fig.add_gridspec((n + 2) // 3 + 1, 3)
    for k, (m, r) in enumerate(results.items()):
        ax = fig.add_subplot(gs[k // 3, k % 3]); matrix_figure(r, ax); ax.set_title(f'{m}: AA {r.metrics["AA"]:.0%}, BWT {r.metrics["BWT"]:+.0%}', fontsize=8)
    ax = fig.add_subplot(gs[-1, :])
    names = list(results); x = range(len(names))
    ax.bar([i - 0.2 for i in x], [results[m].metrics['AA'] for m in names], 0.4, label='AA')
    ax.bar([i + 0.2 for i in x], [results[m].metrics['BWT'] for m in names], 0.4, label='BWT')
    ax.axhline(0, color='k', lw=0.6); ax.set_xticks(list(x), names, fontsize=8); ax.legend(fontsize=8); ax.set_title('average accuracy and backward transfer', fontsize=9)
    fig.tight_layout()
    return fig


if __name__ == '__main__': main()
