#!/usr/bin/env python3
"""Makes the tiny random checkpoints and transformers golden outputs under tests/data/models/.

Runs where transformers (5.x), torch and safetensors are installed (the GPU machine):
    python3 tests/data/models/make_fixtures.py OUT_DIR
Each model goes to OUT_DIR/<name>/ (save_pretrained, fp32) with golden.safetensors beside it:
  ids [1,T]                     input token ids
  logits [1,T,V]                all-position logits (fp32, CPU)
  hidden_<i> [1,T,H]            output_hidden_states[i], i = 0..num_hidden_layers
  greedy [1,32]                 32 greedy new tokens after `ids` (KV cache, no stop token)
  batch_ids [3,Tmax], batch_mask [3,Tmax]   left-padded batch of three prefixes of `ids`
  batch_last_logits [3,V]       last-position logits of each row run ALONE (unpadded)
  batch_greedy [3,16]           16 greedy tokens of each row run alone
  soft_embeds [1,5,H]           random soft tokens spliced after ids[:, :6] and before ids[:, 6:12]
  soft_logits_last [1,V]        last-position logits for that inputs_embeds sequence
Weights are re-drawn with larger scales than transformers' init so that the logits are peaked
(greedy decoding then has no near-ties) and biases / norm weights are non-trivial.
"""
import inspect
import json
import os
import sys
import traceback

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

T = 20
GREEDY = 32
BATCH_GREEDY = 16


def rope(cls, theta, scaling=None):
    """Rope kwargs for this transformers version: `rope_parameters` (5.x) or the classic fields."""
    if "rope_parameters" in inspect.signature(cls.__init__).parameters:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(scaling)
        return {"rope_parameters": params}
    return {"rope_theta": theta, "rope_scaling": scaling}


def specs():
    return {
        # GQA, classic rope, untied, 3 layers.
        "llama_gqa": LlamaConfig(vocab_size=384, hidden_size=64, intermediate_size=160,
                                 num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                                 max_position_embeddings=256, rms_norm_eps=1e-5, **rope(LlamaConfig, 10000.0),
                                 tie_word_embeddings=False, bos_token_id=1, eos_token_id=2),
        # MQA, explicit head_dim (heads*head_dim != hidden), llama3 rope scaling, biases, sharded.
        "llama3_mqa": LlamaConfig(vocab_size=320, hidden_size=48, intermediate_size=96, head_dim=16,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                                  max_position_embeddings=256, rms_norm_eps=1e-5,
                                  **rope(LlamaConfig, 500000.0,
                                         {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
                                  attention_bias=True, mlp_bias=True, tie_word_embeddings=False,
                                  bos_token_id=1, eos_token_id=[2, 3]),
        # Sliding window smaller than the sequence.
        "mistral_sw": MistralConfig(vocab_size=300, hidden_size=64, intermediate_size=128,
                                    num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2,
                                    max_position_embeddings=256, sliding_window=6, rms_norm_eps=1e-5,
                                    **rope(MistralConfig, 10000.0), tie_word_embeddings=False, bos_token_id=1,
                                    eos_token_id=2),
        # q/k/v bias, tied embeddings.
        "qwen2_tied": Qwen2Config(vocab_size=352, hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=256, rms_norm_eps=1e-6, **rope(Qwen2Config, 1000000.0),
                                  tie_word_embeddings=True, use_sliding_window=False, bos_token_id=1,
                                  eos_token_id=2),
    }


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5) * 1.2)


def greedy(model, ids, n):
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
    return out[:, ids.shape[1]:].contiguous()


def make(name, config, out_dir, seed):
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").float().eval()
    randomize(model, seed)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    d = os.path.join(out_dir, name)
    if name == "llama3_mqa":
        model.save_pretrained(d, max_shard_size="100KB")
    else:
        model.save_pretrained(d)
    g = torch.Generator().manual_seed(seed + 1)
    V, H, L = config.vocab_size, config.hidden_size, config.num_hidden_layers
    ids = torch.randint(3, V, (1, T), generator=g)
    gold = {"ids": ids}
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        gold["logits"] = out.logits.float()
        assert len(out.hidden_states) == L + 1
        for i, h in enumerate(out.hidden_states):
            gold[f"hidden_{i}"] = h.float()
        gold["greedy"] = greedy(model, ids, GREEDY)
        lengths = [T, 13, 7]
        batch_ids = torch.zeros(3, T, dtype=torch.long)
        batch_mask = torch.zeros(3, T, dtype=torch.long)
        last, bgreedy = [], []
        for r, n in enumerate(lengths):
            row = ids[:, :n]
            batch_ids[r, T - n:] = row[0]
            batch_mask[r, T - n:] = 1
            last.append(model(input_ids=row).logits[0, -1].float())
            bgreedy.append(greedy(model, row, BATCH_GREEDY)[0])
        gold["batch_ids"] = batch_ids
        gold["batch_mask"] = batch_mask
        gold["batch_last_logits"] = torch.stack(last)
        gold["batch_greedy"] = torch.stack(bgreedy)
        soft = torch.randn(1, 5, H, generator=g)
        emb = model.get_input_embeddings()
        embeds = torch.cat([emb(ids[:, :6]), soft, emb(ids[:, 6:12])], dim=1)
        gold["soft_embeds"] = soft
        gold["soft_logits_last"] = model(inputs_embeds=embeds).logits[:, -1].float()
    save_file({k: v.contiguous() for k, v in gold.items()}, os.path.join(d, "golden.safetensors"))
    top1 = gold["logits"][0].argmax(-1)
    print(name, "saved", sorted(os.listdir(d)), "top1[:8]", top1[:8].tolist(),
          "greedy[:8]", gold["greedy"][0, :8].tolist())


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out_dir, exist_ok=True)
    failed = []
    for i, (name, config) in enumerate(specs().items()):
        try:
            make(name, config, out_dir, seed=1000 + i)
            with open(os.path.join(out_dir, name, "config.json")) as f:
                print(f.read())
        except Exception:  # keep going: one broken family must not cost the others
            traceback.print_exc()
            failed.append(name)
    if failed:
        print("FAILED:", failed)
    import transformers
    with open(os.path.join(out_dir, "VERSIONS.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__}, f)


if __name__ == "__main__":
    main()
