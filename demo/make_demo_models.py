#!/usr/bin/env python3
"""Makes LIP's embedded default model pair: two small, different decoder LMs pretrained here on real text.

  sender-llama    Llama architecture, untied embeddings, sentencepiece-style BPE with byte fallback
                  (tokenizer.json laid out like Llama-2 / TinyLlama: Prepend+Replace normalizer, no
                  pre-tokenizer, <s> added by a TemplateProcessing post-processor).
  receiver-qwen2  Qwen2 architecture (q/k/v bias, tied embeddings), byte-level BPE with the Qwen2 split
                  regex, NFC normalizer, <|endoftext|> / <|im_start|> / <|im_end|> special tokens.

Run on the GPU machine (it has torch, transformers and tokenizers), from the repository root:

  bash demo/pack_corpus.sh                      # here: packs the text into .device/demo (git-ignored)
  python3 demo/make_demo_models.py run --data .device/demo --work /tmp/demo --pack OUTDIR

`run` starts, all at once: a tiny end-to-end smoke job per model (its log shows within a minute whether
every stage works) and the full job per model (tokenizer training, encoding, pretraining until a step
count that fits the budget, saving with save_pretrained, evaluation, greedy continuations, golden outputs
for the C++ parity tests). Both models train concurrently on the one GPU. The step count is chosen from
the measured speed; it is written to OUTDIR/result-ROLE.json, and `--sender-steps N --receiver-steps M`
reproduces a run: same input text + seed + steps => bit-identical tokenizers and weights (deterministic
alphabet choice, deterministic CUDA kernels; `repro` checks it by training both models twice). The model files go to OUTDIR as tar parts below 15 MiB as soon as they
are saved. Errors: each stage after saving is checked on its own; failures are listed under "errors" in
the result file and make the job exit non-zero.
"""

import argparse
import json
import lzma
import math
import os
import shutil
import subprocess
import sys
import time

SEED = 20261123

# ----------------------------------------------------------------------------------------------------
# The pair. Parameter counts: sender 14.16M (6.29M of them in embed_tokens + lm_head), receiver 10.91M
# (3.15M in the tied embedding). Both together ~25.1M parameters = ~50.1 MB in bf16.
ROLES = {
    'sender': dict(
        dirname='sender-llama', arch='llama', vocab_size=8192, hidden_size=384, num_hidden_layers=5,
        num_attention_heads=6, num_key_value_heads=2, intermediate_size=1024, rope_theta=10000.0,
        tie_word_embeddings=False, rms_norm_eps=1e-5, peak_lr=2e-3),
    'receiver': dict(
        dirname='receiver-qwen2', arch='qwen2', vocab_size=12288, hidden_size=256, num_hidden_layers=11,
        num_attention_heads=4, num_key_value_heads=1, intermediate_size=704, rope_theta=1000000.0,
        tie_word_embeddings=True, rms_norm_eps=1e-6, peak_lr=2e-3),
}
SMOKE_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                   intermediate_size=128)

SEQ_LEN = 512            # training context; also max_position_embeddings
BATCH = 64               # sequences per step (32,768 tokens)
WARMUP_STEPS = 250
DECAY_FRACTION = 0.3     # warmup, then constant, then a cosine-shaped decay over the last 30% of steps
MIN_LR_FRACTION = 0.05
WEIGHT_DECAY = 0.1
MAX_SHARD_BYTES = 14 * 1000 * 1000   # every weight file < 15 MiB (the device's per-file transfer limit)

QWEN2_SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                     r"|\s*[\r\n]+|\s+(?!\S)|\s+")

TRAIN_SOURCES = ['gutenberg-books.train.txt.xz', 'us-presidential-speeches.train.txt.xz',
                 'enwiki-2015.train-head.txt.xz']
TRAIN_JSONL = ['sst2.train.jsonl.xz', 'ag_news.train.jsonl.xz', 'trec.train.jsonl.xz']
VALID_SOURCES = ['enwiki-2015.valid.txt.xz', 'gutenberg-books.valid.txt.xz']
# Characters of each source that the tokenizer trainers read (the models train on all of it).
TOKENIZER_SAMPLE_CHARS = {'gutenberg-books.train.txt.xz': 16_000_000,
                          'us-presidential-speeches.train.txt.xz': 3_000_000,
                          'enwiki-2015.train-head.txt.xz': 24_000_000}

PROMPTS = ['The history of the United States', 'In the beginning of the nineteenth century,',
           'My fellow citizens,', 'The film is', 'Alice was beginning to get very tired of',
           'The city is located']
GOLDEN_TEXTS = ['The capital of France is',
                "it 's a charming and often affecting journey .",
                'Once upon a time, there was a little girl who',
                'Caf\u00e9 na\u00efve \u2014 \u201cquoted\u201d text, 1984 and \u65e5\u672c.\n\nA new paragraph']
TOKENIZER_CASES = ['', ' ', 'Hello world', '  two leading spaces', 'tabs\tand\nnewlines\n\n',
                   'numbers 1234567 and 3.14159', "don't won't I'll they're",
                   'Unicode: \u00e9\u00e8\u00ea \u00fc \u00df \u0394\u03b5\u03bb\u03c4\u03b1 \u043f\u0440\u0438\u0432\u0435\u0442 \u4e2d\u6587 \U0001F600',
                   'e\u0301 (decomposed) vs \u00e9 (composed)', '<s> and </s> and <|endoftext|> as text',
                   'URL http://example.com/a_b?c=d', 'CamelCaseWord snake_case_word']


def log(*parts):
    print(time.strftime('%H:%M:%S'), *parts, flush=True)


# ----------------------------------------------------------------------------------------------------
# Text

def read_xz(path, limit_chars=None):
    with lzma.open(path, 'rt', encoding='utf-8') as f:
        return f.read() if limit_chars is None else f.read(limit_chars)


def split_documents(text, whole_only):
    docs = text.split('\n\n\n')
    if whole_only and len(docs) > 1:
        docs = docs[:-1]  # the last one may be cut off
    return [d.strip('\n') for d in docs if d.strip()]


