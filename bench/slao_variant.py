#!/usr/bin/env python
"""An SLAO setting measured on every order of a finished `bench/continual.py` run, paired against that run.

Each order's task 1 is branched from the run's `order*-first` folder (it is the same for every method), then
SLAO with the given settings trains tasks 2–4 on the same task files, seed and steps; the accuracy matrices
are scored as in the benchmark (no second reading). Printed: per order AA / BWT and the diagonal, the mean
± sd, and paired bootstrap intervals against the run's SLAO and sequential LoRA.

    python bench/slao_variant.py RUN_FOLDER --set continual.orth_scale=match [--out DIR] [--save NAME]

With --out a folder of an earlier call, orders already finished there are read back instead of trained again.
"""
import argparse, json, os, sys, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def value(v:str):
    "A --set value as JSON when it parses (numbers, true/false), else the string."
    try: return json.loads(v)
    except ValueError: return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folder'); ap.add_argument('--set', action='append', default=[], metavar='KNOB=VALUE')
    ap.add_argument('--out', default=None); ap.add_argument('--save', default=None, help='bench/results/NAME.txt')
    a = ap.parse_args()
    import numpy as np
    from backprop_nb.clbench import BenchConfig, bench_config, task_orders, paired_bootstrap, aa_bwt, interval_text
    from backprop_nb.continual import continual, branch
    from backprop_nb.train import model_with_lora
    src = Path(a.folder)
    if not (src/'continual.json').exists() or not (src/'runs.json').exists():
        sys.exit(f'{src} is not a finished bench/continual.py folder (no continual.json and runs.json); '
                 f'give the folder its --out named.')
    over = dict(kv.split('=', 1) for kv in a.set)
    saved = json.loads((src/'continual.json').read_text())
    ref = json.loads((src/'runs.json').read_text())
    tasks = next(r['tasks'] for r in ref if r['order'] == 0)
    orders = sorted({r['order'] for r in ref if r['method'] == 'slao'})
    bc = BenchConfig(tasks=tuple(tasks), orders=len(orders), settings={**saved['settings'],
                     **{k: value(v) for k, v in over.items()}})
    files = {t: (src/'tasks'/f'{t}.jsonl', src/'tasks'/f'{t}-heldout.jsonl') for t in tasks}
    out = Path(a.out or tempfile.mkdtemp(prefix='slao-variant-'))
    model, tok, _ = model_with_lora(bench_config(bc, files, tuple(tasks), 'slao', out, False))
    t0, runs, lines = time.time(), [], [f'# python bench/slao_variant.py {src} ' + ' '.join(f'--set {s}' for s in a.set)
                                         + f'   ({time.strftime("%Y-%m-%d")})', f'settings {bc.settings}', '']
    for k, order in enumerate(task_orders(bc)):
        cfg, root = bench_config(bc, files, order, 'slao', out, False), out/f'order{k}-slao'
        done = root/'continual_state.json'
        if done.exists() and json.loads(done.read_text())['done'] == len(order):    # finished in an earlier call
            st, secs = json.loads(done.read_text()), None
        else:
            t1 = time.time()
            r = continual(cfg, model=model, tokenizer=tok, root=branch(src/f'order{k}-first', root, cfg),
                          resume=True, progress=False)
            st, secs = dict(matrix=r.matrix, details=r.details), time.time() - t1
        run = dict(method='variant', order=k, tasks=list(order), matrix=st['matrix'], details=st['details'])
        runs.append(run)
        aa, bwt = aa_bwt(run)
        diag = ' '.join(f'{st["matrix"][i][i]:.0%}' for i in range(len(order)))
        lines.append(f'order {k} ({", ".join(order)}): AA {aa:.1%}  BWT {bwt:+.1%}  diagonal [{diag}]  '
                     + (f'({secs:.0f} s for tasks 2–{len(order)})' if secs is not None else '(read back)'))
        print(lines[-1], flush=True)
    lines.append('')
    for name, rs in (('variant', runs), *((m, [r for r in ref if r['method'] == m]) for m in ('slao', 'sequential'))):
        ab = np.array([aa_bwt(r) for r in rs])
        lines.append(f'{name:11s} AA {ab[:, 0].mean():.1%} ± {ab[:, 0].std(ddof=1):.1%}   '
                     f'BWT {ab[:, 1].mean():+.1%} ± {ab[:, 1].std(ddof=1):.1%}   ({len(rs)} orders)')
    lines += ['', '| paired bootstrap, 95 % | ΔAA [interval] | ΔBWT [interval] |', '|---|---|---|']
    for m in ('slao', 'sequential'):
        b = paired_bootstrap(runs, [r for r in ref if r['method'] == m])
        lines.append(f'| variant − {m} | {interval_text(b, "AA")} | {interval_text(b, "BWT")} |')
    lines.append(f'\n{time.time() - t0:.0f} s; runs in {out}')
    text = '\n'.join(lines) + '\n'
    print(text)
    (out/'slao_variant.txt').write_text(text)
    if a.save: (Path(__file__).parent/'results'/f'{a.save}.txt').write_text(text)


if __name__ == '__main__': main()
