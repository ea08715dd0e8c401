#!/usr/bin/env python3
"""bf16/fp32 CUDA parity of `lip-model forward` against transformers, on mid-size random checkpoints.

Runs on the GPU machine (transformers 5, torch with CUDA):
    python3 tests/data/models/bf16_parity.py LIP_MODEL_BINARY WORK_DIR > result.json
For llama (GQA + llama3 rope), mistral (sliding window 32 < sequence 96) and qwen2 (bias, tied):
makes a checkpoint with save_pretrained (fp32; weights re-drawn as in make_fixtures.py so the
logits are peaked like a trained model's), 24 random sequences of 96 tokens, then compares, at
EVERY position, transformers' top-1 (fp32 and bf16, CUDA, eager attention) with lip-model's
(`--device cuda --dtype bf16`, and fp32 for the logits error). Prints one JSON summary.
"""
import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import randomize, rope  # noqa: E402

N_SEQ, T = 24, 96


def configs():
    return {
        "llama_mid": LlamaConfig(vocab_size=4096, hidden_size=512, intermediate_size=1408, num_hidden_layers=6,
                                 num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=1024,
                                 rms_norm_eps=1e-5,
                                 **rope(LlamaConfig, 500000.0,
                                        {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
        "mistral_mid": MistralConfig(vocab_size=4096, hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                                     num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=1024,
                                     sliding_window=32, rms_norm_eps=1e-5, **rope(MistralConfig, 10000.0)),
        "qwen2_mid": Qwen2Config(vocab_size=4096, hidden_size=384, intermediate_size=1024, num_hidden_layers=4,
                                 num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=1024,
                                 rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                                 **rope(Qwen2Config, 1000000.0)),
    }


def lip_forward(binary, model_dir, inputs, dtype):
    out = subprocess.run([binary, "forward", "--model", model_dir, "--input", inputs, "--device", "cuda",
                          "--dtype", dtype], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"lip-model failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    summary = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "sequences": N_SEQ,
               "seq_len": T, "models": {}}
    for i, (name, config) in enumerate(configs().items()):
        d = os.path.join(work, name)
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").float().eval()
        randomize(model, 77 + i)
        model.save_pretrained(d)
        g = torch.Generator().manual_seed(5 + i)
        ids = torch.randint(3, config.vocab_size, (N_SEQ, T), generator=g)
        inputs = os.path.join(work, name + ".jsonl")
        with open(inputs, "w") as f:
            for row in ids.tolist():
                f.write(json.dumps({"ids": row}) + "\n")
        model = model.cuda()
        with torch.no_grad():
            hf32 = model(input_ids=ids.cuda()).logits.float().cpu()
            hf16 = model.to(torch.bfloat16)(input_ids=ids.cuda()).logits.float().cpu()
        lip16 = lip_forward(binary, d, inputs, "bf16")
        lip32 = lip_forward(binary, d, inputs, "fp32")
        top_lip16 = torch.tensor([r["top1"] for r in lip16])
        top_lip32 = torch.tensor([r["top1"] for r in lip32])
        last32 = torch.tensor([r["logits_last"] for r in lip32])
        ref_last = hf32[:, -1]
        summary["models"][name] = {
            "top1_agree_lip_bf16_vs_hf_fp32": (top_lip16 == hf32.argmax(-1)).float().mean().item(),
            "top1_agree_lip_bf16_vs_hf_bf16": (top_lip16 == hf16.argmax(-1)).float().mean().item(),
            "top1_agree_hf_bf16_vs_hf_fp32": (hf16.argmax(-1) == hf32.argmax(-1)).float().mean().item(),
            "top1_agree_lip_fp32_vs_hf_fp32": (top_lip32 == hf32.argmax(-1)).float().mean().item(),
            "lip_fp32_cuda_last_logits_rel_err":
                ((last32 - ref_last).abs().max() / ref_last.abs().max()).item(),
        }
        print(name, summary["models"][name], file=sys.stderr)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