def load_training_documents(data_dir, smoke):
    """Returns {source name: [document, ...]} in file order. Smoke mode reads ~1 MB of each source."""
    limit = 1_000_000 if smoke else None
    sources = {}
    for name in TRAIN_SOURCES:
        sources[name] = split_documents(read_xz(os.path.join(data_dir, name), limit), limit is not None)
    for name in TRAIN_JSONL:
        lines = read_xz(os.path.join(data_dir, name)).splitlines()
        if smoke:
            lines = lines[:2000]
        sources[name] = [json.loads(line)['text'] for line in lines if line.strip()]
    return sources


def load_valid_documents(data_dir, smoke):
    out = {}
    for name in VALID_SOURCES:
        docs = split_documents(read_xz(os.path.join(data_dir, name)), False)
        out[name.replace('.txt.xz', '')] = [d[:20000] for d in docs[:3]] if smoke else docs
    return out


def tokenizer_sample(sources, smoke):
    """Documents the tokenizer trainers read: a prefix of each big source, all of the small ones."""
    sample = []
    for name, docs in sources.items():
        cap = TOKENIZER_SAMPLE_CHARS.get(name)
        if smoke or cap is None:
            sample.extend(docs)
            continue
        used = 0
        for d in docs:
            if used >= cap:
                break
            sample.append(d)
            used += len(d)
    return sample


# ----------------------------------------------------------------------------------------------------
# Tokenizers (the `tokenizers` library). The files are written in the same layout as the real
# TinyLlama and Qwen2.5 tokenizer.json files (string merges "a b"), so the C++ tokenizer reads them
# the way it reads those.

def train_sender_tokenizer(sample_docs, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    specials = ['<unk>', '<s>', '</s>']
    n_learned = vocab_size - len(specials) - 256
    # Training only: Metaspace splits at word starts, so no merge crosses a word boundary; the final
    # tokenizer (no pre-tokenizer, like Llama-2's) then segments identically. Lines never contain '\n',
    # so '\n' is never merged and always falls back to <0x0A>, as in Llama-2.
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='always', split=True)
    def lines():
        for d in sample_docs:
            for line in d.split('\n'):
                if line.strip():
                    yield line

    # The alphabet: the 250 most frequent characters (as the pre-tokenizer sees them), ties broken by
    # code point. Chosen here rather than by the trainer's limit_alphabet, which cuts ties in hash-map
    # order and so gave different alphabets (and merges) from run to run on the same text.
    counts = {}
    for line in lines():
        for ch in '\u2581' + line.replace(' ', '\u2581'):
            counts[ch] = counts.get(ch, 0) + 1
    alphabet = sorted(counts, key=lambda ch: (-counts[ch], ord(ch)))[:250]
    trainer = trainers.BpeTrainer(vocab_size=n_learned, min_frequency=2, limit_alphabet=len(alphabet),
                                  initial_alphabet=alphabet, special_tokens=[], show_progress=False)
    trainer_tok.train_from_iterator(lines(), trainer=trainer)
    learned = json.loads(trainer_tok.to_str())['model']
    vocab = {tok: i for i, tok in enumerate(specials)}
    for b in range(256):
        vocab['<0x%02X>' % b] = len(vocab)
    for tok, _ in sorted(learned['vocab'].items(), key=lambda kv: kv[1]):
        if tok not in vocab:
            vocab[tok] = len(vocab)
    merges = [m if isinstance(m, str) else ' '.join(m) for m in learned['merges']]
    special_template = {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}
    spec = {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [added_token(i, t) for i, t in enumerate(specials)],
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'Prepend', 'prepend': '\u2581'},
            {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}]},
        'pre_tokenizer': None,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': special_template},
        'decoder': {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': '\u2581'}, 'content': ' '},
            {'type': 'ByteFallback'}, {'type': 'Fuse'},
            {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True,
                  'vocab': vocab, 'merges': merges},
    }
    return spec, dict(bos='<s>', eos='</s>', unk='<unk>', pad=None, bos_id=1, eos_id=2, add_bos=True,
                      space_id=vocab['\u2581'])


def train_receiver_tokenizer(sample_docs, vocab_size):
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.NFC()
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior='isolated', invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(specials), min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)

    def paragraphs():
        for d in sample_docs:
            for p in d.split('\n\n'):
                yield p + '\n\n'
    trainer_tok.train_from_iterator(paragraphs(), trainer=trainer)
    learned = json.loads(trainer_tok.to_str())['model']
    vocab = dict(sorted(learned['vocab'].items(), key=lambda kv: kv[1]))
    assert sorted(vocab.values()) == list(range(len(vocab))), 'learned vocab ids are not dense'
    merges = [m if isinstance(m, str) else ' '.join(m) for m in learned['merges']]
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}
    spec = {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [added_token(len(vocab) + i, t) for i, t in enumerate(specials)],
        'normalizer': {'type': 'NFC'},
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [
            {'type': 'Split', 'pattern': {'Regex': QWEN2_SPLIT_REGEX}, 'behavior': 'Isolated', 'invert': False},
            dict(byte_level)]},
        'post_processor': dict(byte_level),
        'decoder': dict(byte_level),
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                  'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False,
                  'vocab': vocab, 'merges': merges},
    }
    eot = len(vocab)
    return spec, dict(bos=None, eos='<|endoftext|>', unk=None, pad='<|endoftext|>', bos_id=eot, eos_id=eot,
                      add_bos=False)


def added_token(i, content):
    return {'id': i, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False,
            'normalized': False, 'special': True}


def newline_chunks(text, target=4000):
    """Cuts text right before '\n' characters into pieces of about `target` characters."""
    chunks, start = [], 0
    while len(text) - start > target:
        cut = text.rfind('\n', start + 1, start + target)
        if cut <= start:
            cut = text.find('\n', start + target)
        if cut == -1:
            break
        chunks.append(text[start:cut])
        start = cut
    chunks.append(text[start:])
    return chunks


