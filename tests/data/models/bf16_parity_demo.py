#!/usr/bin/env python3
"""bf16-on-CUDA top-1 parity of `lip-model forward` with transformers fp32, on the trained demo pair
(demo/models/sender-llama, demo/models/receiver-qwen2) over held-out text.

Two steps:
  # here (Debian, ../shared present): pick the held-out texts (no third-party packages needed)
  /usr/bin/python3 tests/data/models/bf16_parity_demo.py texts ../shared .device/runtime2/heldout_texts.jsonl
  # on the GPU machine (torch, transformers 5, tokenizers), from the repository root:
  python3 tests/data/models/bf16_parity_demo.py measure LIP_MODEL_BINARY TEXTS.jsonl WORK_DIR > result.json

Texts (never trained on; demo/README.md lists the training data): 12 passages of enwiki-2015.valid
(the beginnings of its first 12 articles), 12 of gutenberg-books.valid (3 evenly spaced passages of
each of its 4 books), each whole paragraphs of about 1,200-2,000 characters; and 24 classification
test-split texts (the first 8 rows of each of sst2, ag_news, trec test.jsonl). On the device each
text is tokenized with the model's own tokenizer.json (`tokenizers`, post-processor included, so the
sender's ids start with <s>), cut to 512 tokens (the models' context), and the argmax at EVERY
position is compared between: lip-model bf16 CUDA (default fp32 activations, and with
`--activations model`, every activation in bf16), lip-model fp32 CUDA, transformers fp32 CUDA and
transformers bf16 CUDA (eager attention). Prints one JSON summary.
"""
import json
import lzma
import os
import subprocess
import sys

MAX_TOKENS = 512
PASSAGE_MIN_CHARS, PASSAGE_MAX_CHARS = 1200, 2000


def passage(paragraphs):
    """Whole paragraphs from the start of `paragraphs` until PASSAGE_MIN_CHARS, cut at a space below MAX."""
    text = ''
    for p in paragraphs:
        text = p if not text else text + '\n\n' + p
        if len(text) >= PASSAGE_MIN_CHARS:
            break
    if len(text) > PASSAGE_MAX_CHARS:
        text = text[:PASSAGE_MAX_CHARS].rsplit(' ', 1)[0]
    return text


def make_texts(shared, out_path):
    rows = []
    corpora = os.path.join(shared, 'corpora')
    with lzma.open(os.path.join(corpora, 'enwiki-2015.valid.txt.xz'), 'rt', encoding='utf-8') as f:
        articles = f.read().split('\n\n\n')
    for i, article in enumerate(articles[:12]):
        rows.append({'set': 'enwiki-2015.valid', 'source': 'article %d' % (i + 1), 'text': passage(article.split('\n\n'))})
    with lzma.open(os.path.join(corpora, 'gutenberg-books.valid.txt.xz'), 'rt', encoding='utf-8') as f:
        books = f.read().split('\n\n\n')
    for b, book in enumerate(books[:4]):
        paragraphs = book.split('\n\n')
        for k in range(3):
            start = (k + 1) * len(paragraphs) // 4
            rows.append({'set': 'gutenberg-books.valid', 'source': 'book %d paragraph %d' % (b + 1, start + 1),
                         'text': passage(paragraphs[start:])})
    for task in ('sst2', 'ag_news', 'trec'):
        with open(os.path.join(shared, 'data', task, 'test.jsonl'), encoding='utf-8') as f:
            for line_no, line in enumerate(f, 1):
                if line_no > 8:
                    break
                rows.append({'set': 'classification test splits', 'source': '%s/test.jsonl:%d' % (task, line_no),
                             'text': json.loads(line)['text']})
    with open(out_path, 'w', encoding='utf-8') as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + '\n')
    print('%d texts -> %s' % (len(rows), out_path))


