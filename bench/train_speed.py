#!/usr/bin/env python
"""Training throughput: backprop_nb's default CPU path vs plain TRL SFTTrainer with its defaults.

Same model (the embedded SmolLM2-135M-Instruct), same data, same LoRA (r=16, all linear layers),
same batch and number of steps; each run is timed per optimizer step after a warm-up, and tokens are
the non-padding input tokens the model processed. Also measures this machine's matmul rate, so the
model-FLOP utilisation (≈ 4·N FLOPs per trained token for LoRA: forward 2N, backward to the inputs 2N)
can be stated against it.

    python bench/train_speed.py                 # both, on the bundled data (short samples)
    python bench/train_speed.py --data long     # multi-turn samples, ~6x longer
    python bench/train_speed.py --data mixed --only packing   # 1-12 turn chats: ours unpacked vs packed
    python bench/train_speed.py --profile       # also: where our step's time goes
    python bench/train_speed.py --only prefix   # ours with the shared prefix run once per batch (default) vs off
"""
import argparse, json, os, random, sys, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path
import torch


def matmul_tflops(dtype, m, k, n, reps=None):
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3): a @ b
    reps = reps or max(5, int(3e10 / (2 * m * k * n)))
    t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * m * k * n * reps / (time.perf_counter() - t) / 1e12


def bench_rows(kind):
    "Chat rows from the bundled element data: single questions ('short'), 6-question conversations ('long'), or 1-12 ('mixed')."
    from backprop_nb.data import resolve_data_path
    rows = [json.loads(l) for l in resolve_data_path('demo').read_text().splitlines()]
    if kind == 'short': return rows
    if kind == 'mixed':
        rng, out = random.Random(0), []
        for _ in range(600):
            k = rng.randint(1, 12)
            out.append({'messages': [m for r in rng.sample(rows, k) for m in r['messages']]})
        return out
    out = []
    for i in range(0, len(rows) - 6, 6):
        out.append({'messages': [m for r in rows[i:i+6] for m in r['messages']]})
    return out * 6


class StepTimer:
    "Collects (seconds, tokens) per optimizer step."
    def __init__(self): self.steps, self.t, self.tok = [], None, 0


def timer_callback(timer):
    from transformers import TrainerCallback
    class CB(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw): timer.t = time.perf_counter()
        def on_step_end(self, args, state, control, **kw):
            seen = int(state.num_input_tokens_seen)
            timer.steps.append((time.perf_counter() - timer.t, seen - timer.tok)); timer.tok = seen
    return CB()


def summarize(timer, warmup):
    s = timer.steps[warmup:]
    secs, toks = sum(x for x, _ in s), sum(t for _, t in s)
    return dict(steps=len(s), s_per_step=secs / len(s), tokens_per_s=toks / secs, tokens_per_step=toks / len(s))


def run_trl(model_dir, rows, steps, batch, warmup, out):
    "Plain TRL: SFTTrainer from the model path, SFTConfig defaults except what CPU training requires."
    import datasets
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer
    timer = StepTimer()
    args = SFTConfig(output_dir=out, bf16=False, max_steps=steps, per_device_train_batch_size=batch, gradient_accumulation_steps=1,
                     report_to='none', save_strategy='no', disable_tqdm=True, include_num_input_tokens_seen='non_padding')
    tr = SFTTrainer(model=str(model_dir), args=args, train_dataset=datasets.Dataset.from_list(rows),
                    peft_config=LoraConfig(r=16, lora_alpha=32, target_modules='all-linear', task_type='CAUSAL_LM'),
                    callbacks=[timer_callback(timer)])
    tr.train()
    return summarize(timer, warmup), dict(dtype=str(next(tr.model.parameters()).dtype), gradient_checkpointing=args.gradient_checkpointing)


