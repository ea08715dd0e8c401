#!/usr/bin/env python3
"""Where a decoder block's time goes at the real shapes, on a GPU machine with PyTorch (no LIP build).

Replays the fast runtime's op sequence for one block (bridge/model/decoder_model.cc: BlockQkv, then
BlockOutput; bridge/model/static_decoder.cc for a decode step) in PyTorch with random bf16 weights of a
Hugging Face config.json, over several layers with distinct weights (so the weights stream from HBM,
not L2), and reports per block:
  - graph_us: one CUDA graph of all the layers, replayed (what the runtime's graphs do), per layer;
  - per op: the device time of its kernels, eagerly, from torch.profiler (record_function labels);
  - each GEMM's weight bytes over its time (GB/s and % of the peak given by --peak-gbs);
and repeats that with LibTorch's GEMM back-ends: the default, cuBLASLt preferred, and TunableOp
(every cuBLAS/cuBLASLt algorithm timed per shape, the fastest kept). One difference from the runtime:
the rotary embedding here is LibTorch's three kernels (mul, roll, addcmul); the runtime's fused kernel
(bridge/model/cuda/fused_block_kernels.cu) does it in one.

  python3 benchmarks/real_shapes/block_profile.py --models DIR [--out OUT.jsonl] [--variants ...]
DIR holds llama31-8b/ and mistral-7b/ with config.json (benchmarks/real_shapes/pack.sh puts them in
.device/real-shapes). One JSON object per (model, batch, tokens, variant) line.
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

# (model folder, batch, tokens, decode context or 0): the latency path's shapes (sender 64 tokens to
# layer 16, receiver 24-32 tokens), the 8B decode step of the model benchmark, a throughput batch.
SHAPES = [('llama31-8b', 1, 64, 0), ('mistral-7b', 1, 24, 0), ('mistral-7b', 1, 32, 0),
          ('llama31-8b', 1, 1, 128), ('mistral-7b', 32, 32, 0)]


def block_shape(config_path):
    c = json.load(open(config_path))
    H, nh = c['hidden_size'], c['num_attention_heads']
    return {'H': H, 'I': c['intermediate_size'], 'nh': nh, 'nkv': c.get('num_key_value_heads', nh),
            'D': c.get('head_dim') or H // nh, 'eps': c.get('rms_norm_eps', 1e-5),
            'theta': c.get('rope_theta', 10000.0), 'layers': c['num_hidden_layers']}


def make_layers(s, n, device):
    def w(*shape):
        return (torch.randn(*shape, device=device) * 0.02).to(torch.bfloat16)
    qkv_out = (s['nh'] + 2 * s['nkv']) * s['D']
    return [{'n1': torch.ones(s['H'], device=device, dtype=torch.bfloat16), 'qkv': w(qkv_out, s['H']),
             'o': w(s['H'], s['nh'] * s['D']), 'n2': torch.ones(s['H'], device=device, dtype=torch.bfloat16),
             'gate_up': w(2 * s['I'], s['H']), 'down': w(s['H'], s['I'])} for _ in range(n)]


def rope_tables(s, B, T, offset, device):
    D = s['D']
    inv = 1.0 / (s['theta'] ** (torch.arange(0, D, 2, device=device, dtype=torch.float32) / D))
    freqs = torch.arange(offset, offset + T, device=device, dtype=torch.float32)[:, None] * inv[None]
    cos = torch.cat([freqs.cos(), freqs.cos()], -1).to(torch.bfloat16)
    signed_sin = torch.cat([-freqs.sin(), freqs.sin()], -1).to(torch.bfloat16)
    return cos.view(1, T, 1, D).expand(B, T, 1, D), signed_sin.view(1, T, 1, D).expand(B, T, 1, D)


def block(h, w, s, cos, ssin, cache, label):
    """One block as the fast runtime runs it. cache: None (prefill from nothing, causal) or
    (keys, values, column, additive mask) of a static decode step."""
    B, T, H = h.shape
    nh, nkv, D, I = s['nh'], s['nkv'], s['D'], s['I']
    with label('input_norm'):
        x = F.rms_norm(h, (H,), w['n1'], s['eps'])
    with label('qkv_proj'):
        qkv = F.linear(x, w['qkv'])
    with label('rope'):
        qk = qkv[..., :(nh + nkv) * D].view(B, T, nh + nkv, D)
        qk = torch.addcmul(qk * cos, torch.roll(qk, D // 2, -1), ssin)
    q = qk[:, :, :nh].transpose(1, 2)
    k = qk[:, :, nh:].transpose(1, 2)
    v = qkv[..., (nh + nkv) * D:].view(B, T, nkv, D).transpose(1, 2)
    if cache is None:
        with label('attention'):
            attn = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1, enable_gqa=nkv != nh)
    else:
        keys, values, column, additive = cache
        with label('kv_write'):
            keys.index_copy_(2, column, k)
            values.index_copy_(2, column, v)
        with label('attention'):  # one query: the group's heads folded into the query axis
            folded = q.reshape(B, nkv, nh // nkv, D)
            attn = F.scaled_dot_product_attention(folded, keys, values, attn_mask=additive).reshape(B, nh, 1, D)
    with label('o_proj+residual'):
        h = torch.addmm(h.reshape(B * T, H), attn.transpose(1, 2).reshape(B * T, nh * D), w['o'].t()).view(B, T, H)
    with label('post_norm'):
        x = F.rms_norm(h, (H,), w['n2'], s['eps'])
    with label('gate_up_proj'):
        gu = F.linear(x, w['gate_up'])
    with label('silu_mul'):
        m = F.silu(gu[..., :I]) * gu[..., I:]
    with label('down_proj+residual'):
        h.view(B * T, H).addmm_(m.reshape(B * T, I), w['down'].t())
    return h


def measure(s, layers, B, T, context, device, peak_gbs, iters):
    no_label = lambda name: contextlib.nullcontext()
    h0 = torch.randn(B, T, s['H'], device=device, dtype=torch.bfloat16)
    caches = None
    if context:
        C = context
        caches = []
        mask = torch.zeros(B, 1, 1, C, device=device, dtype=torch.bfloat16)
        mask[..., C // 2 + 1:] = torch.finfo(torch.bfloat16).min
        for _ in layers:
            caches.append((torch.randn(B, s['nkv'], C, s['D'], device=device, dtype=torch.bfloat16),
                           torch.randn(B, s['nkv'], C, s['D'], device=device, dtype=torch.bfloat16),
                           torch.tensor([C // 2], device=device), mask))
    cos, ssin = rope_tables(s, B, T, context // 2 if context else 0, device)

    def run(label):
        h = h0.clone()
        for i, w in enumerate(layers):
            h = block(h, w, s, cos, ssin, caches[i] if caches else None, label)
        return h

    with torch.no_grad():
        for _ in range(3):
            run(no_label)  # warm-up (and, with TunableOp, the tuning of every GEMM shape)
        torch.cuda.synchronize()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            run(no_label)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            run(no_label)
        for _ in range(3):
            graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(iters):
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        times.sort()
        graph_us = times[len(times) // 2] * 1000 / len(layers)
        del graph

        from torch.profiler import profile, ProfilerActivity, record_function
        try:
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                for _ in range(2):
                    run(record_function)
                torch.cuda.synchronize()
            events, profile_error = prof.events(), None
        except Exception as e:  # keep the graph timing
            events, profile_error = [], '%s: %s' % (type(e).__name__, str(e)[:300])
    runs = 2 * len(layers)
    labels = ('input_norm', 'qkv_proj', 'rope', 'attention', 'kv_write', 'o_proj+residual', 'post_norm',
              'gate_up_proj', 'silu_mul', 'down_proj+residual')
    ops, by_kernel = {}, {}
    for e in events:
        on_device = 'CUDA' in str(e.device_type)
        if e.name in labels and not on_device:  # the CPU range: its kernels' device time
            ops[e.name] = ops.get(e.name, 0.0) + e.device_time_total / runs
        elif on_device and e.name not in labels:  # a kernel (not the GPU copy of a label)
            t, c = by_kernel.get(e.name, (0.0, 0))
            by_kernel[e.name] = (t + e.time_range.elapsed_us() / runs, c + 1)
    ops = {k: round(v, 2) for k, v in ops.items()}
    kernels = [(round(t, 2), c, n[:120]) for n, (t, c) in by_kernel.items()]
    kernels.sort(reverse=True)
    H, I, nh, nkv, D = s['H'], s['I'], s['nh'], s['nkv'], s['D']
    gemm_bytes = {'qkv_proj': (nh + 2 * nkv) * D * H * 2, 'o_proj+residual': H * nh * D * 2,
                  'gate_up_proj': 2 * I * H * 2, 'down_proj+residual': H * I * 2}
    gemms = {}
    for name, nbytes in gemm_bytes.items():
        us = ops.get(name)
        if us:
            gbs = nbytes / (us * 1e-6) / 1e9
            gemms[name] = {'weight_mb': round(nbytes / 1e6, 1), 'us': us, 'gb_s': round(gbs),
                           'pct_of_peak': round(100 * gbs / peak_gbs, 1)}
    weights = sum(gemm_bytes.values())
    return {'graph_us_per_layer': round(graph_us, 2), 'eager_kernel_us_per_layer': round(sum(ops.values()), 2),
            'ops_us': ops, 'gemms': gemms, 'layer_weight_mb': round(weights / 1e6, 1),
            'graph_gb_s': round(weights / (graph_us * 1e-6) / 1e9),
            'graph_pct_of_peak': round(100 * weights / (graph_us * 1e-6) / 1e9 / peak_gbs, 1),
            'weight_stream_floor_us': round(weights / (peak_gbs * 1e9) * 1e6, 2),
            'profile_error': profile_error,
            'top_kernels': [{'us': t, 'per_layer': c // runs, 'name': n}
                            for t, c, n in kernels[:12]]}


def set_variant(variant, tuning_file):
    torch.backends.cuda.preferred_blas_library('cublaslt' if variant == 'cublaslt' else 'cublas')
    tunable = torch.cuda.tunable
    if variant == 'tunableop':
        tunable.enable(True)
        tunable.tuning_enable(True)
        tunable.set_filename(tuning_file)
    else:
        tunable.enable(False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--models', required=True)
    p.add_argument('--out', default='-')
    p.add_argument('--layers', type=int, default=8, help='layers with distinct weights per measurement')
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--peak-gbs', type=float, default=3350.0, help='HBM peak (H100 SXM: 3350 GB/s)')
    p.add_argument('--variants', default='default,cublaslt,tunableop')
    p.add_argument('--tuning-file', default='tunableop_results.csv')
    a = p.parse_args()
    device = torch.device('cuda')
    out = sys.stdout if a.out == '-' else open(a.out, 'a')
    info = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__,
            'cuda': torch.version.cuda, 'layers': a.layers}
    cache = {}
    for model, B, T, context in SHAPES:
        cfg = os.path.join(a.models, model, 'config.json')
        if not os.path.exists(cfg):
            print('skip %s: no %s' % (model, cfg), file=sys.stderr)
            continue
        if model not in cache:
            cache.clear()
            torch.cuda.empty_cache()
            s = block_shape(cfg)
            cache[model] = (s, make_layers(s, a.layers, device))
        s, layers = cache[model]
        for variant in a.variants.split(','):
            set_variant(variant, a.tuning_file)
            t0 = time.time()
            try:
                r = measure(s, layers, B, T, context, device, a.peak_gbs, a.iters)
            except Exception as e:  # one variant failing must not lose the others
                r = {'error': '%s: %s' % (type(e).__name__, str(e)[:400])}
            row = dict(info, model=model, batch=B, tokens=T, decode_context=context, variant=variant,
                       model_layers=s['layers'], seconds=round(time.time() - t0, 1), **r)
            out.write(json.dumps(row) + '\n')
            out.flush()
            print('%s B=%d T=%d ctx=%d %-9s graph %s us/layer (%s%% of peak) eager kernels %s us' % (
                model, B, T, context, variant, r.get('graph_us_per_layer'), r.get('graph_pct_of_peak'),
                r.get('eager_kernel_us_per_layer')), file=sys.stderr)
    set_variant('default', a.tuning_file)


if __name__ == '__main__':
    main()
