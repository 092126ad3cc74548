#!/usr/bin/env python
"""Progressive stack building: (1) time per step of a new stack on a 3-stack frozen trunk, with the trunk's
activations cached vs recomputed every step (target: cached ≥ 2× faster); (2) held-out loss of progressive
training vs training the same model all at once, for the same number of token-steps.

Corpus: Python's documentation topics (pydoc_data.topics), byte-level. CPU, fp32.

    python bench/progressive.py [--d-model 192] [--steps 120]
"""
import argparse, math, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch


def timed_steps(b, blocks, cache, n, warmup=2):
    from backprop_nb.progressive import prepare_stage, block_inputs, below, above, stack_loss
    cfg = b.cfg
    params = prepare_stage(b)
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    k = b.new.sid
    gen = torch.Generator().manual_seed(0)
    b.model.train()
    for i in range(n + warmup):
        if i == warmup: t0 = time.perf_counter()
        idx = torch.randint(0, len(blocks), (cfg.batch_size,), generator=gen)
        inp, tgt, mask, t_idx = block_inputs(cfg, blocks, idx, k, cfg.max_stacks)
        h = cache.get(idx) if cache is not None else below(b, inp, t_idx)
        loss = stack_loss(above(b, h, t_idx), tgt, mask); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - t0) / n


def split_times(b, blocks, n):
    "Time the trunk's forward alone and the rest of a step alone."
    from backprop_nb.progressive import prepare_stage, block_inputs, below, above, stack_loss
    cfg = b.cfg
    opt = torch.optim.AdamW(prepare_stage(b), lr=cfg.lr)
    idx = torch.arange(cfg.batch_size)
    inp, tgt, mask, t_idx = block_inputs(cfg, blocks, idx, b.new.sid, cfg.max_stacks)
    with torch.no_grad(): h = below(b, inp, t_idx)
    def trunk():
        with torch.no_grad(): below(b, inp, t_idx)
    def rest():
        loss = stack_loss(above(b, h, t_idx), tgt, mask); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    out = []
    for f in (trunk, rest):
        f(); t0 = time.perf_counter()
        for _ in range(n): f()
        out.append((time.perf_counter() - t0) / n)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--d-model', type=int, default=192); ap.add_argument('--steps', type=int, default=120)
    ap.add_argument('--timing-steps', type=int, default=15); ap.add_argument('--blocks-per-stack', type=int, default=2)
    ap.add_argument('--only-timing', action='store_true', help='skip the progressive vs all-at-once comparison')
    a = ap.parse_args()
    from backprop_nb.config import ConfigError
    from backprop_nb.progressive import ProgressiveConfig, StackBuilder, ActivationCache, text_blocks, corpus_text, block_inputs, grow, eval_blocks, stack_loss
    from backprop_nb.events import Bus
    common = dict(d_model=a.d_model, heads=4, d_ff=3 * a.d_model, blocks_per_stack=a.blocks_per_stack, seq_len=128, batch_size=16, max_stacks=4, lr=1e-3,
                  stack_lora=False)   # plain stacks in both arms, so the comparison is of the training schedule only
    blocks, held = text_blocks(corpus_text(), 128)
    print(f'corpus: {len(blocks)} training blocks of 128 bytes; model: d={a.d_model}, {a.blocks_per_stack} blocks per stack; threads {torch.get_num_threads()}\n')

    # (1) a 3-stack trunk, a 4th stack training: cached vs recomputed
    cfg = ProgressiveConfig(**common, steps_per_stack=1)
    b = StackBuilder(cfg)
    for _ in range(3): b.add_stack()
    b.add_stack()
    fn = lambda idx: block_inputs(cfg, blocks, idx, 3, 4)
    t_build = time.perf_counter(); cache = ActivationCache('memory').build(b, blocks, fn); t_build = time.perf_counter() - t_build
    rec = timed_steps(b, blocks, None, a.timing_steps)
    cac = timed_steps(b, blocks, cache, a.timing_steps)
    print(f'step time, new stack on a 3-stack frozen trunk: recomputed {rec*1000:.0f} ms, cached {cac*1000:.0f} ms → {rec/cac:.2f}x faster (target ≥ 2x)')
    tr, ns = split_times(b, blocks, a.timing_steps)
    print(f'  where a recomputed step goes: trunk forward {tr*1000:.0f} ms, new stack + head forward/backward/update {ns*1000:.0f} ms; '
          f'caching removes the first, so with equal-size stacks the ceiling is about (trunk + new) / new = {(tr + ns) / ns:.2f}x')
    print(f'  cache: built once in {t_build:.1f} s for {len(blocks)} blocks ({cache.data.numel() * 4 / 2**20:.0f} MiB); pays back after {t_build / max(rec - cac, 1e-9):.0f} steps\n')

    if a.only_timing: return
    # (2) progressive vs all at once, same token-steps
    t0 = time.perf_counter()
    prog = grow(ProgressiveConfig(**common, steps_per_stack=a.steps), blocks=blocks, held=held)
    t_prog = time.perf_counter() - t0
    full_cfg = ProgressiveConfig(**common, steps_per_stack=a.steps * 4)
    fb = StackBuilder(full_cfg)
    for _ in range(4): fb.add_stack()
    for p in fb.model.parameters(): p.requires_grad_(True)
    opt = torch.optim.AdamW([p for p in fb.model.parameters() if p.requires_grad], lr=full_cfg.lr)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter(); fb.model.train()
    for step in range(a.steps * 4):
        idx = torch.randint(0, len(blocks), (full_cfg.batch_size,), generator=gen)
        inp, tgt, mask, t_idx = block_inputs(full_cfg, blocks, idx, 3, 4)
        loss = stack_loss(fb.model(inp, t_idx), tgt, mask); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    t_full = time.perf_counter() - t0
    full_eval = eval_blocks(fb, held, 3)
    print(f'same token-steps ({a.steps * 4} steps × {full_cfg.batch_size} × 128 tokens):')
    print(f'  progressive (4 stacks × {a.steps} steps): held-out loss {prog.history[-1].eval_loss:.3f}  in {t_prog:.0f} s   (per stack: ' +
          ', '.join(f'{h.eval_loss:.3f}' for h in prog.history) + ')')
    print(f'  all at once ({a.steps * 4} steps):          held-out loss {full_eval:.3f}  in {t_full:.0f} s')
    print(f'  (bits per byte: progressive {prog.history[-1].eval_loss / math.log(2):.2f}, all at once {full_eval / math.log(2):.2f})')


if __name__ == '__main__': main()
