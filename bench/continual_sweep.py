#!/usr/bin/env python
"""Each method at its own best setting: several finished `bench/continual.py` runs that differ only in the
learning rate and/or the steps per task, read together (no training).

A method compared at one shared setting can win because the other method fails there (sequential LoRA collapses
to chance at LR 2e-3 in two of three orders), so this picks each method's setting by its mean AA over the orders
and compares the methods at their own best — paired, since every run shares the tasks, orders, seed and held-out
prompts. The setting is picked on the same held-out prompts it is scored on (the benchmark has no validation
split): a selection that favours every method alike, not one.

    python bench/continual.py --lr 1e-3 --methods sequential,slao --no-multitask --out /tmp/lr1e-3   # one per point
    python bench/continual_sweep.py /tmp/lr5e-4 /tmp/lr1e-3 /tmp/lr1.5e-3 /tmp/lr2e-3 [--save]      # an LR sweep
    python bench/continual_sweep.py /tmp/lr2e-3 /tmp/steps20 /tmp/steps80 [--save]                   # a steps sweep
"""
import argparse, json, os, sys, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from pathlib import Path

SWEPT = {'train.lr': ('LR', 'learning rate'),                       # the knobs a sweep may vary: (column, axis)
         'continual.steps_per_task': ('steps', 'steps per task')}
KEEP = ('train.batch_size', 'lora.r', 'lora.targets', 'continual.curve')


def load(folder:Path) -> tuple:
    "(settings, runs with per-prompt scores) of one bench/continual.py --out folder."
    if not (folder/'runs.json').exists() or not (folder/'continual.json').exists():
        sys.exit(f'{folder} has no runs.json and continual.json; give folders that bench/continual.py --out wrote.')
    return json.loads((folder/'continual.json').read_text())['settings'], json.loads((folder/'runs.json').read_text())


def by_point(folders:list) -> tuple:
    """(the swept knobs, {point: runs}, the settings all share) after checking that the folders differ in the
    swept knobs only and share the task orders; a point is the tuple of the swept knobs' values."""
    sets = [load(Path(f)) for f in folders]
    s0, tasks0 = sets[0][0], {r['order']: r['tasks'] for r in sets[0][1]}
    for f, (s, runs) in zip(folders, sets):
        other = {k: (s.get(k), s0.get(k)) for k in KEEP if s.get(k) != s0.get(k)}
        if other: sys.exit(f'{f} differs from {folders[0]} in {other}; a sweep varies only {", ".join(SWEPT)}.')
        if any(tasks0.get(r['order'], r['tasks']) != r['tasks'] for r in runs):
            sys.exit(f'{f} ran other tasks or orders than {folders[0]}; give runs of the same benchmark.')
    knobs = [k for k in SWEPT if len({s[k] for s, _ in sets}) > 1] or ['train.lr']
    out = {}
    for f, (s, runs) in zip(folders, sets):
        p = tuple(s[k] for k in knobs)
        if p in out: sys.exit(f'{f} repeats {point_text(knobs, p)}; give one folder per point of the sweep.')
        out[p] = runs
    return knobs, dict(sorted(out.items())), {k: s0.get(k) for k in (*KEEP, *SWEPT) if k not in knobs}


def point_text(knobs:list, p:tuple) -> str: return ', '.join(f'{SWEPT[k][0]} {v:g}' for k, v in zip(knobs, p))


def best_points(grid:dict, methods:list) -> dict:
    "method -> the point with the highest mean AA over orders."
    return {m: max((p for p in grid if m in grid[p]), key=lambda p: grid[p][m]['AA']) for m in methods}