def document_ids(tok, docs, info, batch=2048):
    """Token ids of each document as the model trains on them: Llama <s> doc </s>; Qwen2 doc <|endoftext|>.

    Sentencepiece-style documents are encoded in pieces cut before '\n' (fast and parallel; the whole
    book as one input would be one BPE word). This gives the same ids as encoding the whole document:
    '\n' is never part of a merge (it falls back to <0x0A>), and the '\u2581' that the normalizer puts
    before a piece that starts with '\n' is a token of its own, which is dropped."""
    import numpy as np
    pieces, owner = [], []
    for di, d in enumerate(docs):
        for k, piece in enumerate(newline_chunks(d) if info['add_bos'] else [d]):
            pieces.append(piece)
            owner.append((di, k))
    per_doc = [[] for _ in docs]
    for i in range(0, len(pieces), batch):
        encs = tok.encode_batch(pieces[i:i + batch], add_special_tokens=False)
        for (di, k), enc in zip(owner[i:i + batch], encs):
            ids = enc.ids
            if k > 0:
                if not ids or ids[0] != info['space_id']:
                    raise RuntimeError('piece %d of document %d does not start with the lone \u2581' % (k, di))
                ids = ids[1:]
            per_doc[di].extend(ids)
    out = []
    for ids in per_doc:
        if info['add_bos']:
            ids = [info['bos_id']] + ids
        out.append(np.asarray(ids + [info['eos_id']], dtype=np.int32))
    return out


def check_piecewise_encoding(tok, docs, info):
    """How many of the first documents (cut to 20k chars) encode the same piecewise as whole."""
    sample = [d[:20000] for d in docs[:20]]
    whole = [[info['bos_id']] + e.ids + [info['eos_id']] for e in tok.encode_batch(sample, add_special_tokens=False)]
    piecewise = [a.tolist() for a in document_ids(tok, sample, info)]
    return sum(int(a == b) for a, b in zip(whole, piecewise)), len(sample)


# ----------------------------------------------------------------------------------------------------
# Model (transformers)

def build_model(spec, vocab_size, info, smoke):
    import torch
    import transformers
    shape = dict(spec)
    if smoke:
        shape.update(SMOKE_SHAPE)
    common = dict(vocab_size=vocab_size, hidden_size=shape['hidden_size'],
                  intermediate_size=shape['intermediate_size'], num_hidden_layers=shape['num_hidden_layers'],
                  num_attention_heads=shape['num_attention_heads'],
                  num_key_value_heads=shape['num_key_value_heads'], hidden_act='silu',
                  max_position_embeddings=SEQ_LEN, initializer_range=0.02, rms_norm_eps=shape['rms_norm_eps'],
                  tie_word_embeddings=shape['tie_word_embeddings'], use_cache=True,
                  bos_token_id=info['bos_id'], eos_token_id=info['eos_id'], attention_dropout=0.0)
    if spec['arch'] == 'llama':
        cls = transformers.LlamaConfig
        common.update(attention_bias=False, mlp_bias=False)
    else:
        cls = transformers.Qwen2Config
        common.update(use_sliding_window=False, max_window_layers=shape['num_hidden_layers'])
        common['pad_token_id'] = info['eos_id']
    theta = shape['rope_theta']
    config = None
    for variant in ({'rope_parameters': {'rope_type': 'default', 'rope_theta': theta}}, {'rope_theta': theta}):
        try:
            c = cls(**common, **variant)
        except (TypeError, ValueError) as e:
            log('config variant', list(variant), 'refused:', e)
            continue
        if abs(config_rope_theta(c) - theta) <= 1e-6 * theta:
            config = c
            break
    if config is None:
        raise RuntimeError('could not make a %s config with rope_theta %g' % (spec['arch'], theta))
    torch.manual_seed(SEED)
    try:
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation='sdpa')
    except Exception as e:  # noqa: BLE001 - older/newer signatures
        log('from_config(attn_implementation=sdpa) failed:', e)
        model = transformers.AutoModelForCausalLM.from_config(config)
    check_rope(model, theta, shape['hidden_size'] // shape['num_attention_heads'])
    return model


def config_rope_theta(config):
    rp = getattr(config, 'rope_parameters', None)
    if isinstance(rp, dict) and 'rope_theta' in rp:
        return float(rp['rope_theta'])
    return float(getattr(config, 'rope_theta'))


def check_rope(model, theta, head_dim):
    import torch
    rotary = getattr(getattr(model, 'model', None), 'rotary_emb', None)
    inv = getattr(rotary, 'inv_freq', None)
    if inv is None:
        log('note: no model.model.rotary_emb.inv_freq to check')
        return
    want = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    if not torch.allclose(inv.float().cpu(), want, rtol=1e-4):
        raise RuntimeError('rotary inv_freq does not match rope_theta %g' % theta)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())  # tied weights are one Parameter


# ----------------------------------------------------------------------------------------------------
# Training

def lr_at(step, total, peak):
    """Warmup-stable-decay: the rate before the decay starts does not depend on `total`, so the step
    count can be chosen from the measured speed after training has begun and a run that is given that
    count up front (--steps) takes exactly the same steps."""
    if step < WARMUP_STEPS:
        return peak * (step + 1) / WARMUP_STEPS
    decay_start = max(WARMUP_STEPS, int(total * (1 - DECAY_FRACTION)))
    if step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start) / max(1, total - decay_start))
    return peak * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


class WindowSampler:
    """Epochs over non-overlapping (seq_len+1)-token windows of the token stream, shuffled, with a random
    start offset per epoch; everything from one seeded CPU generator (deterministic)."""

    def __init__(self, n_tokens, seq_len, batch, seed):
        import torch
        self.n, self.t, self.b = n_tokens, seq_len, batch
        self.g = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self._new_epoch()

    def _new_epoch(self):
        import torch
        offset = int(torch.randint(0, self.t + 1, (1,), generator=self.g))
        count = (self.n - offset) // (self.t + 1)
        self.starts = offset + torch.randperm(count, generator=self.g) * (self.t + 1)
        self.pos = 0
        self.epoch += 1

    def next(self):
        import torch
        if self.pos + self.b > len(self.starts):
            self._new_epoch()
        s = self.starts[self.pos:self.pos + self.b]
        self.pos += self.b
        return s


