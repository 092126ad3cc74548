#!/usr/bin/env python
"""Build the bundled datasets in backprop_nb/assets/ from real tables.

Run once by a maintainer (the outputs are committed; users never need the source packages):

    pip install periodictable==2.1.0 pycountry==26.2.16
    python tools/make_datasets.py

Every row comes from a table that ships with Python or with a PyPI package; no text is invented beyond
the question templates. Each task is split by *entity* (an element, a country, ...): the held-out entities
never appear in training, so held-out exact match measures generalisation, not recall of a training row.
"""
import json, random, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / 'backprop_nb' / 'assets'
SEED = 20261121


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows), encoding='utf-8')
    print(f'{path.relative_to(ROOT.parent.parent)}: {len(rows)} rows')


def split_entities(entities, n_heldout, seed=SEED):
    "Shuffle entities with a fixed seed; the first n_heldout are held out."
    ents = list(entities)
    random.Random(seed).shuffle(ents)
    return ents[n_heldout:], ents[:n_heldout]


def chat(q, a): return {'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]}


def build_task(name, entities, templates, answer, question, n_heldout, source):
    "Write <name>/train.jsonl (chat, every template) and <name>/heldout.jsonl (prompt, answer)."
    train, held = split_entities(entities, n_heldout)
    rows = [chat(t.format(**e), answer(e)) for e in train for t in templates]
    random.Random(SEED).shuffle(rows)
    write_jsonl(ROOT / name / 'train.jsonl', rows)
    write_jsonl(ROOT / name / 'heldout.jsonl', [{'prompt': question.format(**e), 'answer': answer(e)} for e in held])
    return dict(name=name, source=source, train_rows=len(rows), train_entities=len(train), heldout=len(held),
                question=question, templates=templates)


def elements():
    import periodictable
    from importlib.metadata import version
    ents = [dict(name=e.name.capitalize(), symbol=e.symbol, number=e.number) for e in periodictable.elements if e.number > 0]
    templates = ['What is the chemical symbol of {name}?', 'Give the chemical symbol for {name}.',
                 '{name}: which symbol does it have on the periodic table?', 'Write the element symbol of {name}.']
    return build_task('elements', ents, templates, lambda e: e['symbol'], templates[0], 24,
                      f'periodictable {version("periodictable")} (element names and symbols, 118 elements)')


def countries():
    import pycountry
    from importlib.metadata import version
    ents = [dict(name=c.name, code=c.alpha_3) for c in pycountry.countries]
    templates = ['What is the ISO 3166-1 alpha-3 code of {name}?', 'Give the three-letter ISO country code for {name}.',
                 '{name}: what is its ISO alpha-3 code?']
    return build_task('countries', ents, templates, lambda e: e['code'], templates[0], 40,
                      f'pycountry {version("pycountry")} (ISO 3166-1 country names and alpha-3 codes, {len(ents)} countries)')


def unicode_names():
    import unicodedata, platform
    cps = list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + list(range(0xC0, 0x100)) + list(range(0x391, 0x3CA))
    ents = [dict(char=chr(c), name=unicodedata.name(chr(c))) for c in cps if unicodedata.name(chr(c), None)]
    templates = ["What is the Unicode name of the character '{char}'?", "Give the official Unicode character name of '{char}'.",
                 "Name the Unicode character '{char}'."]
    return build_task('unicode', ents, templates, lambda e: e['name'], templates[0], 40,
                      f'Python {platform.python_version()} unicodedata (Unicode {unicodedata.unidata_version}): names of Latin, Latin-1 and Greek letters, {len(ents)} characters')


def mime_types():
    import mimetypes, platform
    table = mimetypes.MimeTypes(filenames=()).types_map[True]          # Python's built-in table, no system files
    ents = [dict(ext=k, type=v) for k, v in sorted(table.items())]
    templates = ["What is the MIME type of a '{ext}' file?", "Which media type does the file extension '{ext}' have?",
                 "Give the Content-Type for files ending in '{ext}'."]
    return build_task('mime', ents, templates, lambda e: e['type'], templates[0], 30,
                      f'Python {platform.python_version()} mimetypes built-in table (file extensions and MIME types, {len(ents)} entries)')


TASKS = {'elements': elements, 'countries': countries, 'unicode': unicode_names, 'mime': mime_types}
CONTINUAL = ['elements', 'countries', 'unicode', 'mime']   # the bundled task sequence for continual learning

if __name__ == '__main__':
    names = sys.argv[1:] or list(TASKS)
    meta_path = ROOT / 'datasets.json'
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    for n in names: meta[n] = TASKS[n]()
    meta['_sequence'] = CONTINUAL
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + '\n')
