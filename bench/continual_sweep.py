#!/usr/bin/env python
"""Each method at its own best learning rate: several finished `bench/continual.py` runs that differ only in
train.lr, read together (no training).

A method compared at one shared LR can win because the other method fails at that LR (sequential LoRA collapses to
chance at LR 2e-3 in two of three orders), so this picks each method's LR by its mean AA over the orders and
compares the methods at their own best LR — paired, since every run shares the tasks, orders, seed and held-out
prompts. The LR is picked on the same held-out prompts it is scored on (the benchmark has no validation split):
a selection that favours every method alike, not one.

    python bench/continual.py --lr 1e-3 --methods sequential,slao --no-multitask --out /tmp/lr1e-3   # one per LR
    python bench/continual_sweep.py /tmp/lr5e-4 /tmp/lr1e-3 /tmp/lr1.5e-3 /tmp/lr2e-3 [--save]
"""
import argparse, json, os, sys, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from pathlib import Path

KEEP = ('continual.steps_per_task', 'train.batch_size', 'lora.r', 'lora.targets', 'continual.curve')


def load(folder:Path) -> tuple:
    "(settings, runs with per-prompt scores) of one bench/continual.py --out folder."
    if not (folder/'runs.json').exists() or not (folder/'continual.json').exists():
        sys.exit(f'{folder} has no runs.json and continual.json; give folders that bench/continual.py --out wrote.')
    return json.loads((folder/'continual.json').read_text())['settings'], json.loads((folder/'runs.json').read_text())


def by_lr(folders:list) -> dict:
    "lr -> runs, after checking that the folders differ in train.lr only and share the task orders."
    sets = [load(Path(f)) for f in folders]
    s0, tasks0 = sets[0][0], {r['order']: r['tasks'] for r in sets[0][1]}
    out = {}
    for f, (s, runs) in zip(folders, sets):
        other = {k: (s.get(k), s0.get(k)) for k in KEEP if s.get(k) != s0.get(k)}
        if other: sys.exit(f'{f} differs from {folders[0]} in more than train.lr: {other}; sweep one knob at a time.')
        if any(tasks0.get(r['order'], r['tasks']) != r['tasks'] for r in runs):
            sys.exit(f'{f} ran other tasks or orders than {folders[0]}; give runs of the same benchmark.')
        if s['train.lr'] in out: sys.exit(f'two folders ran train.lr {s["train.lr"]}; give one folder per LR.')
        out[s['train.lr']] = runs
    return dict(sorted(out.items()))


def best_lrs(grid:dict, methods:list) -> dict:
    "method -> the LR with the highest mean AA over orders."
    return {m: max((lr for lr in grid if m in grid[lr]), key=lambda lr: grid[lr][m]['AA']) for m in methods}


