#!/usr/bin/env python
"""Label scoring speed: `evaluate.last_logits` asking the model for its last column by index (what it does)
against asking with the integer `logits_to_keep=1` (what it did), on held-out prompts of a benchmark task;
and `evaluate.generate` (HF generate, whose first step asks for the last column as a view) with the head's input
made contiguous (`contiguous_head`, what it does) against as the model slices it (what it did).

The integer form makes the model slice a non-contiguous (batch, 1, hidden) view of its hidden states; torch
multiplies that by the vocabulary head through a batched matmul that first copies the head once per row.
The index form hands the head a contiguous copy: one plain matmul. Same logits (bf16: identical here).
Measured in both dtypes, the embedded model with a LoRA (r 16, every linear layer), with this machine's matmul
rate in each dtype (`pick_dtype` takes bf16 on a CPU where its matmuls are 1.2x faster than fp32's).

    python bench/scoring_speed.py                 # 64 prompts of `stress`, 5 repeats of each, 4 new tokens
    python bench/scoring_speed.py --prompts 150 --task script
"""
import argparse, json, os, statistics, sys, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path
import torch


@torch.no_grad()
def logits(model, rows, keep):
    "The library's `last_logits` (keep='index'), or the same call with the integer `logits_to_keep=1`."
    from backprop_nb.evaluate import _after_prefix, last_logits
    if keep == 'index': return last_logits(model, rows, 0)
    ids, mask, pos, cache = _after_prefix(model, rows, 0, 'cpu')
    return model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True,
                 logits_to_keep=keep).logits[:, -1].float()


def generation(model, tok, prompts, new_tokens, reps, dt) -> str:
    "HF generate as the library called it (the head's input a view), then as it calls it (made contiguous)."
    from unittest.mock import patch
    from backprop_nb.evaluate import generate
    assert not getattr(model.get_output_embeddings(), '_bp_contiguous', False), 'measure the view first'
    def view():                                  # the library's generate with contiguous_head switched off
        with patch('backprop_nb.evaluate.contiguous_head', lambda m: m):
            return generate(model, tok, prompts, new_tokens, len(prompts), progress=False)
    calls = {'view': view,
             'contiguous': lambda: generate(model, tok, prompts, new_tokens, len(prompts), progress=False)}
    med, out, lines = {}, {}, []
    for name, run in calls.items():
        out[name], ts = run(), []                                   # warm-up (generate installs the hook)
        for _ in range(reps):
            t = time.perf_counter(); run(); ts.append(time.perf_counter() - t)
        med[name] = statistics.median(ts)
        lines.append(f'{dt:9s} {name:15s} {med[name]:9.3f} {min(ts):7.3f} {1000 * med[name] / len(prompts):10.1f}')
    lines.append(f'{"":9s} speed-up {med["view"] / med["contiguous"]:.2f}x; '
                 f'same answers: {out["view"] == out["contiguous"]}\n')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--task', default='stress'); ap.add_argument('--prompts', type=int, default=64)
    ap.add_argument('--reps', type=int, default=5); ap.add_argument('--new-tokens', type=int, default=4)
    a = ap.parse_args()
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from backprop_nb.clbench import BENCH_TASKS, write_task
    from backprop_nb.evaluate import _as_messages
    from backprop_nb.models import cpu_matmul_rates, embedded_model_dir
    d = Path(tempfile.mkdtemp())
    _, held = write_task(BENCH_TASKS[a.task], d)
    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    rows = [tok(tok.apply_chat_template(_as_messages(h['prompt'], None), tokenize=False, add_generation_prompt=True),
                add_special_tokens=False)['input_ids'] for h in map(json.loads, held.read_text().splitlines()[:a.prompts])]
    prompts = [h['prompt'] for h in map(json.loads, held.read_text().splitlines()[:a.prompts])]
    gens = []
    rates = cpu_matmul_rates()
    print(f'{torch.get_num_threads()} threads; matmul rate (768x1536x768): '
          + ', '.join(f'{k} {v:.3f} TFLOP/s' for k, v in rates.items()))
    print(f'{len(rows)} prompts of {a.task}, {min(map(len, rows))}-{max(map(len, rows))} tokens, one batch\n')
    print(f'{"dtype":9s} {"logits_to_keep":15s} {"median s":>9s} {"min s":>7s} {"ms/prompt":>10s}')
    for dt in (torch.bfloat16, torch.float32):
        m = get_peft_model(AutoModelForCausalLM.from_pretrained(embedded_model_dir(), dtype=dt),
                           LoraConfig(r=16, target_modules='all-linear')).eval()
        out, med = {}, {}
        for name, keep in (('1 (int)', 1), ('[L-1] (index)', 'index')):
            out[name] = logits(m, rows, keep)                       # warm-up
            ts = []
            for _ in range(a.reps):
                t = time.perf_counter(); logits(m, rows, keep); ts.append(time.perf_counter() - t)
            med[name] = statistics.median(ts)
            print(f'{str(dt).split(".")[-1]:9s} {name:15s} {med[name]:9.3f} {min(ts):7.3f} '
                  f'{1000 * med[name] / len(rows):10.1f}')
        a_, b_ = out.values()
        print(f'{"":9s} speed-up {med["1 (int)"] / med["[L-1] (index)"]:.2f}x; max |logit difference| '
              f'{(a_ - b_).abs().max().item():.2e}; same argmax: {bool((a_.argmax(-1) == b_.argmax(-1)).all())}\n')
        gens.append(generation(m, tok, prompts, a.new_tokens, a.reps, str(dt).split('.')[-1]))
    print(f'evaluate.generate, {len(prompts)} prompts in one batch, {a.new_tokens} new tokens, greedy:')
    print(f'{"dtype":9s} {"head input":15s} {"median s":>9s} {"min s":>7s} {"ms/prompt":>10s}')
    for line in gens: print(line)


if __name__ == '__main__':
    sys.exit(main())
