#!/usr/bin/env python3
"""Golden token ids from the Hugging Face `tokenizers` library for tests/tokenizer/.

Runs on the GPU machine (which has `tokenizers`); it needs no GPU. Inputs, relative to the repo root:
  .device/tokenizer/models/<model dir>/tokenizer.json.xz   copies of ../shared/models/*/tokenizer.json
  .device/tokenizer/data/<set>/test.jsonl.xz               copies of ../shared/data/*/test.jsonl
  tests/data/tokenizers/hard_cases.jsonl                   hand-written hard cases ({"text": ...})
Output in OUT_DIR (argv[1]), one pair of files per tokenizer:
  <model dir>.tsv          one line per dataset text:
                           set <TAB> index <TAB> n_ids <TAB> fnv64(ids) <TAB> fnv64(decode(ids))
                           ids = encode(text, add_special_tokens=True); decode skips special tokens.
  <model dir>.hard.jsonl   full ids for the hard cases, the first texts of each set and random id
                           sequences to decode; the first line is a header with versions and vocab size.
fnv64 is 64-bit FNV-1a: of the ids as little-endian int32, or of the text's UTF-8 bytes; hex, 16 digits.

Reproduce: see tests/data/tokenizers/README.md.
"""
import json
import lzma
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer

MODELS = [
    "meta-llama--Llama-3.1-8B-Instruct",
    "mistralai--Mistral-7B-v0.1",
    "Qwen--Qwen2.5-0.5B-Instruct",
    "TinyLlama--TinyLlama-1.1B-Chat-v1.0",
    "microsoft--phi-2",
]
SETS = ["sst2", "ag_news", "trec"]
FIRST_N_FULL = 10  # texts per set whose full ids go into the .hard.jsonl file


def fnv64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def ids_hash(ids) -> str:
    return fnv64(b"".join(int(i).to_bytes(4, "little", signed=True) for i in ids))


def read_jsonl_xz(path):
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def main():
    out_dir = sys.argv[1]
    root = ".device/tokenizer"
    os.makedirs(out_dir, exist_ok=True)
    with open("tests/data/tokenizers/hard_cases.jsonl", encoding="utf-8") as f:
        hard = [json.loads(line)["text"] for line in f if line.strip()]
    sets = {s: read_jsonl_xz(f"{root}/data/{s}/test.jsonl.xz") for s in SETS}
    for model in MODELS:
        with lzma.open(f"{root}/models/{model}/tokenizer.json.xz", "rt", encoding="utf-8") as f:
            tok = Tokenizer.from_str(f.read())
        vocab_size = tok.get_vocab_size(with_added_tokens=True)
        with open(f"{out_dir}/{model}.tsv", "w", encoding="utf-8") as out:
            for s in SETS:
                encs = tok.encode_batch(sets[s], add_special_tokens=True)
                all_ids = [e.ids for e in encs]
                decoded = tok.decode_batch(all_ids, skip_special_tokens=True)
                for i, (ids, text) in enumerate(zip(all_ids, decoded)):
                    out.write(f"{s}\t{i}\t{len(ids)}\t{ids_hash(ids)}\t{fnv64(text.encode('utf-8'))}\n")
        with open(f"{out_dir}/{model}.hard.jsonl", "w", encoding="utf-8") as out:
            header = {"kind": "header", "model": model, "tokenizers": tokenizers.__version__,
                      "vocab_size": vocab_size}
            out.write(json.dumps(header, ensure_ascii=True) + "\n")

            def case(kind, text, extra):
                ids = tok.encode(text, add_special_tokens=True).ids
                plain = tok.encode(text, add_special_tokens=False).ids
                rec = {"kind": kind, **extra, "text": text, "ids": ids, "ids_plain": plain,
                       "decoded": tok.decode(ids, skip_special_tokens=True),
                       "decoded_special": tok.decode(ids, skip_special_tokens=False)}
                out.write(json.dumps(rec, ensure_ascii=True) + "\n")

            for i, text in enumerate(hard):
                case("hard", text, {"index": i})
            for s in SETS:
                for i, text in enumerate(sets[s][:FIRST_N_FULL]):
                    case("set", text, {"set": s, "index": i})
            rng = random.Random(20261123)
            id_lists = [[rng.randrange(vocab_size) for _ in range(rng.randint(1, 12))] for _ in range(40)]
            byte_tok = tok.token_to_id("<0xE4>")
            if byte_tok is not None:  # sentencepiece-style byte fallback: whole and cut UTF-8 sequences
                b = lambda x: tok.token_to_id("<0x%02X>" % x)
                id_lists += [[b(0xE4), b(0xBD), b(0xA0)], [b(0xE4), b(0xBD)], [b(0x41), b(0xE4), b(0x41)],
                             [b(0xF0), b(0x9F), b(0x98), b(0x80), b(0x80)]]
            for ids in id_lists:
                rec = {"kind": "decode", "ids": ids,
                       "decoded": tok.decode(ids, skip_special_tokens=True),
                       "decoded_special": tok.decode(ids, skip_special_tokens=False)}
                out.write(json.dumps(rec, ensure_ascii=True) + "\n")
        print(model, "vocab", vocab_size, "ok", flush=True)


if __name__ == "__main__":
    main()
