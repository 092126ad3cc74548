#!/usr/bin/env python
"""Every model family end to end: tiny models of Llama 3, Qwen2, Gemma 2, Mistral, Phi-3 and GPT-NeoX (their own
config classes, tokenizers of their kind trained on the spot) through target presets, assistant masks, training,
plain-peft reload, merge, GGUF (f16, q8_0, Q4_K_M) and llama.cpp itself (llama-cpp-python), as one table.

    python bench/families.py            # 16 s measured on 2 cores; needs llama-cpp-python (tools/llama_cpp.sh)
"""
import os, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from pathlib import Path


def main():
    from backprop_nb.families import FAMILIES
    from backprop_nb.llamacpp import family_roundtrip, families_table
    import llama_cpp
    t0, root = time.time(), Path(tempfile.mkdtemp(prefix='bench-families-'))
    rows = [family_roundtrip(n, root) for n in FAMILIES]
    print(f'llama-cpp-python {llama_cpp.__version__}; {time.strftime("%Y-%m-%d")}\n')
    print(families_table(rows))
    print('\nGGUF sizes (MiB): ' + '; '.join(f"{r['family']} " + ', '.join(f"{q} {r[q + '_mib']:.2f}" for q in ('f16', 'q8_0', 'q4_k_m'))
                                            for r in rows))
    print(f'\n{time.time() - t0:.0f} s')


if __name__ == '__main__': main()
