#!/usr/bin/env python
"""Why SLAO keeps or loses what it does, read off a finished `bench/continual.py` run (no training).

SLAO trains task i from the last fine-tuned LoRA (A orthogonalised, B copied), never from the merged one, so the
sequence of fine-tuned LoRAs (A_i, B_i) does not depend on the merge scale λ. Every task's fine-tuned adapter is
saved in its task folder, so any λ curve can be applied afterwards and scored — the λ question costs scoring,
not training. Per SLAO run of the bench folder this prints:

- the accuracy matrix (lower triangle) of the merge under several λ curves, and of the fine-tuned LoRA itself
  (`ft`: what was learned before any merge; its diagonal is how well each task was learned);
- whether the replaced A still serves the old B: each old task scored with the final merged B under its own
  A_j instead of the final A_T, and how much of A_j's row space A_T still spans (1 = the same subspace);
- a check that the sqrt curve rebuilt from the adapters equals the merged LoRA the run shipped.

    python bench/slao_why.py RUN_FOLDER [--orders 0,1,2] [--save]
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


def span_kept(A_old, A_new) -> float:
    "How much of A_old's row space A_new spans: ‖P_new Q_oldᵀ‖² / r (1 = the same subspace, r/n_in = random)."
    q_old = torch.linalg.qr(A_old.T).Q           # [n_in, r]
    q_new = torch.linalg.qr(A_new.T).Q
    return float((q_new.T @ q_old).pow(2).sum() / q_old.shape[1])


def lower_triangle(model, tok, tasks, states, cfg) -> list:
    "rows[i][j] = accuracy on task j <= i with states[i] loaded."
    from backprop_nb.continual import score_all
    from backprop_nb.slao import set_state
    rows = []
    for i, st in enumerate(states):
        set_state(model, st)
        rows.append(score_all(model, tok, tasks, i + 1, cfg)[0])
    return rows


def aa_bwt(rows) -> tuple:
    T = len(rows)
    aa = sum(rows[-1][:T]) / T
    bwt = sum(rows[-1][j] - rows[j][j] for j in range(T - 1)) / (T - 1)
    return aa, bwt


def analyse(root:Path, model, tok) -> tuple:
    from backprop_nb.config import load_config
    from backprop_nb.continual import load_tasks, score_all
    from backprop_nb.slao import set_state, load_lora_state
    cfg = load_config(root/'config.yaml')
    tasks = load_tasks(cfg)
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit() and (p/'adapter').exists())
    fts = [adapter_state(d/'adapter') for d in dirs]
    lines, res = [f'## {root.name}: tasks {", ".join(t.name for t in tasks)}'], {}
    state_dir = sorted(root.glob('state-*'))[-1]
    shipped = load_lora_state(state_dir/'slao'/'merged.safetensors') if (state_dir/'slao').exists() else \
        load_lora_state(state_dir/'merged.safetensors')
    rebuilt = merged_states(fts, cfg.continual.curve)[-1]
    diff = max((rebuilt[n][k] - shipped[n][k]).abs().max().item() for n in shipped for k in (0, 1))
    lines.append(f'rebuilt {cfg.continual.curve} merge vs the shipped merged LoRA: max |Δ| {diff:.1e}')
    variants = {'ft (no merge)': fts, **{f'merge {c}': merged_states(fts, c) for c in CURVES}}
    for name, states in variants.items():
        t0 = time.time()
        rows = lower_triangle(model, tok, tasks, states, cfg)
        aa, bwt = aa_bwt(rows)
        res[name] = dict(rows=rows, AA=aa, BWT=bwt)
        diag = ' '.join(f'{rows[j][j]:.0%}' for j in range(len(rows)))
        last = ' '.join(f'{x:.0%}' for x in rows[-1])
        lines.append(f'{name:16s} AA {aa:6.1%}  BWT {bwt:+6.1%}  diagonal [{diag}]  final row [{last}]  '
                     f'({time.time() - t0:.0f} s)')
    # the replaced A: old task j with the final merged B under its own A_j
    final = variants['merge sqrt'][-1]
    own_a = []
    for j in range(len(fts) - 1):
        set_state(model, {n: (fts[j][n][0], final[n][1]) for n in final})
        own_a.append(score_all(model, tok, tasks, j + 1, cfg)[0][j])
    keep = [sum(span_kept(fts[j][n][0], fts[-1][n][0]) for n in final) / len(final) for j in range(len(fts) - 1)]
    moved = [sum(float((fts[-1][n][0] - fts[j][n][0]).norm() / fts[j][n][0].norm()) for n in final) / len(final)
             for j in range(len(fts) - 1)]
    with_at = res['merge sqrt']['rows'][-1][:len(fts) - 1]
    lines.append('old task j, final merged B: under A_T ' + ' '.join(f'{x:.0%}' for x in with_at)
                 + ' | under its own A_j ' + ' '.join(f'{x:.0%}' for x in own_a))
    r, n_in = fts[0][next(iter(final))][0].shape
    lines.append("share of A_j's row space that A_T spans (mean over layers): "
                 + ' '.join(f'{x:.2f}' for x in keep) + f' (a random subspace: about {r / n_in:.3f})')
    lines.append('‖A_T − A_j‖ / ‖A_j‖ (mean over layers): ' + ' '.join(f'{x:.2f}' for x in moved))
    res.update(own_a=own_a, with_at=with_at, span_kept=keep, a_moved=moved, rebuild_diff=diff)
    return lines, res


def curve_runs(root:Path, model, tok, curve:str, k:int) -> dict:
    "A bench-style run (per-prompt scores on the diagonal and the last row) of SLAO's merge under `curve`."
    from backprop_nb.config import load_config
    from backprop_nb.continual import load_tasks, score_items
    from backprop_nb.slao import set_state
    cfg = load_config(root/'config.yaml'); tasks = load_tasks(cfg)
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit() and (p/'adapter').exists())
    states = merged_states([adapter_state(d/'adapter') for d in dirs], curve)
    T = len(tasks); details = [[None] * T for _ in range(T)]
    for i, st in enumerate(states):
        set_state(model, st)
        for j in (range(T) if i == T - 1 else (i,)):
            details[i][j] = score_items(model, tok, tasks[j], cfg.eval.max_new_tokens)
    return dict(method=f'slao {curve}', order=k, tasks=[t.name for t in tasks], details=details)


def intervals(out:Path, model, tok, curves:list) -> list:
    "Paired bootstrap of each curve against the paper's sqrt and against sequential, over every order."
    from backprop_nb.clbench import paired_bootstrap
    roots = sorted(p for p in out.glob('order*-slao') if p.is_dir())
    runs = {c: [curve_runs(r, model, tok, c, int(r.name[5:].split('-')[0])) for r in roots]
            for c in ['sqrt'] + [c for c in curves if c != 'sqrt']}
    seq = [r for r in json.loads((out/'runs.json').read_text()) if r['method'] == 'sequential']
    lines = ['| difference (paired bootstrap over prompts, 95 %, all orders) | ΔAA [interval] | ΔBWT [interval] |',
             '|---|---|---|']
    for c, rs in runs.items():
        for name, other in ((f'slao {c} − slao sqrt', runs['sqrt']), (f'slao {c} − sequential', seq)):
            if c == 'sqrt' and other is runs['sqrt']: continue
            b = paired_bootstrap(rs, other)
            lines.append(f'| {name} | ' + ' | '.join(
                f'{b[m]["diff"]:+.1%} [{b[m]["lo"]:+.1%}, {b[m]["hi"]:+.1%}]' for m in ('AA', 'BWT')) + ' |')
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folder'); ap.add_argument('--orders', default=None); ap.add_argument('--save', action='store_true')
    ap.add_argument('--intervals', default=None, help='only the paired bootstrap of these curves, e.g. linear')
    a = ap.parse_args()
    from backprop_nb.config import load_config
    from backprop_nb.train import model_with_lora
    out = Path(a.folder)
    roots = sorted(p for p in out.glob('order*-slao') if p.is_dir())
    if a.orders: roots = [p for p in roots if p.name[5:].split('-')[0] in a.orders.split(',')]
    if not roots: sys.exit(f'{out} holds no order*-slao run; give the folder bench/continual.py --out wrote.')
    t0 = time.time()
    model, tok, _ = model_with_lora(load_config(roots[0]/'config.yaml'))
    if a.intervals:
        lines = intervals(out, model, tok, a.intervals.split(','))
        text = '\n'.join([f'# python bench/slao_why.py {out} --intervals {a.intervals}   ({time.strftime("%Y-%m-%d")})',
                          *lines, f'\n{time.time() - t0:.0f} s']) + '\n'
        print(text); (out/'slao_why_intervals.txt').write_text(text)
        if a.save: (Path(__file__).parent/'results'/'slao_why_intervals.txt').write_text(text)
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
