#!/usr/bin/env python
"""The GPU check for what Colab / Kaggle users run: one call on a lent GPU machine, at most 8 minutes.

Models of real size, built from their configs with random weights (the embedded model is too big to travel):
SmolLM2-360M, Qwen2.5-0.5B and Llama-3.2-1B shapes. Each setting trains a few steps through backprop_nb's own
engine (`train`) and reports tokens/s and peak VRAM:
  - transformers + peft vs unsloth (each backend in its own process: importing unsloth patches transformers),
  - bf16 vs fp16 with loss scaling (what a T4 runs: `model.dtype float16`),
  - LoRA vs QLoRA 4-bit NF4,
  - packed vs unpacked rows (`data.packing`),
and beside every peak, our memory estimate (`plan.estimate_memory`) against `torch.cuda.max_memory_allocated`;
then the first losses of unsloth and transformers from the same weights, the same seed and the same batches.

    bash bench/gpu_check.sh run                     # on the GPU machine (installs the carried wheels first)
    python bench/gpu_check.py --worker transformers  # one backend's settings as JSON lines
"""
import argparse, json, os, subprocess, sys, time, traceback
from pathlib import Path

MODELS = '/tmp/gpu_models'
STEPS, WARMUP, BATCH, SEQ = 12, 3, 8, 512
SMOKE = bool(os.environ.get('GPU_CHECK_SMOKE'))     # a CPU rehearsal of this script: tiny shapes, few steps
if SMOKE: MODELS, STEPS, WARMUP, BATCH, SEQ = '/tmp/gpu_models_smoke', 4, 1, 2, 64

# (model shape, backend, weight dtype, quantization, packing)
PLAN = [(m, b, dt, q, 'off') for b in ('transformers', 'unsloth') for m in ('Qwen2.5-0.5B',)
        for q in ('none', '4bit') for dt in ('bfloat16', 'float16')]
PLAN += [('SmolLM2-360M', 'transformers', 'bfloat16', 'none', 'off'), ('SmolLM2-360M', 'transformers', 'float16', '4bit', 'off'),
         ('Llama-3.2-1B', 'transformers', 'bfloat16', 'none', 'off'), ('Llama-3.2-1B', 'transformers', 'float16', '4bit', 'off'),
         ('Llama-3.2-1B', 'transformers', 'bfloat16', 'none', 'on'), ('Llama-3.2-1B', 'unsloth', 'bfloat16', 'none', 'off'),
         ('SmolLM2-360M', 'unsloth', 'bfloat16', 'none', 'off')]


def shapes():
    "The three configs (published shapes; the weights here are random)."
    from transformers import LlamaConfig, Qwen2Config
    common = dict(bos_token_id=256, eos_token_id=257, pad_token_id=258, use_cache=False, tie_word_embeddings=True)
    if SMOKE:
        tiny = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, **common)
        return {'SmolLM2-360M': LlamaConfig(**tiny), 'Qwen2.5-0.5B': Qwen2Config(**tiny), 'Llama-3.2-1B': LlamaConfig(**tiny)}
    return {
        'SmolLM2-360M': LlamaConfig(vocab_size=49152, hidden_size=960, intermediate_size=2560, num_hidden_layers=32,
                                    num_attention_heads=15, num_key_value_heads=5, max_position_embeddings=8192,
                                    rope_parameters={'rope_type': 'default', 'rope_theta': 100000.0}, **common),
        'Qwen2.5-0.5B': Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                                    rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}, **common),
        'Llama-3.2-1B': LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                    num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
                                    rope_parameters={'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 32.0,
                                                     'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                                     'original_max_position_embeddings': 8192}, **common),
    }


def build(name) -> Path:
    "A model folder of random weights in the shape `name`, with the byte-level test tokenizer (once per machine)."
    import torch, transformers
    from backprop_nb.models import tiny_tokenizer
    d = Path(MODELS) / name
    if (d / 'config.json').exists(): return d
    cfg = shapes()[name]
    cls = transformers.Qwen2ForCausalLM if cfg.model_type == 'qwen2' else transformers.LlamaForCausalLM
    torch.manual_seed(0)
    with torch.device('cuda' if torch.cuda.is_available() else 'cpu'): model = cls(cfg).to(torch.bfloat16)
    model.save_pretrained(d); tiny_tokenizer().save_pretrained(d)
    del model
    return d


def samples(n:int=400):
    "Conversations of 1 to 6 questions from the bundled element data (~100-600 byte-level tokens, cut at SEQ): mixed lengths."
    import random
    from backprop_nb.data import resolve_data_path, Sample
    rows, rng = [json.loads(l) for l in resolve_data_path('demo').read_text().splitlines()], random.Random(0)
    return [Sample(f'gpu:{i}', [m for r in rng.sample(rows, rng.randint(1, 6)) for m in r['messages']]) for i in range(n)]