def figure(grid:dict, methods:list):
    "AA and BWT (mean ± sd over orders) against the learning rate for the methods run at several LRs."
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 3.6)); axes = fig.subplots(1, 2)
    swept = [m for m in methods if sum(m in g for g in grid.values()) > 1]
    for ax, k in zip(axes, ('AA', 'BWT')):
        for m in swept:
            lrs = [lr for lr in grid if m in grid[lr]]
            ax.errorbar(lrs, [100 * grid[lr][m][k] for lr in lrs], capsize=3, marker='o', label=m,
                        yerr=[100 * (grid[lr][m][f'{k}_sd'] or 0) for lr in lrs])
        bound = [(lr, g['multitask']['AA']) for lr, g in grid.items() if 'multitask' in g]
        if k == 'AA' and bound:
            ax.axhline(100 * bound[0][1], ls='--', c='gray', label=f'multi-task bound (LR {bound[0][0]:g})')
        ax.set_xscale('log'); ax.set_xticks(list(grid), [f'{lr:g}' for lr in grid]); ax.minorticks_off()
        ax.set_xlabel('learning rate'); ax.set_ylabel(f'{k} (%, mean ± sd over orders)'); ax.grid(alpha=.3)
        ax.set_title({'AA': 'average accuracy after the last task', 'BWT': 'backward transfer (< 0: forgetting)'}[k])
    axes[0].legend(fontsize=8); fig.tight_layout()
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folders', nargs='+'); ap.add_argument('--save', action='store_true')
    ap.add_argument('--name', default='continual_lr_sweep')
    a = ap.parse_args()
    from backprop_nb.clbench import summarize, paired_bootstrap, interval_text, target_line, target_check
    t0, runs = time.time(), by_lr(a.folders)
    grid = {lr: summarize(rs) for lr, rs in runs.items()}
    methods = list(dict.fromkeys(m for g in grid.values() for m in g))
    best = best_lrs(grid, methods)
    pm = lambda x, sd: '–' if x != x else f'{x:+.1%}' + ('' if sd is None else f' ± {sd:.1%}')
    lines = [f'# python bench/continual_sweep.py {" ".join(a.folders)}   ({time.strftime("%Y-%m-%d")})',
             f'settings other than train.lr: {dict((k, load(Path(a.folders[0]))[0].get(k)) for k in KEEP)}', '',
             '| method | LR | orders | AA (mean ± sd) | BWT (mean ± sd) |', '|---|---|---|---|---|']
    for m in methods:
        for lr, g in grid.items():
            if m not in g: continue
            s = g[m]; star = ' (best AA)' if best[m] == lr and sum(m in x for x in grid.values()) > 1 else ''
            lines.append(f'| {m} | {lr:g}{star} | {s["orders"]} | {s["AA"]:.1%}'
                         + (f' ± {s["AA_sd"]:.1%}' if s['AA_sd'] is not None else '') + f' | {pm(s["BWT"], s["BWT_sd"])} |')
    lines += ['', '| difference (paired bootstrap over prompts, 95 %) | ΔAA [interval] | ΔBWT [interval] | '
              'forgetting ratio | target |', '|---|---|---|---|---|']
    pick = lambda m, lr: [r for r in runs[lr] if r['method'] == m]
    pairs = [(('slao', lr), ('sequential', lr)) for lr in grid if 'slao' in grid[lr] and 'sequential' in grid[lr]]
    if 'slao' in best and 'sequential' in best: pairs.append((('slao', best['slao']), ('sequential', best['sequential'])))
    comps = {}
    for (m1, l1), (m2, l2) in pairs:
        c = paired_bootstrap(pick(m1, l1), pick(m2, l2)); comps[(l1, l2)] = c
        ratio, met = target_check(grid[l1][m1], grid[l2][m2], c)
        lines.append(f'| {m1} @ {l1:g} − {m2} @ {l2:g} | {interval_text(c, "AA")} | {interval_text(c, "BWT")} | '
                     f'{ratio:.2f} | {"met" if met else "not met"} |')
    if 'slao' in best and 'sequential' in best:
        ls, lq = best['slao'], best['sequential']
        sm = {'slao': grid[ls]['slao'], 'sequential': grid[lq]['sequential']}
        lines.append(f'\neach method at its best LR (slao {ls:g}, sequential {lq:g}) — '
                     + target_line(sm, {'slao − sequential': comps[(ls, lq)]}).strip())
    lines.append(f'\n{time.time() - t0:.0f} s')
    text = '\n'.join(lines) + '\n'
    print(text)
    fig = figure(grid, methods)
    out = Path(a.folders[-1])
    (out/f'{a.name}.txt').write_text(text); fig.savefig(out/f'{a.name}.png', dpi=110)
    if a.save:
        res = Path(__file__).parent/'results'
        (res/f'{a.name}.txt').write_text(text); fig.savefig(res/f'{a.name}.png', dpi=110)
    print(f'table and figure: {out}/{a.name}.txt, {a.name}.png')


if __name__ == '__main__': main()