def train(model, tokens, spec, args, role_name, work):
    """Pretrains `model` in place. Returns a dict of what happened."""
    import torch
    import torch.nn.functional as F
    dev = torch.device('cuda')
    model.to(dev).train()
    seq, batch = (64, 8) if args.smoke else (SEQ_LEN, BATCH)
    data = torch.from_numpy(tokens).to(dev, dtype=torch.long)
    sampler = WindowSampler(len(tokens), seq, batch, SEED + 1)
    window = torch.arange(seq + 1, device=dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': WEIGHT_DECAY},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=spec['peak_lr'], betas=(0.9, 0.95), eps=1e-8, fused=True)
    forward = model
    compiled = False
    if args.compile and not args.smoke:
        try:
            forward = torch.compile(model)
            compiled = True
        except Exception as e:  # noqa: BLE001
            log('torch.compile unavailable:', e)
    vocab = model.config.vocab_size

    def step_loss(x, y):
        with torch.autocast('cuda', dtype=torch.bfloat16):
            logits = forward(input_ids=x, use_cache=False).logits
        return F.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))

    fixed_steps = args.steps if args.steps else (30 if args.smoke else None)
    total = fixed_steps
    ready_mine = os.path.join(work, 'ready-' + role_name)
    ready_other = os.path.join(work, 'ready-' + ('receiver' if role_name == 'sender' else 'sender'))
    calib_from = None   # (step, time) where both jobs were training
    first_ready_time = None
    losses, first_losses = [], []
    loss_acc = torch.zeros((), device=dev)
    t_start = time.time()
    step = 0
    stopped_by_deadline = False
    while True:
        if total is not None and step >= total:
            break
        if not args.smoke and time.time() > args.hard_deadline:
            log('hard deadline reached at step', step, '- stopping early')
            stopped_by_deadline = True
            break
        lr = lr_at(step, total if total is not None else 10 ** 9, spec['peak_lr'])
        for group in opt.param_groups:
            group['lr'] = lr
        starts = sampler.next().to(dev, non_blocking=True)
        w = data[starts[:, None] + window[None, :]]
        x, y = w[:, :-1], w[:, 1:]
        try:
            loss = step_loss(x, y)
            loss.backward()
        except Exception as e:  # noqa: BLE001 - compile trouble: fall back to eager once
            if not compiled or step > 3:
                raise
            log('compiled step failed, falling back to eager:', repr(e)[:500])
            opt.zero_grad(set_to_none=True)
            forward, compiled = model, False
            loss = step_loss(x, y)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_acc += loss.detach()
        if step < 8:
            first_losses.append(float(loss.detach()))   # exact values: where two runs part, if they do
        step += 1
        if step == 3 and not args.smoke:
            torch.cuda.synchronize()
            open(ready_mine, 'w').close()
            first_ready_time = time.time()
            log('training started (compiled=%s) after %.1fs of setup' % (compiled, time.time() - args.t0))
        # Choose the step count from the speed measured while both jobs train.
        if total is None and first_ready_time is not None:
            if calib_from is None and (os.path.exists(ready_other) or time.time() - first_ready_time > 90):
                torch.cuda.synchronize()
                calib_from = (step, time.time())
            elif calib_from is not None and step - calib_from[0] >= 40:
                torch.cuda.synchronize()
                now = time.time()
                rate = (step - calib_from[0]) / (now - calib_from[1])
                total = step + int(max(0.0, args.train_until - now) * rate * 0.96)
                total = max(total, step + 1)
                log('measured %.2f steps/s with both jobs running; total steps = %d' % (rate, total))
        if step % 100 == 0 or (total is not None and step == total):
            mean = float(loss_acc) / (100 if step % 100 == 0 else (step % 100))
            loss_acc.zero_()
            losses.append((step, round(mean, 4)))
            log('%s step %d/%s loss %.4f lr %.2e %.1f tok/s/1e3' % (
                role_name, step, total, mean, lr, step * batch * seq / (time.time() - t_start) / 1e3))
    torch.cuda.synchronize()
    return dict(first_losses=first_losses, steps=step, planned_steps=total, batch=batch, seq_len=seq, tokens_seen=step * batch * seq,
                train_seconds=round(time.time() - t_start, 1), compiled=compiled, loss_curve=losses,
                epochs=round(step * batch * (seq + 1) / len(tokens), 3), stopped_by_deadline=stopped_by_deadline)


# ----------------------------------------------------------------------------------------------------
# Saving (save_pretrained) and checking the files

def save_all(model, tok_spec, info, out_dir, smoke):
    import torch
    import transformers
    from tokenizers import Tokenizer
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    model = model.to('cpu').to(torch.bfloat16).eval()
    gen = transformers.GenerationConfig(bos_token_id=info['bos_id'], eos_token_id=info['eos_id'],
                                        pad_token_id=info['eos_id'] if info['pad'] else None,
                                        max_length=SEQ_LEN, do_sample=False)
    model.generation_config = gen
    shard = 200_000 if smoke else MAX_SHARD_BYTES
    model.save_pretrained(out_dir, max_shard_size=shard)
    gen.save_pretrained(out_dir)
    reshard_if_needed(out_dir, shard)

    # config.json: keep what transformers wrote; also give the classic top-level rope_theta and
    # torch_dtype that readers of older checkpoints look for.
    cpath = os.path.join(out_dir, 'config.json')
    cfg = json.load(open(cpath))
    cfg.setdefault('rope_theta', config_rope_theta(model.config))
    cfg['torch_dtype'] = 'bfloat16'
    if 'dtype' in cfg:
        cfg['dtype'] = 'bfloat16'
    write_json(cpath, cfg)

    tok = Tokenizer.from_str(json.dumps(tok_spec))
    try:
        kwargs = dict(tokenizer_object=tok, eos_token=info['eos'], model_max_length=SEQ_LEN,
                      clean_up_tokenization_spaces=False)
        for key in ('bos', 'unk', 'pad'):
            if info[key]:
                kwargs[key + '_token'] = info[key]
        hf_tok = transformers.PreTrainedTokenizerFast(**kwargs)
        hf_tok.save_pretrained(out_dir)
    except Exception as e:  # noqa: BLE001
        log('PreTrainedTokenizerFast.save_pretrained failed, writing tokenizer_config.json by hand:', e)
        write_json(os.path.join(out_dir, 'tokenizer_config.json'), dict(
            tokenizer_class='PreTrainedTokenizerFast', model_max_length=SEQ_LEN,
            clean_up_tokenization_spaces=False, eos_token=info['eos'], bos_token=info['bos'],
            unk_token=info['unk'], pad_token=info['pad']))
    # tokenizer.json exactly as designed (string merges, the reference layout).
    write_json(os.path.join(out_dir, 'tokenizer.json'), tok_spec, indent=2)
    prefer_generic_tokenizer_class(out_dir)
    return model