def one(name, backend, dtype, quant, packing) -> dict:
    "Train STEPS steps of one setting; tokens/s after WARMUP, peak VRAM, our estimate, the first losses."
    import gc, torch
    from backprop_nb.config import make_config
    from backprop_nb.plan import arch_of, estimate_memory
    from backprop_nb.train import train
    folder = build(name)
    cfg = make_config(**{'model.name': str(folder), 'model.backend': backend, 'model.dtype': dtype,
                         'model.quantization': quant, 'lora.r': 16, 'lora.targets': 'all-linear',
                         'train.batch_size': BATCH, 'train.grad_accum': 1, 'train.max_steps': STEPS, 'train.lr': 2e-4,
                         'train.save_steps': 10_000, 'train.eval_steps': 10_000, 'train.order': 'sequential',
                         'train.seed': 0, 'data.eval_fraction': 0, 'data.max_length': SEQ, 'data.packing': packing,
                         'data.duplicates': 'keep', 'run.root': '/tmp/gpu_runs'})
    cuda = torch.cuda.is_available()
    gc.collect()
    if cuda: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    ev = []
    r = train(cfg, listeners=[ev.append], samples=samples(), progress=False)
    peak = torch.cuda.max_memory_allocated() if cuda else float('nan')
    st = [e for e in ev if e.kind == 'step']
    secs = st[-1].elapsed_s - st[WARMUP - 1].elapsed_s
    est = estimate_memory(cfg, arch_of(str(folder)), SEQ, BATCH, 'cuda')
    out = dict(model=name, backend=r.info.backend, dtype=r.info.dtype, quant=quant, packing=packing,
               tokens_per_s=sum(e.tokens for e in st[WARMUP:]) / secs, s_per_step=secs / (len(st) - WARMUP),
               peak_gib=peak / 2**30, estimate_gib=est.allocated / 2**30, losses=[round(e.loss, 5) for e in st[:5]],
               status=r.status)
    del r; gc.collect()
    if cuda: torch.cuda.empty_cache()
    return out


def worker(backend, deadline):
    "Every setting of one backend, as JSON lines; settings that would start after the deadline are skipped (said)."
    if backend == 'unsloth': import unsloth  # noqa: F401  before transformers, as unsloth asks
    for s in [p for p in PLAN if p[1] == backend]:
        if time.time() > deadline: print(json.dumps(dict(skipped=list(s), why='out of time'))); continue
        try: print(json.dumps(one(*s)), flush=True)
        except Exception as e:
            print(json.dumps(dict(failed=list(s), error=f'{type(e).__name__}: {str(e)[:300]}',
                                  where=traceback.format_exc().splitlines()[-3:])), flush=True)


def table(rows) -> str:
    lines = ['| model | backend | weights | quant | packing | tokens/s | s/step | peak VRAM (GiB) | estimate (GiB) | est/peak |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['backend']} | {r['dtype']} | {r['quant']} | {r['packing']} | {r['tokens_per_s']:.0f} | "
                     f"{r['s_per_step']:.3f} | {r['peak_gib']:.2f} | {r['estimate_gib']:.2f} | {r['estimate_gib'] / r['peak_gib']:.2f} |")
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--worker', choices=('transformers', 'unsloth')); ap.add_argument('--budget', type=float, default=200)
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    if a.worker: return worker(a.worker, time.time() + a.budget)
    import torch
    t0, rows, other = time.time(), [], []
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU (rehearsal, GPU_CHECK_SMOKE)'
    head = f'{dev}, torch {torch.__version__}, {time.strftime("%Y-%m-%d %H:%M")}'
    print(head, flush=True)
    for backend, budget in (('transformers', 190), ('unsloth', 150)):
        p = subprocess.run([sys.executable, __file__, '--worker', backend, '--budget', str(budget)], capture_output=True,
                           text=True, timeout=budget + 120)
        for line in p.stdout.splitlines():
            if not line.startswith('{'): continue
            d = json.loads(line); (rows if 'tokens_per_s' in d else other).append(d); print(line, flush=True)
        if p.returncode: other.append(dict(worker=backend, returncode=p.returncode, stderr=p.stderr[-1500:]))
    by = {(r['model'], r['backend'], r['dtype'], r['quant'], r['packing']): r for r in rows}
    report = [head, '', table(rows), '']
    for m in ('Qwen2.5-0.5B', 'Llama-3.2-1B', 'SmolLM2-360M'):
        t, u = by.get((m, 'transformers+peft', 'bfloat16', 'none', 'off')), by.get((m, 'unsloth', 'bfloat16', 'none', 'off'))
        if t and u:
            report.append(f"{m}, bf16 LoRA: unsloth / transformers tokens/s {u['tokens_per_s'] / t['tokens_per_s']:.2f}x, peak "
                          f"{u['peak_gib']:.2f} vs {t['peak_gib']:.2f} GiB; first losses from the same weights: unsloth "
                          f"{u['losses']} vs transformers {t['losses']}")
    pk, up = by.get(('Llama-3.2-1B', 'transformers+peft', 'bfloat16', 'none', 'on')), by.get(('Llama-3.2-1B', 'transformers+peft', 'bfloat16', 'none', 'off'))
    if pk and up: report.append(f"Llama-3.2-1B bf16 LoRA, packed vs unpacked rows: {pk['tokens_per_s'] / up['tokens_per_s']:.2f}x tokens/s")
    report += ['', 'not measured / failed:'] + [json.dumps(o) for o in other] if other else []
    report.append(f'\nwall time {time.time() - t0:.0f} s')
    text = '\n'.join(report)
    print('\n' + text)
    if a.out: Path(a.out).write_text(text + '\n')


if __name__ == '__main__': main()