def figure(knobs:list, grid:dict, methods:list):
    """AA and BWT (mean ± sd over orders) against the swept knob with the most values, one line per method (and
    per value of the other knob when both vary), for the methods run at several points."""
    from matplotlib.figure import Figure
    xi = max(range(len(knobs)), key=lambda i: len({p[i] for p in grid}))
    fig = Figure(figsize=(10, 4.4)); axes = fig.subplots(1, 2)
    swept = [m for m in methods if sum(m in g for g in grid.values()) > 1]
    lines = sorted({(m, p[:xi] + p[xi + 1:]) for m in swept for p in grid if m in grid[p]})
    rests = sorted({r for _, r in lines})                   # one colour per method, one marker per other value
    for ax, k in zip(axes, ('AA', 'BWT')):
        for m, rest in lines:
            ps = [p for p in grid if m in grid[p] and p[:xi] + p[xi + 1:] == rest]
            label = m + (f' ({point_text([x for i, x in enumerate(knobs) if i != xi], rest)})' if rest else '')
            ax.errorbar([p[xi] for p in ps], [100 * grid[p][m][k] for p in ps], capsize=3, label=label,
                        c=f'C{swept.index(m)}', marker='osD^v'[rests.index(rest) % 5],
                        ls=('-', '--', ':', '-.')[rests.index(rest) % 4],
                        yerr=[100 * (grid[p][m][f'{k}_sd'] or 0) for p in ps])
        bound = [(p, g['multitask']['AA']) for p, g in grid.items() if 'multitask' in g]
        if k == 'AA' and bound:
            ax.axhline(100 * bound[0][1], ls='--', c='gray', label=f'multi-task bound ({point_text(knobs, bound[0][0])})')
        xs = sorted({p[xi] for p in grid})
        ax.set_xscale('log'); ax.set_xticks(xs, [f'{x:g}' for x in xs]); ax.minorticks_off()
        ax.set_xlabel(SWEPT[knobs[xi]][1])
        ax.set_ylabel(f'{k} (%, mean ± sd over orders)'); ax.grid(alpha=.3)
        ax.set_title({'AA': 'average accuracy after the last task', 'BWT': 'backward transfer (< 0: forgetting)'}[k])
    h, l = axes[0].get_legend_handles_labels()                    # below the plots, clear of the points
    fig.legend(h, l, loc='lower center', ncol=min(len(l), 4), fontsize=7)
    fig.tight_layout(rect=(0, 0.06 * ((len(l) + 3) // 4) + 0.02, 1, 1))
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folders', nargs='+'); ap.add_argument('--save', action='store_true')
    ap.add_argument('--name', default=None, help='bench/results/NAME.{txt,png} (default: continual_KNOB_sweep)')
    a = ap.parse_args()
    from backprop_nb.clbench import summarize, paired_bootstrap, interval_text, target_line, target_check, _pm
    t0 = time.time()
    knobs, runs, shared = by_point(a.folders)
    name = a.name or 'continual_' + '_'.join(SWEPT[k][0].lower() for k in knobs) + '_sweep'
    grid = {p: summarize(rs) for p, rs in runs.items()}
    methods = list(dict.fromkeys(m for g in grid.values() for m in g))
    best = best_points(grid, methods)
    pt = lambda p: point_text(knobs, p)
    cols = ' | '.join(SWEPT[k][0] for k in knobs)
    lines = [f'# python bench/continual_sweep.py {" ".join(a.folders)}   ({time.strftime("%Y-%m-%d")})',
             f'settings shared by every run: {shared}', '',
             f'| method | {cols} | orders | AA (mean ± sd) | BWT (mean ± sd) |', '|---|' + '---|' * (len(knobs) + 3)]
    for m in methods:
        for p, g in grid.items():
            if m not in g: continue
            s = g[m]; star = ' (best AA)' if best[m] == p and sum(m in x for x in grid.values()) > 1 else ''
            vals = ' | '.join(f'{v:g}' for v in p) + star
            aa = f'{s["AA"]:.1%}' + (f' ± {s["AA_sd"]:.1%}' if s['AA_sd'] is not None else '')
            lines.append(f'| {m} | {vals} | {s["orders"]} | {aa} | '
                         f'{"–" if m == "multitask" else _pm(s["BWT"], s["BWT_sd"])} |')
    lines += ['', '| difference (paired bootstrap over prompts, 95 %) | ΔAA [interval] | ΔBWT [interval] | '
              'forgetting ratio | target |', '|---|---|---|---|---|']
    pick = lambda m, p: [r for r in runs[p] if r['method'] == m]
    pairs = [(('slao', p), ('sequential', p)) for p in grid if 'slao' in grid[p] and 'sequential' in grid[p]]
    both = 'slao' in best and 'sequential' in best
    if both and (('slao', best['slao']), ('sequential', best['sequential'])) not in pairs:
        pairs.append((('slao', best['slao']), ('sequential', best['sequential'])))
    comps = {}
    for (m1, p1), (m2, p2) in pairs:
        c = paired_bootstrap(pick(m1, p1), pick(m2, p2)); comps[(p1, p2)] = c
        ratio, met = target_check(grid[p1][m1], grid[p2][m2], c)
        lines.append(f'| {m1} @ {pt(p1)} − {m2} @ {pt(p2)} | {interval_text(c, "AA")} | {interval_text(c, "BWT")} | '
                     f'{ratio:.2f} | {"met" if met else "not met"} |')
    if both:
        ps, pq = best['slao'], best['sequential']
        sm = {'slao': grid[ps]['slao'], 'sequential': grid[pq]['sequential']}
        lines.append(f'\neach method at its best (slao {pt(ps)}; sequential {pt(pq)}) — '
                     + target_line(sm, {'slao − sequential': comps[(ps, pq)]}).strip())
    lines.append(f'\n{time.time() - t0:.0f} s')
    text = '\n'.join(lines) + '\n'
    print(text)
    fig = figure(knobs, grid, methods)
    out = Path(a.folders[-1])
    (out/f'{name}.txt').write_text(text); fig.savefig(out/f'{name}.png', dpi=110)
    if a.save:
        res = Path(__file__).parent/'results'
        (res/f'{name}.txt').write_text(text); fig.savefig(res/f'{name}.png', dpi=110)
    print(f'table and figure: {out}/{name}.txt, {name}.png')


if __name__ == '__main__': main()