def reshard_if_needed(out_dir, max_bytes):
    """Guarantees every *.safetensors file is below max_bytes (in case save_pretrained ignored
    max_shard_size): rewrites the weights as shards + model.safetensors.index.json."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    files = sorted(f for f in os.listdir(out_dir) if f.endswith('.safetensors'))
    if all(os.path.getsize(os.path.join(out_dir, f)) < max_bytes * 1.05 for f in files):
        return
    log('resharding', files)
    tensors = {}
    for f in files:
        with safe_open(os.path.join(out_dir, f), framework='pt') as h:
            for k in h.keys():
                tensors[k] = h.get_tensor(k)
        os.remove(os.path.join(out_dir, f))
    idx = os.path.join(out_dir, 'model.safetensors.index.json')
    if os.path.exists(idx):
        os.remove(idx)
    groups, cur, cur_bytes = [], {}, 0
    for k in sorted(tensors):
        nbytes = tensors[k].numel() * tensors[k].element_size()
        if cur and cur_bytes + nbytes > max_bytes:
            groups.append(cur)
            cur, cur_bytes = {}, 0
        cur[k] = tensors[k].contiguous()
        cur_bytes += nbytes
    groups.append(cur)
    weight_map, total = {}, 0
    for i, g in enumerate(groups):
        name = 'model-%05d-of-%05d.safetensors' % (i + 1, len(groups))
        save_file(g, os.path.join(out_dir, name), metadata={'format': 'pt'})
        for k, t in g.items():
            weight_map[k] = name
            total += t.numel() * t.element_size()
    write_json(idx, {'metadata': {'total_size': total}, 'weight_map': weight_map})


def prefer_generic_tokenizer_class(out_dir):
    """transformers 5 may write tokenizer_class "TokenizersBackend", which older transformers cannot
    load; "PreTrainedTokenizerFast" loads in both. Kept only if transformers still loads it."""
    import transformers
    path = os.path.join(out_dir, 'tokenizer_config.json')
    cfg = json.load(open(path))
    if cfg.get('tokenizer_class') == 'PreTrainedTokenizerFast':
        return
    original = dict(cfg)
    cfg['tokenizer_class'] = 'PreTrainedTokenizerFast'
    write_json(path, cfg)
    try:
        transformers.AutoTokenizer.from_pretrained(out_dir)
    except Exception as e:  # noqa: BLE001
        log('keeping tokenizer_class %r: %r' % (original.get('tokenizer_class'), e))
        write_json(path, original)


def write_json(path, obj, indent=2):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write('\n')


def load_saved(out_dir, device):
    import torch
    import transformers
    try:
        m = transformers.AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32,
                                                              attn_implementation='eager')
    except TypeError:
        m = transformers.AutoModelForCausalLM.from_pretrained(out_dir, torch_dtype=torch.float32,
                                                              attn_implementation='eager')
    return m.to(device).eval()


# ----------------------------------------------------------------------------------------------------
# Evaluation, continuations, goldens

def evaluate(model, tok, info, docs, seq, device):
    """Per-token perplexity and bits per byte of `docs` (documents joined as in training), scored with
    non-overlapping seq-token windows. BOS targets are not scored (they are free after </s>)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    ids = np.concatenate(document_ids(tok, docs, info))
    n_bytes = sum(len(d.encode('utf-8')) for d in docs)
    data = torch.from_numpy(ids).long()
    nll, count = 0.0, 0
    full = (len(data) - 1) // seq
    batches = [data[:full * seq + 1].unfold(0, seq + 1, seq)[i:i + 32] for i in range(0, full, 32)]
    if len(data) - 1 > full * seq:
        batches.append(data[full * seq:][None, :])   # the short last window
    with torch.no_grad():
        for w in batches:
            w = w.to(device)
            x, y = w[:, :-1], w[:, 1:].reshape(-1)
            logits = model(input_ids=x, use_cache=False).logits.float()
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, reduction='none')
            mask = (y != info['bos_id']) if info['add_bos'] else torch.ones_like(y, dtype=torch.bool)
            nll += float(losses[mask].double().sum())
            count += int(mask.sum())
    return dict(tokens=count, bytes=n_bytes, ppl_per_token=round(math.exp(nll / count), 3),
                bits_per_byte=round(nll / math.log(2) / n_bytes, 4), bytes_per_token=round(n_bytes / count, 3))


def greedy(model, ids, n, device, stop_id=None):
    import torch
    ids = list(ids)
    new = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0, -1]
            nxt = int(torch.argmax(logits))
            if stop_id is not None and nxt == stop_id:
                break
            ids.append(nxt)
            new.append(nxt)
    return new