def run_ours(rows, steps, batch, warmup, out, profile=False, **over):
    "backprop_nb's default path on the same rows (its defaults, with the same LoRA, batch and steps; `over`: other settings)."
    from backprop_nb.config import make_config
    from backprop_nb.data import Sample
    from backprop_nb.train import train
    samples = [Sample(f'bench:{i}', r['messages']) for i, r in enumerate(rows)]
    cfg = make_config(**{'lora.r': 16, 'train.batch_size': batch, 'train.grad_accum': 1, 'train.max_steps': steps,
                         'data.eval_fraction': 0.0, 'train.save_steps': 10_000, 'run.root': out, 'data.duplicates': 'keep',
                         **over})
    ev = []
    r = train(cfg, listeners=[ev.append], samples=samples, progress=False)
    st = [e for e in ev if e.kind == 'step'][warmup:]
    el = [e.elapsed_s for e in ev if e.kind == 'step']
    secs = el[-1] - el[warmup - 1] if warmup else el[-1]
    toks = sum(e.tokens for e in st)
    res = dict(steps=len(st), s_per_step=secs / len(st), tokens_per_s=toks / secs, tokens_per_step=toks / len(st),
               rows=len(r.prepared.rows), samples=len(r.prepared.train), max_length=r.prepared.max_length,
               padding=padding_share(r.prepared, batch), losses=r.losses()[:3])
    prof = profile_step(r.model, r.tokenizer, r.prepared, batch) if profile else None
    return res, dict(dtype=r.info.dtype, gradient_checkpointing=False), prof


def padding_share(prep, batch):
    "Share of padding in batches of `batch` consecutive length-sorted rows (what grouped batching leaves)."
    lens = sorted(prep.rows.lengths)
    groups = [lens[i:i + batch] for i in range(0, len(lens), batch)]
    return 1 - sum(lens) / sum(max(g) * len(g) for g in groups)