def lip_forward(binary, model_dir, inputs, dtype, activations='fp32'):
    out = subprocess.run([binary, 'forward', '--model', model_dir, '--input', inputs, '--device', 'cuda',
                          '--dtype', dtype, '--activations', activations], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError('lip-model %s failed: %s' % (dtype, out.stderr[-2000:]))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def measure(binary, texts_path, work):
    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    os.makedirs(work, exist_ok=True)
    rows = [json.loads(line) for line in open(texts_path, encoding='utf-8')]
    summary = {'torch': torch.__version__, 'transformers': transformers.__version__,
               'device': torch.cuda.get_device_name(0), 'texts': len(rows), 'max_tokens': MAX_TOKENS,
               'text_sets': sorted(set(r['set'] for r in rows)), 'models': {}}
    for name in ('sender-llama', 'receiver-qwen2'):
        model_dir = os.path.join('demo', 'models', name)
        if not os.path.isdir(model_dir):
            summary['models'][name] = 'not carried'
            continue
        tok = Tokenizer.from_file(os.path.join(model_dir, 'tokenizer.json'))
        ids = [tok.encode(r['text']).ids[:MAX_TOKENS] for r in rows]
        inputs = os.path.join(work, name + '.jsonl')
        with open(inputs, 'w') as f:
            for row in ids:
                f.write(json.dumps({'ids': row}) + '\n')
        lip16 = lip_forward(binary, model_dir, inputs, 'bf16')  # fp32 activations (the default)
        lip16_pure = lip_forward(binary, model_dir, inputs, 'bf16', 'model')  # every activation bf16
        lip32 = lip_forward(binary, model_dir, inputs, 'fp32')
        # The saved weights are bf16; fp32 = those values upcast (as the goldens were made).
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                     attn_implementation='eager').cuda().eval()
        hf32, hf16 = [], []
        with torch.no_grad():
            for row in ids:
                hf32.append(model(input_ids=torch.tensor([row]).cuda()).logits[0].float().cpu())
            model = model.to(torch.bfloat16)
            for row in ids:
                hf16.append(model(input_ids=torch.tensor([row]).cuda()).logits[0].float().cpu())
        per_set = {}
        totals = {'positions': 0, 'lip_bf16_vs_hf_fp32': 0, 'lip_bf16_vs_hf_bf16': 0, 'hf_bf16_vs_hf_fp32': 0,
                  'lip_fp32_vs_hf_fp32': 0, 'lip_bf16_all_activations_vs_hf_fp32': 0,
                  'lip_bf16_all_activations_vs_hf_bf16': 0}
        max_rel_err_fp32, max_rel_err_bf16 = 0.0, 0.0
        for r, row_ids, a16, a16p, a32, h32, h16 in zip(rows, ids, lip16, lip16_pure, lip32, hf32, hf16):
            if a16['ids'] != row_ids or a32['ids'] != row_ids:
                raise RuntimeError('lip-model echoed other ids for %s' % r['source'])
            t32, t16 = h32.argmax(-1), h16.argmax(-1)
            top16, top32, top16p = torch.tensor(a16['top1']), torch.tensor(a32['top1']), torch.tensor(a16p['top1'])
            counts = {'positions': len(row_ids),
                      'lip_bf16_vs_hf_fp32': int((top16 == t32).sum()),
                      'lip_bf16_vs_hf_bf16': int((top16 == t16).sum()),
                      'hf_bf16_vs_hf_fp32': int((t16 == t32).sum()),
                      'lip_fp32_vs_hf_fp32': int((top32 == t32).sum()),
                      'lip_bf16_all_activations_vs_hf_fp32': int((top16p == t32).sum()),
                      'lip_bf16_all_activations_vs_hf_bf16': int((top16p == t16).sum())}
            ref_last = h32[-1]
            scale = float(ref_last.abs().max())
            max_rel_err_fp32 = max(max_rel_err_fp32, float((torch.tensor(a32['logits_last']) - ref_last).abs().max()) / scale)
            max_rel_err_bf16 = max(max_rel_err_bf16, float((torch.tensor(a16['logits_last']) - ref_last).abs().max()) / scale)
            bucket = per_set.setdefault(r['set'], dict.fromkeys(totals, 0))
            for k, v in counts.items():
                bucket[k] += v
                totals[k] += v

        def rates(c):
            out = {'positions': c['positions']}
            for k, v in c.items():
                if k != 'positions':
                    out['top1_agree_' + k] = round(v / c['positions'], 5)
                    out['top1_differ_' + k] = c['positions'] - v
            return out
        summary['models'][name] = {
            'all': rates(totals),
            'by_set': {s: rates(c) for s, c in sorted(per_set.items())},
            'last_logits_max_rel_err_lip_fp32_vs_hf_fp32': max_rel_err_fp32,
            'last_logits_max_rel_err_lip_bf16_vs_hf_fp32': max_rel_err_bf16,
        }
        print(name, json.dumps(summary['models'][name]['all']), file=sys.stderr)
        del model
        torch.cuda.empty_cache()
    print(json.dumps(summary, indent=1))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'texts':
        make_texts(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == 'measure':
        measure(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
