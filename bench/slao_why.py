#!/usr/bin/env python
"""Why SLAO keeps or loses what it does, read off a finished `bench/continual.py` run (no training).

SLAO trains task i from the last fine-tuned LoRA (A orthogonalised, B copied), never from the merged one, so the
sequence of fine-tuned LoRAs (A_i, B_i) does not depend on the merge scale λ. Every task's fine-tuned adapter is
saved in its task folder, so any λ curve can be applied afterwards and scored — the λ question costs scoring,
not training. Per SLAO run of the bench folder this prints:

- the diagonal and the final row of the accuracy matrix of the merge under several λ curves, and of the
  fine-tuned LoRA itself (`ft`: what was learned before any merge; its diagonal is how well each task was learned);
- whether the replaced A still serves the old B: each old task scored with the final merged B under its own
  A_j instead of the final A_T, and how much of A_j's row space A_T still spans (1 = the same subspace);
- a check that the sqrt curve rebuilt from the adapters equals the merged LoRA the run shipped.

    python bench/slao_why.py RUN_FOLDER [--orders 0,1,2] [--save]
    python bench/slao_why.py RUN_FOLDER --intervals ft,linear [--save --name NAME]   # paired intervals only
"""
import argparse, json, os, sys, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path
import torch
from safetensors.torch import load_file

CURVES = ('sqrt', 'linear', 'log', 'constant')      # constant: λ = 0.5 after task 1


def adapter_state(folder) -> dict:
    "{module: (A, B)} from a peft adapter folder (module names as in slao.get_state)."
    t = load_file(str(Path(folder)/'adapter_model.safetensors'))
    mods = sorted({k.rsplit('.lora_', 1)[0] for k in t})
    return {m: (t[f'{m}.lora_A.weight'].float(), t[f'{m}.lora_B.weight'].float()) for m in mods}


def merged_states(fts:list, curve:str) -> list:
    "The merged LoRA after each task under `curve` (SLAO's asymmetric merge: A replaced, B moved by λ)."
    from backprop_nb.slao import scale
    out, m = [], None
    for i, ft in enumerate(fts, 1):
        lam = scale(i, curve)
        m = ({n: (A.clone(), B.clone()) for n, (A, B) in ft.items()} if m is None else
             {n: (ft[n][0].clone(), m[n][1] + lam * (ft[n][1] - m[n][1])) for n in ft})
        out.append(m)
    return out


def variant_states(fts:list, v:str) -> list:
    "The LoRA after each task of one variant: 'ft' (the fine-tuned LoRAs, no merge) or a λ curve's merge."
    return fts if v == 'ft' else merged_states(fts, v)


def variant_name(v:str) -> str: return 'ft (no merge)' if v == 'ft' else f'merge {v}'


def span_kept(A_old, A_new) -> float:
    "How much of A_old's row space A_new spans: ‖P_new Q_oldᵀ‖² / r (1 = the same subspace, r/n_in = random)."
    q_old = torch.linalg.qr(A_old.T).Q           # [n_in, r]
    q_new = torch.linalg.qr(A_new.T).Q
    return float((q_new.T @ q_old).pow(2).sum() / q_old.shape[1])


def fine_tuned(root:Path) -> tuple:
    "(config, tasks, every task's fine-tuned {module: (A, B)}) of one SLAO run folder."
    from backprop_nb.config import load_config
    from backprop_nb.continual import load_tasks
    cfg = load_config(root/'config.yaml')
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit() and (p/'adapter').exists())
    return cfg, load_tasks(cfg), [adapter_state(d/'adapter') for d in dirs]


def mean(xs) -> float: return sum(xs) / len(xs)


def order_of(root:Path) -> int: return int(root.name[5:].split('-')[0])     # order3-slao -> 3