def goldens(model, tok, info, spec, role_name, out_dir):
    """Golden outputs for the C++ parity tests, computed in fp32 on the CPU from the saved bf16 weights."""
    import torch
    layers = model.config.num_hidden_layers
    pick = sorted({1, (layers + 1) // 2, layers})
    captured = {}

    def hook(k):
        def f(_module, _inp, out):
            captured[k] = (out[0] if isinstance(out, tuple) else out).detach()
        return f
    handles = [model.model.layers[k - 1].register_forward_hook(hook(k)) for k in pick]
    handles.append(model.model.norm.register_forward_hook(hook('final_norm')))
    cases = []
    for text in GOLDEN_TEXTS:
        enc = tok.encode(text)
        captured.clear()
        with torch.no_grad():
            out = model(input_ids=torch.tensor([enc.ids]), use_cache=False)
        logits = out.logits[0, -1].float()
        hidden = {('layer_%d' % k): [float('%.7g' % v) for v in captured[k][0, -1].tolist()] for k in pick}
        hidden['final_norm'] = [float('%.7g' % v) for v in captured['final_norm'][0, -1].tolist()]
        cont = greedy(model, enc.ids, 32, 'cpu')
        cases.append(dict(
            text=text, ids=enc.ids, tokens=enc.tokens,
            last_logits=[float('%.7g' % v) for v in logits.tolist()],
            last_argmax=int(torch.argmax(logits)),
            last_hidden=hidden,
            greedy_32=cont, greedy_32_text=tok.decode(enc.ids + cont, skip_special_tokens=False)))
    for h in handles:
        h.remove()
    tok_cases = []
    for text in TOKENIZER_CASES:
        enc = tok.encode(text)
        tok_cases.append(dict(text=text, ids=enc.ids, tokens=enc.tokens,
                              decoded=tok.decode(enc.ids, skip_special_tokens=False),
                              decoded_skip_special=tok.decode(enc.ids, skip_special_tokens=True)))
    return {
        'model_dir': 'demo/models/' + spec['dirname'],
        'about': ('Golden outputs from transformers (%s) and tokenizers (%s) for the C++ runtime parity test. '
                  'Weights: the saved bf16 safetensors upcast to fp32; forward in fp32 on the CPU, eager '
                  'attention, no KV cache. ids: tokenizers.Tokenizer.encode(text) with its post-processor '
                  '(the Llama one adds <s>). last_logits: all vocab logits at the last position. '
                  'last_hidden.layer_k: output of decoder layer k (1-based, residual stream, before the final '
                  'norm) at the last position; final_norm: after model.norm. greedy_32: 32 argmax tokens '
                  'appended one by one, no stop at EOS. Numbers are rounded to 7 significant digits.'
                  % (version('transformers'), version('tokenizers'))),
        'hidden_layers_dumped': pick,
        'cases': cases,
        'tokenizer_cases': tok_cases,
    }


def version(mod):
    try:
        return __import__(mod).__version__
    except Exception:  # noqa: BLE001
        return '?'


# ----------------------------------------------------------------------------------------------------
# One model, end to end

def make_deterministic(torch):
    """Same input + seed + steps => bit-identical weights: every CUDA kernel on its deterministic path
    (cuBLAS with a fixed workspace, flash-attention backward without atomics, deterministic embedding
    and index backward; torch.compile's inductor honours the same switch). It costs some speed."""
    # warn_only must stay False: with warn_only=True the fused attention backward kernels (flash,
    # memory-efficient, cuDNN) only warn and keep their nondeterministic atomics (measured: two runs
    # part at step 2). An op with no deterministic implementation raises instead.
    torch.use_deterministic_algorithms(True)
    # Under torch.compile the math SDPA path (fused by inductor) measured faster than the cuDNN and
    # memory-efficient kernels for these small heads; flash remains for bf16 inputs.
    torch.backends.cuda.enable_cudnn_sdp(False)
    torch.backends.cuda.enable_mem_efficient_sdp(False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def run_role(args):
    # Must be in the environment before CUDA starts (cuBLAS reads it once).
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    import numpy as np
    import torch
    from tokenizers import Tokenizer
    args.t0 = time.time()
    spec = ROLES[args.role]
    work = args.work
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(SEED)
    if not args.nondeterministic:
        make_deterministic(torch)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_num_threads(8)
    result = dict(role=args.role, smoke=args.smoke, seed=SEED, deterministic=not args.nondeterministic, versions=dict(
        torch=torch.__version__, transformers=version('transformers'), tokenizers=version('tokenizers')))

    sources = load_training_documents(args.data, args.smoke)
    log(args.role, 'documents:', {k: len(v) for k, v in sources.items()})
    sample = tokenizer_sample(sources, args.smoke)
    t = time.time()
    trainer = train_sender_tokenizer if spec['arch'] == 'llama' else train_receiver_tokenizer
    tok_spec, info = trainer(sample, spec['vocab_size'])
    tok = Tokenizer.from_str(json.dumps(tok_spec))
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    log(args.role, 'tokenizer: vocab %d in %.1fs' % (vocab_size, time.time() - t))
    if not args.smoke and vocab_size != spec['vocab_size']:
        log('WARNING: vocab size %d, wanted %d' % (vocab_size, spec['vocab_size']))
    result['tokenizer'] = dict(vocab_size=vocab_size, trained_on_chars=sum(len(d) for d in sample),
                               merges=len(tok_spec['model']['merges']))

    if info['add_bos']:
        same, n = check_piecewise_encoding(tok, sources['gutenberg-books.train.txt.xz'] +
                                           sources['enwiki-2015.train-head.txt.xz'], info)
        result['tokenizer']['piecewise_encoding_matches'] = '%d/%d' % (same, n)
        log(args.role, 'piecewise encoding equals whole-document encoding for %d/%d documents' % (same, n))
    t = time.time()
    per_source = {}
    arrays = []
    for name, docs in sources.items():
        ids = document_ids(tok, docs, info)
        per_source[name] = dict(documents=len(docs), chars=sum(len(d) for d in docs),
                                tokens=int(sum(len(a) for a in ids)))
        arrays.extend(ids)
    tokens = np.concatenate(arrays)
    log(args.role, 'encoded %d tokens in %.1fs' % (len(tokens), time.time() - t))
    result['data'] = dict(sources=per_source, tokens=int(len(tokens)))

    model = build_model(spec, vocab_size, info, args.smoke)
    result['parameters'] = count_parameters(model)
    result['config'] = {k: v for k, v in spec.items() if k != 'dirname'}
    log(args.role, 'parameters: %d' % result['parameters'])

    import hashlib
    result['data']['tokens_sha256'] = hashlib.sha256(tokens.tobytes()).hexdigest()
    init = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        init.update(name.encode())
        init.update(p.detach().float().cpu().numpy().tobytes())
    result['initial_weights_sha256'] = init.hexdigest()
    result['training'] = train(model, tokens, spec, args, args.role, work)
    del tokens

    out_dir = os.path.join(work, 'models', spec['dirname'])
    save_all(model, tok_spec, info, out_dir, args.smoke)
    files = {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
    result['files'] = files
    result['bytes_on_disk'] = sum(files.values())
    log(args.role, 'saved', files)
    save_result(args, result)
    # Ship the model right away (tar parts below the per-file transfer limit), before anything else
    # can fail or run out of time.
    pack_dir = args.pack or os.path.join(work, 'pack-' + args.role)
    os.makedirs(pack_dir, exist_ok=True)
    subprocess.run('tar cf - %s | split -b 15M -d - %s/%s.tar.part-' % (
        spec['dirname'], os.path.abspath(pack_dir), spec['dirname']), shell=True, check=True,
        cwd=os.path.dirname(out_dir))
    log(args.role, 'packed', sorted(os.listdir(pack_dir)))
    if args.skip_checks:
        return

    # Everything below is checked stage by stage: a failing stage is recorded and the others still run.
    errors = result.setdefault('errors', {})

    def stage(name, fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            errors[name] = repr(e)[:1000]
            save_result(args, result)
            return None

    device = 'cuda'
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    in_memory = model.to(device).float().eval()   # the saved bf16 values, in fp32

    def reload_and_compare():
        # Reload what was written, exactly as a user would: every parameter must equal the in-memory
        # (bf16-rounded) one bit for bit, and the rotary frequencies must follow rope_theta. (Comparing
        # logits instead would be wrong: .to(bfloat16) also rounded the in-memory model's non-persistent
        # inv_freq buffer, which the reloaded model recomputes in fp32; that alone moves logits by ~3e-3.)
        reloaded = load_saved(out_dir, device)
        mine = dict(in_memory.named_parameters())
        theirs = dict(reloaded.named_parameters())
        if sorted(mine) != sorted(theirs):
            raise RuntimeError('parameter names differ: %s' % sorted(set(mine) ^ set(theirs)))
        diff = max(float((mine[k] - theirs[k]).abs().max()) for k in mine)
        result['reload_max_abs_parameter_diff'] = diff
        if diff != 0.0:
            raise RuntimeError('reloaded parameters differ by up to %g' % diff)
        check_rope(reloaded, spec['rope_theta'], spec['hidden_size'] // spec['num_attention_heads']
                   if not args.smoke else SMOKE_SHAPE['hidden_size'] // SMOKE_SHAPE['num_attention_heads'])
        return reloaded
    reloaded = stage('reload', reload_and_compare) or in_memory

    def check_autotokenizer():
        import transformers
        auto = transformers.AutoTokenizer.from_pretrained(out_dir)
        result['autotokenizer_class'] = type(auto).__name__
        result['autotokenizer_mismatches'] = [
            t for t in TOKENIZER_CASES + GOLDEN_TEXTS if auto(t)['input_ids'] != tok.encode(t).ids]
    stage('autotokenizer', check_autotokenizer)

    def run_eval():
        seq = 64 if args.smoke else SEQ_LEN
        result['eval'] = {}
        for name, docs in load_valid_documents(args.data, args.smoke).items():
            result['eval'][name] = evaluate(reloaded, tok, info, docs, seq, device)
            log(args.role, 'eval', name, result['eval'][name])
    stage('eval', run_eval)

    def run_continuations():
        result['continuations'] = []
        for p in PROMPTS:
            ids = tok.encode(p).ids
            new = greedy(reloaded, ids, 40, device, stop_id=info['eos_id'])
            result['continuations'].append(dict(prompt=p, continuation=tok.decode(new, skip_special_tokens=True)))
            log(args.role, repr(p), '->', repr(result['continuations'][-1]['continuation']))
    stage('continuations', run_continuations)
    save_result(args, result)

    def run_goldens():
        cpu_model = load_saved(out_dir, 'cpu')
        gold = goldens(cpu_model, tok, info, spec, args.role, out_dir)
        os.makedirs(os.path.join(work, 'parity'), exist_ok=True)
        with open(os.path.join(work, 'parity', spec['dirname'] + '.json'), 'w', encoding='utf-8') as f:
            json.dump(gold, f, ensure_ascii=False, separators=(',', ':'))
        return gold
    gold = stage('goldens', run_goldens)
    result['seconds_total'] = round(time.time() - args.t0, 1)
    if gold is not None:
        result['parity'] = gold   # also shipped inside the result, in case packing runs out of time
    save_result(args, result)
    log(args.role, 'done in %.1fs; errors: %s' % (result['seconds_total'], errors or 'none'))
    if errors:
        sys.exit(3)


def save_result(args, result):
    write_json(os.path.join(args.work, 'result-%s.json' % args.role), result)
    if args.pack:
        os.makedirs(args.pack, exist_ok=True)   # the first job to get here makes it
        write_json(os.path.join(args.pack, 'result-%s.json' % args.role), result)


# ----------------------------------------------------------------------------------------------------
# Orchestration: smoke jobs and full jobs at once; pack the results.

def run_all(args):
    t0 = time.time()
    me = os.path.abspath(__file__)
    work = os.path.abspath(args.work)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, 'logs'))
    train_until = t0 + args.budget - args.tail_seconds
    hard = train_until + 25
    env = dict(os.environ, PYTHONUNBUFFERED='1', RAYON_RS_NUM_CPUS='8', RAYON_NUM_THREADS='8',
               TOKENIZERS_PARALLELISM='true', OMP_NUM_THREADS='8')
    procs = {}

    def start(name, extra):
        logf = open(os.path.join(work, 'logs', name + '.log'), 'w')
        cmd = [sys.executable, me, 'role', '--data', os.path.abspath(args.data)] + extra
        procs[name] = (subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env), logf)

    for role in ('sender', 'receiver'):
        start('smoke-' + role, ['--role', role, '--smoke', '--work', os.path.join(work, 'smoke-' + role)])
    if not args.smoke_only:
        for role in ('sender', 'receiver'):
            extra = ['--role', role, '--work', os.path.join(work, 'full'), '--train-until', str(train_until),
                     '--hard-deadline', str(hard)]
            if args.pack:
                extra += ['--pack', os.path.abspath(args.pack)]
            steps = getattr(args, role + '_steps')
            if steps:
                extra += ['--steps', str(steps)]
            if not args.no_compile:
                extra += ['--compile']
            start('full-' + role, extra)

    failed = []
    while True:
        running = [n for n, (p, _) in procs.items() if p.poll() is None]
        for n, (p, _) in procs.items():
            if p.poll() not in (None, 0) and n not in failed:
                failed.append(n)
                log('FAILED:', n, 'exit', p.returncode)
                print(tail(os.path.join(work, 'logs', n + '.log'), 60), flush=True)
        if not running:
            break
        time.sleep(2)
    for n in procs:
        procs[n][1].close()
        log('--- log of', n, '(tail)')
        print(tail(os.path.join(work, 'logs', n + '.log'), 25 if n.startswith('smoke') else 60), flush=True)
    log('all jobs ended after %.1fs; failed: %s' % (time.time() - t0, failed))
    if args.pack:
        pack(work, args.pack, args.smoke_only)
    return 1 if failed else 0


def file_digests(folder):
    import hashlib
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), 'rb') as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_repro(args):
    """The reproducibility check: both roles trained twice from the same input, seed and step count (all
    four jobs at once on the one GPU), then every saved file compared by SHA-256. Prints one JSON object;
    exit 0 only when every file of both models is bit-identical between the two runs."""
    t0 = time.time()
    me = os.path.abspath(__file__)
    work = os.path.abspath(args.work)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, 'logs'))
    env = dict(os.environ, PYTHONUNBUFFERED='1', RAYON_RS_NUM_CPUS='4', RAYON_NUM_THREADS='4',
               TOKENIZERS_PARALLELISM='true', OMP_NUM_THREADS='4')
    procs = []
    for run in ('a', 'b'):
        for role in ('sender', 'receiver'):
            cmd = [sys.executable, me, 'role', '--role', role, '--data', os.path.abspath(args.data),
                   '--work', os.path.join(work, run), '--steps', str(args.steps), '--skip-checks']
            if not args.no_compile:
                cmd.append('--compile')
            if args.nondeterministic:
                cmd.append('--nondeterministic')
            logf = open(os.path.join(work, 'logs', '%s-%s.log' % (run, role)), 'w')
            procs.append(('%s-%s' % (run, role), subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)))
    failed = [name for name, p in procs if p.wait() != 0]
    report = dict(steps=args.steps, compile=not args.no_compile, deterministic=not args.nondeterministic,
                  data=sorted(os.listdir(args.data)), failed=failed, seconds=round(time.time() - t0, 1), models={})
    for name, _ in procs:
        print(tail(os.path.join(work, 'logs', name + '.log'), 12), file=sys.stderr, flush=True)
    identical = not failed
    for spec in ROLES.values():
        digests = {}
        for run in ('a', 'b'):
            folder = os.path.join(work, run, 'models', spec['dirname'])
            digests[run] = file_digests(folder) if os.path.isdir(folder) else {}
        same = bool(digests['a']) and digests['a'] == digests['b']
        identical = identical and same
        report['models'][spec['dirname']] = dict(identical=same, run_a=digests['a'],
                                                 differing=sorted(k for k in set(digests['a']) | set(digests['b'])
                                                                  if digests['a'].get(k) != digests['b'].get(k)))
        for run in ('a', 'b'):
            result = os.path.join(work, run, 'result-%s.json' % spec['dirname'].split('-')[0])
            if os.path.exists(result):
                with open(result, encoding='utf-8') as f:
                    r = json.load(f)
                report['models'][spec['dirname']]['run_' + run + '_trace'] = dict(
                    tokens_sha256=r['data'].get('tokens_sha256'), initial_weights_sha256=r.get('initial_weights_sha256'),
                    first_losses=r['training'].get('first_losses'),
                    final_loss=(r['training'].get('loss_curve') or [None])[-1])
    report['identical'] = identical
    print(json.dumps(report, indent=1))
    return 0 if identical else 1