def profile_step(model, tok, prep, batch, n=3):
    "Self CPU time by operator over `n` training steps of our loss, grouped into kinds."
    from torch.profiler import profile, ProfilerActivity
    from backprop_nb.tokenizing import Collator
    col = Collator(tok.pad_token_id)
    items = [prep.train[i] for i in range(batch)]
    b = col(items)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    def step():
        o = model(input_ids=b['input_ids'], attention_mask=b['attention_mask'], loss_labels=b['labels'])
        (o.loss_sum / o.n_trained).backward(); opt.step(); opt.zero_grad(set_to_none=True)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(n): step()
    kinds = {}
    for e in p.key_averages():
        k = ('matmul' if e.key in ('aten::mm', 'aten::addmm', 'aten::bmm') else 'attention' if 'attention' in e.key
             else 'optimizer' if 'foreach' in e.key or 'Optimizer' in e.key or 'lerp' in e.key else 'copy/cast' if e.key in ('aten::copy_', 'aten::_to_copy')
             else 'other ops')
        kinds[k] = kinds.get(k, 0) + e.self_cpu_time_total
    tot = sum(kinds.values())
    return {k: round(v / tot, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=16); ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--batch', type=int, default=8); ap.add_argument('--data', choices=('short', 'long', 'mixed'), default='short')
    ap.add_argument('--profile', action='store_true'); ap.add_argument('--only', choices=('trl', 'ours', 'packing', 'prefix'), default=None)
    a = ap.parse_args()
    from backprop_nb.models import embedded_model_dir, quiet
    quiet()
    model_dir = embedded_model_dir()
    rows = bench_rows(a.data)
    from transformers import AutoConfig
    mc = AutoConfig.from_pretrained(model_dir)
    n_params = 134_515_008   # SmolLM2-135M, embeddings tied to the LM head (counted once)
    h, i = mc.hidden_size, mc.intermediate_size
    rates = {f'{dt} {m}x{k}x{n}': round(matmul_tflops(getattr(torch, dt), m, k, n), 3)
             for dt in ('float32', 'bfloat16') for m, k, n in ((2048, 2048, 2048), (512, h, i))}
    peak_bf16 = max(v for k, v in rates.items() if k.startswith('bfloat16'))
    print(f'threads: {torch.get_num_threads()}   matmul TFLOP/s: {rates}')
    out = tempfile.mkdtemp()
    res = {}
    if a.only in (None, 'trl'): res['plain TRL defaults'] = run_trl(model_dir, rows, a.steps, a.batch, a.warmup, out + '/trl')
    prof = None
    if a.only in (None, 'ours'):
        r, info, prof = run_ours(rows, a.steps, a.batch, a.warmup, out + '/ours', a.profile); res['backprop_nb default'] = (r, info)
    if a.only == 'packing':
        for p, order in (('off', 'grouped'), ('off', 'random'), ('on', 'grouped')):
            r, info, _ = run_ours(rows, a.steps, a.batch, a.warmup, out + f'/pack-{p}-{order}',
                                  **{'data.packing': p, 'train.order': order})
            res[f'ours, packing {p}, {order}'] = (r, info)
            print(f'packing {p}, {order} batches: {r["samples"]} samples in {r["rows"]} rows of <= {r["max_length"]} '
                  f'tokens, padding in length-sorted batches {r["padding"]:.1%}, first losses '
                  f'{[round(x, 4) for x in r["losses"]]}')
    if a.only == 'prefix':
        for k in (0, 8):
            r, info, _ = run_ours(rows, a.steps, a.batch, a.warmup, out + f'/prefix-{k}', **{'train.shared_prefix': k})
            res[f'ours, shared_prefix {k}'] = (r, info)
            print(f'shared_prefix {k}: first losses {r["losses"]}')
    print(f'\ndata: {a.data} ({len(rows)} rows), batch {a.batch}, {a.steps} steps ({a.warmup} warm-up steps not timed), LoRA r=16 all-linear')
    print(f'{"setup":22s} {"weights":9s} {"grad ckpt":9s} {"s/step":>7s} {"tokens/step":>11s} {"tokens/s":>9s} {"MFU (4N, its dtype)":>20s}')
    for name, (r, info) in res.items():
        dt = info['dtype'].replace('torch.', '')       # MFU against the measured peak of the dtype the run used
        peak = max([v for k, v in rates.items() if k.startswith(dt)] or [peak_bf16])
        mfu = 4 * n_params * r['tokens_per_s'] / (peak * 1e12)
        print(f'{name:22s} {info["dtype"].replace("torch.", ""):9s} {str(info["gradient_checkpointing"]):9s} {r["s_per_step"]:7.3f} {r["tokens_per_step"]:11.0f} {r["tokens_per_s"]:9.0f} {mfu:20.1%}')
    if a.only == 'packing':
        g, rnd, pk = (res[f'ours, packing {k}'][0] for k in ('off, grouped', 'off, random', 'on, grouped'))
        print(f'\npacked vs unpacked, tokens/s: {pk["tokens_per_s"] / g["tokens_per_s"]:.2f}x against length-grouped '
              f'batches (our default), {pk["tokens_per_s"] / rnd["tokens_per_s"]:.2f}x against random batches')
    elif a.only == 'prefix':
        off, on = (res[f'ours, shared_prefix {k}'][0] for k in (0, 8))
        print(f'\nshared prefix run once vs every row, tokens/s: {on["tokens_per_s"] / off["tokens_per_s"]:.2f}x '
              '(tokens: the non-padding tokens of the rows, the prefix counted in every row)')
    elif len(res) == 2:
        a_, b_ = res['plain TRL defaults'][0], res['backprop_nb default'][0]
        print(f'\nspeed-up (tokens/s): {b_["tokens_per_s"] / a_["tokens_per_s"]:.2f}x   (target ≥ 2x)')
    if prof: print('\nwhere our step spends its CPU time:', ', '.join(f'{k} {v:.0%}' for k, v in prof.items()))
    print(json.dumps(dict(rates=rates, results={k: v[0] for k, v in res.items()}, profile=prof)))


if __name__ == '__main__': main()