def scored_run(model, tok, tasks, states, cfg, method:str, k:int) -> dict:
    "A bench-style run of a sequence of LoRA states: per-prompt scores on the diagonal and the last row."
    from backprop_nb.continual import score_items
    from backprop_nb.slao import set_state
    T = len(tasks); details = [[None] * T for _ in range(T)]
    for i, st in enumerate(states):
        set_state(model, st)
        for j in (range(T) if i == T - 1 else (i,)):
            details[i][j] = score_items(model, tok, tasks[j], cfg.eval.max_new_tokens)
    return dict(method=method, order=k, tasks=[t.name for t in tasks], details=details)


def analyse(root:Path, model, tok) -> tuple:
    from backprop_nb.clbench import aa_bwt
    from backprop_nb.continual import score_items
    from backprop_nb.slao import set_state, load_lora_state
    cfg, tasks, fts = fine_tuned(root)
    k, T = order_of(root), len(fts)
    lines, res = [f'## {root.name}: tasks {", ".join(t.name for t in tasks)}'], {}
    state_dir = sorted(root.glob('state-*'))[-1]
    shipped = load_lora_state(state_dir/'slao'/'merged.safetensors') if (state_dir/'slao').exists() else \
        load_lora_state(state_dir/'merged.safetensors')
    rebuilt = merged_states(fts, cfg.continual.curve)[-1]
    diff = max((rebuilt[n][i] - shipped[n][i]).abs().max().item() for n in shipped for i in (0, 1))
    lines.append(f'rebuilt {cfg.continual.curve} merge vs the shipped merged LoRA: max |Δ| {diff:.1e}')
    variants = {variant_name(v): variant_states(fts, v) for v in ('ft', *CURVES)}
    for name, states in variants.items():
        t0 = time.time()
        run = scored_run(model, tok, tasks, states, cfg, name, k)
        aa, bwt = aa_bwt(run)
        diag = [mean(run['details'][j][j]) for j in range(T)]
        final = [mean(x) for x in run['details'][-1]]
        res[name] = dict(diagonal=diag, final=final, AA=float(aa), BWT=float(bwt))
        lines.append(f'{name:16s} AA {aa:6.1%}  BWT {bwt:+6.1%}  diagonal [{" ".join(f"{x:.0%}" for x in diag)}]  '
                     f'final row [{" ".join(f"{x:.0%}" for x in final)}]  ({time.time() - t0:.0f} s)')
    # the replaced A: old task j with the final merged B under its own A_j
    final = variants['merge sqrt'][-1]
    own_a = []
    for j in range(T - 1):
        set_state(model, {n: (fts[j][n][0], final[n][1]) for n in final})
        own_a.append(mean(score_items(model, tok, tasks[j], cfg.eval.max_new_tokens)))
    keep = [mean([span_kept(fts[j][n][0], fts[-1][n][0]) for n in final]) for j in range(T - 1)]
    moved = [mean([float((fts[-1][n][0] - fts[j][n][0]).norm() / fts[j][n][0].norm()) for n in final])
             for j in range(T - 1)]
    with_at = res['merge sqrt']['final'][:T - 1]
    lines.append('old task j, final merged B: under A_T ' + ' '.join(f'{x:.0%}' for x in with_at)
                 + ' | under its own A_j ' + ' '.join(f'{x:.0%}' for x in own_a))
    r, n_in = fts[0][next(iter(final))][0].shape
    lines.append("share of A_j's row space that A_T spans (mean over layers): "
                 + ' '.join(f'{x:.2f}' for x in keep) + f' (a random subspace: about {r / n_in:.3f})')
    lines.append('‖A_T − A_j‖ / ‖A_j‖ (mean over layers): ' + ' '.join(f'{x:.2f}' for x in moved))
    res.update(own_a=own_a, with_at=with_at, span_kept=keep, a_moved=moved, rebuild_diff=diff)
    return lines, res


