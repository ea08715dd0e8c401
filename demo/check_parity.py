#!/usr/bin/env python3
"""Checks the golden outputs in tests/data/demo-parity/ against the model files in demo/models/, with an
independent forward pass written from the papers (plain PyTorch on the CPU; no transformers needed).

  python3 demo/check_parity.py            # from the repository root; needs torch (Debian: python3-torch)

It reads config.json and the bf16 safetensors shards directly (the format is parsed here, no safetensors
package), upcasts to fp32, runs Llama / Qwen2 step by step (rms_norm, rope, grouped-query attention,
swiglu), and compares with what transformers produced: last-position logits, hidden states of the dumped
layers, and the 32-token greedy continuation. It is the same check the C++ runtime must pass, written so a
reader can follow it line by line. Exit status 0 when every case matches within the tolerances below.
"""

import json
import math
import os
import struct
import sys

import torch

LOGIT_TOLERANCE = 2e-3    # max |difference| of any logit (fp32 summation order differs from transformers)
HIDDEN_TOLERANCE = 2e-3   # max |difference| of any hidden-state value (relative to max(1, |value|))


def read_safetensors(path):
    """{name: fp32 tensor} from one .safetensors file (8-byte header size, JSON header, raw data)."""
    with open(path, 'rb') as f:
        (header_size,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(header_size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        raw = bytearray(data[begin:end])
        if info['dtype'] == 'BF16':
            as_int = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16
            t = as_int.view(torch.float32)
        elif info['dtype'] == 'F32':
            t = torch.frombuffer(raw, dtype=torch.float32).clone()
        else:
            raise ValueError('%s: dtype %s not handled' % (name, info['dtype']))
        tensors[name] = t.reshape(info['shape'])
    return tensors


def load_model(model_dir):
    config = json.load(open(os.path.join(model_dir, 'config.json')))
    index = os.path.join(model_dir, 'model.safetensors.index.json')
    shards = sorted(set(json.load(open(index))['weight_map'].values())) if os.path.exists(index) else ['model.safetensors']
    weights = {}
    for shard in shards:
        weights.update(read_safetensors(os.path.join(model_dir, shard)))
    if config.get('tie_word_embeddings'):
        weights['lm_head.weight'] = weights['model.embed_tokens.weight']
    return config, weights


def rope_theta(config):
    params = config.get('rope_parameters') or {}
    return float(params.get('rope_theta', config.get('rope_theta', 10000.0)))


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope(x, positions, theta):
    """Rotates pairs (i, i + head_dim/2) of each head, as transformers' rotate_half does."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = positions[:, None].float() * inv_freq[None, :]
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1)
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1)
    half = head_dim // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def forward(config, w, ids, capture_layers=()):
    """Logits [T, vocab] for token ids [T]; also {k: hidden [T, d]} after decoder layer k, and 'final_norm'."""
    d = config['hidden_size']
    n_heads = config['num_attention_heads']
    n_kv = config['num_key_value_heads']
    head_dim = config.get('head_dim') or d // n_heads
    eps = config['rms_norm_eps']
    theta = rope_theta(config)
    T = len(ids)
    positions = torch.arange(T)
    causal = torch.full((T, T), float('-inf')).triu(1)
    x = w['model.embed_tokens.weight'][torch.tensor(ids)]
    captured = {}
    for layer in range(config['num_hidden_layers']):
        p = 'model.layers.%d.' % layer
        h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)

        def proj(name):
            out = h @ w[p + 'self_attn.%s.weight' % name].T
            bias = w.get(p + 'self_attn.%s.bias' % name)
            return out + bias if bias is not None else out
        q = proj('q_proj').view(T, n_heads, head_dim).transpose(0, 1)
        k = proj('k_proj').view(T, n_kv, head_dim).transpose(0, 1)
        v = proj('v_proj').view(T, n_kv, head_dim).transpose(0, 1)
        q, k = rope(q, positions, theta), rope(k, positions, theta)
        group = n_heads // n_kv                     # grouped-query attention: kv head j serves q heads j*group..
        k, v = k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(head_dim) + causal
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + attn.transpose(0, 1).reshape(T, n_heads * head_dim) @ w[p + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
        gate = h @ w[p + 'mlp.gate_proj.weight'].T
        up = h @ w[p + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + 'mlp.down_proj.weight'].T   # swiglu
        if layer + 1 in capture_layers:
            captured[layer + 1] = x
    x = rms_norm(x, w['model.norm.weight'], eps)
    captured['final_norm'] = x
    return x @ w['lm_head.weight'].T, captured


def check(golden_path, repo_root):
    golden = json.load(open(golden_path, encoding='utf-8'))
    config, weights = load_model(os.path.join(repo_root, golden['model_dir']))
    layers = golden['hidden_layers_dumped']
    ok = True
    for case in golden['cases']:
        with torch.no_grad():
            logits, hidden = forward(config, weights, case['ids'], layers)
            want = torch.tensor(case['last_logits'])
            logit_diff = float((logits[-1] - want).abs().max())
            hidden_diff = 0.0
            for k in layers:
                got_h = hidden[k][-1]
                want_h = torch.tensor(case['last_hidden']['layer_%d' % k])
                hidden_diff = max(hidden_diff, float(((got_h - want_h).abs() / want_h.abs().clamp(min=1)).max()))
            want_f = torch.tensor(case['last_hidden']['final_norm'])
            hidden_diff = max(hidden_diff, float(((hidden['final_norm'][-1] - want_f).abs() / want_f.abs().clamp(min=1)).max()))
            ids = list(case['ids'])
            for _ in range(32):
                next_logits, _ = forward(config, weights, ids)
                ids.append(int(next_logits[-1].argmax()))
        greedy_ok = ids[len(case['ids']):] == case['greedy_32']
        case_ok = logit_diff <= LOGIT_TOLERANCE and hidden_diff <= HIDDEN_TOLERANCE and greedy_ok
        ok &= case_ok
        print('%s %-55r logits max|diff| %.2e  hidden max rel diff %.2e  greedy %s' % (
            'ok  ' if case_ok else 'FAIL', case['text'][:50], logit_diff, hidden_diff,
            'same' if greedy_ok else 'DIFFERENT'))
    return ok


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(repo_root, 'tests', 'data', 'demo-parity')
    ok = True
    for name in sorted(os.listdir(folder)):
        if name.endswith('.json'):
            print('==', name)
            ok &= check(os.path.join(folder, name), repo_root)
    print('all cases match' if ok else 'MISMATCH')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