def tail(path, n):
    try:
        return ''.join(open(path, encoding='utf-8', errors='replace').readlines()[-n:])
    except OSError as e:
        return str(e)


def pack(work, out, smoke_only):
    """Logs, parity goldens and (smoke) results into OUT/extras.tar.xz; the full jobs have already put
    their result-*.json and model tar parts into OUT."""
    os.makedirs(out, exist_ok=True)
    extras = ['logs']
    for b in ('full', 'smoke-sender', 'smoke-receiver'):
        for name in ('parity', 'result-sender.json', 'result-receiver.json'):
            if os.path.exists(os.path.join(work, b, name)):
                extras.append(os.path.join(b, name))
    subprocess.run(['tar', 'cJf', os.path.join(out, 'extras.tar.xz')] + extras, cwd=work, check=False)
    subprocess.run(['ls', '-l', out])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run', help='smoke + full jobs for both models, then pack')
    r.add_argument('--data', default='.device/demo')
    r.add_argument('--work', default='/tmp/demo')
    r.add_argument('--budget', type=float, default=535, help='seconds from start to packed results')
    r.add_argument('--tail-seconds', type=float, default=85, help='seconds kept after training')
    r.add_argument('--pack', default=None, help='folder for results.json, extras.tar.xz, models.tar.part-*')
    r.add_argument('--sender-steps', type=int, default=0, help='fixed step count (reproduction)')
    r.add_argument('--receiver-steps', type=int, default=0, help='fixed step count (reproduction)')
    r.add_argument('--no-compile', action='store_true')
    r.add_argument('--smoke-only', action='store_true')
    q = sub.add_parser('repro', help='train both models twice (same input, seed, steps) and compare the files')
    q.add_argument('--data', default='.device/demo')
    q.add_argument('--work', default='/tmp/demo-repro')
    q.add_argument('--steps', type=int, default=300)
    q.add_argument('--no-compile', action='store_true')
    q.add_argument('--nondeterministic', action='store_true', help='to show what the switch buys')
    o = sub.add_parser('role', help='one model end to end (used by run)')
    o.add_argument('--role', choices=sorted(ROLES), required=True)
    o.add_argument('--data', required=True)
    o.add_argument('--work', required=True)
    o.add_argument('--smoke', action='store_true')
    o.add_argument('--compile', action='store_true')
    o.add_argument('--steps', type=int, default=0)
    o.add_argument('--train-until', type=float, default=0)
    o.add_argument('--hard-deadline', type=float, default=float('inf'))
    o.add_argument('--pack', default=None, help='folder for result-ROLE.json and model tar parts')
    o.add_argument('--nondeterministic', action='store_true', help='allow nondeterministic CUDA kernels')
    o.add_argument('--skip-checks', action='store_true', help='stop after saving (used by repro)')
    args = ap.parse_args()
    if args.cmd == 'run':
        sys.exit(run_all(args))
    if args.cmd == 'repro':
        sys.exit(run_repro(args))
    run_role(args)


if __name__ == '__main__':
    main()