def intervals(out:Path, model, tok, variants:list) -> list:
    """Paired bootstrap over every order: each variant against sequential LoRA, each λ curve against the paper's
    sqrt, and, with `ft` (the fine-tuned LoRA, no merge) among the variants, each curve against `ft` — which splits
    SLAO's lead over sequential LoRA into what its initialisation keeps learnable and what its merge keeps."""
    from backprop_nb.clbench import paired_bootstrap, interval_text
    roots = sorted(p for p in out.glob('order*-slao') if p.is_dir())
    def variant_runs(v):
        runs = []
        for r in roots:
            cfg, tasks, fts = fine_tuned(r)
            runs.append(scored_run(model, tok, tasks, variant_states(fts, v), cfg, f'slao {v}', order_of(r)))
        return runs
    curves = [v for v in variants if v != 'ft']
    runs = {v: variant_runs(v) for v in dict.fromkeys(['sqrt', *variants])}
    seq = [r for r in json.loads((out/'runs.json').read_text()) if r['method'] == 'sequential']
    name = lambda v: 'slao ft (no merge)' if v == 'ft' else f'slao {v}'
    pairs = [(v, 'sequential', seq) for v in runs]
    pairs += [(c, name('sqrt'), runs['sqrt']) for c in curves if c != 'sqrt']
    if 'ft' in variants: pairs += [(c, name('ft'), runs['ft']) for c in curves]
    lines = ['| difference (paired bootstrap over prompts, 95 %, all orders) | ΔAA [interval] | ΔBWT [interval] |',
             '|---|---|---|']
    for v, other, ref in pairs:
        b = paired_bootstrap(runs[v], ref)
        lines.append(f'| {name(v)} − {other} | {interval_text(b, "AA")} | {interval_text(b, "BWT")} |')
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folder'); ap.add_argument('--orders', default=None); ap.add_argument('--save', action='store_true')
    ap.add_argument('--intervals', default=None,
                    help='only the paired bootstrap of these variants: λ curves and ft (no merge), e.g. ft,linear')
    ap.add_argument('--name', default='slao_why_intervals', help='--save --intervals writes bench/results/NAME.txt')
    a = ap.parse_args()
    from backprop_nb.config import load_config
    from backprop_nb.train import model_with_lora
    out = Path(a.folder)
    roots = sorted(p for p in out.glob('order*-slao') if p.is_dir())
    if a.orders: roots = [p for p in roots if str(order_of(p)) in a.orders.split(',')]
    if not roots: sys.exit(f'{out} holds no order*-slao run; give the folder bench/continual.py --out wrote.')
    t0 = time.time()
    model, tok, _ = model_with_lora(load_config(roots[0]/'config.yaml'))
    if a.intervals:
        lines = intervals(out, model, tok, a.intervals.split(','))
        text = '\n'.join([f'# python bench/slao_why.py {out} --intervals {a.intervals}   ({time.strftime("%Y-%m-%d")})',
                          *lines, f'\n{time.time() - t0:.0f} s']) + '\n'
        print(text); (out/f'{a.name}.txt').write_text(text)
        if a.save: (Path(__file__).parent/'results'/f'{a.name}.txt').write_text(text)
        return
    text, allres = [f'# python bench/slao_why.py {out}   ({time.strftime("%Y-%m-%d")})'], {}
    for r in roots:
        lines, res = analyse(r, model, tok)
        print('\n'.join(lines), flush=True)
        text += lines + ['']; allres[r.name] = res
    names = list(next(iter(allres.values())))[:1 + len(CURVES)]
    text.append('## mean over orders')
    for n in names:
        aa = [v[n]['AA'] for v in allres.values()]; bwt = [v[n]['BWT'] for v in allres.values()]
        text.append(f'{n:16s} AA {sum(aa) / len(aa):6.1%}  BWT {sum(bwt) / len(bwt):+6.1%}')
    text.append(f'\n{time.time() - t0:.0f} s')
    print('\n'.join(text[-len(names) - 2:]))
    (out/'slao_why.txt').write_text('\n'.join(text) + '\n')
    (out/'slao_why.json').write_text(json.dumps(allres))
    if a.save: (Path(__file__).parent/'results'/'slao_why.txt').write_text('\n'.join(text) + '\n')


if __name__ == '__main__': main()
