#!/usr/bin/env python
"""Time the data validation report on a 10,000-row dataset (target: ≤ 10 s on a 2-core CPU).

The rows are real: multi-turn conversations (1–4 question/answer pairs, some with a system prompt) drawn
from the bundled element / country / Unicode / MIME tables. 2 % exact duplicates, 1 % near duplicates and
1 % malformed lines are mixed in so that every part of the report has work to do. Timed: reading,
format detection, conversion, checks, exact and near (MinHash) duplicate search, chat-template rendering,
tokenization with the embedded tokenizer, statistics, Markdown and the histogram.

    python bench/data_report.py [--rows 10000]
"""
import argparse, json, os, random, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def build(n, path, seed=0):
    from backprop_nb.data import bundled_sequence, resolve_data_path
    rng = random.Random(seed)
    pairs = [json.loads(l)['messages'] for t in bundled_sequence() for l in resolve_data_path(f'bundled:{t}').read_text().splitlines()]
    lines, good = [], []
    for i in range(n):
        r = rng.random()
        if r < 0.01: lines.append(rng.choice(['{"messages": [', '{"messages": [{"role": "wizard", "content": "x"}]}', '[1, 2]'])); continue
        if r < 0.03 and good: lines.append(rng.choice(good)); continue
        if r < 0.04 and good:
            row = json.loads(rng.choice(good)); row['messages'][-1]['content'] += ' indeed'; lines.append(json.dumps(row)); continue
        msgs = ([{'role': 'system', 'content': 'Answer with the code or name only.'}] if rng.random() < 0.3 else [])
        for _ in range(rng.randint(1, 4)): msgs += rng.choice(pairs)
        row = json.dumps({'messages': msgs}, ensure_ascii=False)
        lines.append(row); good.append(row)
    Path(path).write_text('\n'.join(lines) + '\n', encoding='utf-8')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0]); ap.add_argument('--rows', type=int, default=10_000)
    a = ap.parse_args()
    from backprop_nb.models import embedded_model_dir, load_tokenizer
    from backprop_nb.data import data_report, report_markdown, report_figure
    tok = load_tokenizer(str(embedded_model_dir()))
    path = Path(tempfile.mkdtemp()) / 'conversations.jsonl'
    build(a.rows, path)
    t0 = time.perf_counter()
    rep, kept = data_report(path, tok)
    t1 = time.perf_counter()
    md = report_markdown(rep); fig = report_figure(rep); fig.savefig(path.with_suffix('.png'), dpi=100)
    t2 = time.perf_counter()
    print(md[:1800])
    print(f'rows: {rep.n_rows}, usable: {rep.n_ok}, bad: {len(rep.problems)}, exact dups: {rep.exact_dups}, near-dup pairs: {rep.near_dups}')
    print(f'report: {t1 - t0:.2f} s  (+ Markdown and histogram: {t2 - t1:.2f} s)  total {t2 - t0:.2f} s  — target ≤ 10 s: {"met" if t2 - t0 <= 10 else "NOT met"}')


if __name__ == '__main__': main()
