#!/usr/bin/env python3
"""Cuts each message of a JSON-lines file ({"text": ...}) to its longest word prefix that the sender's
tokenizer reads in at most MAX_TOKENS tokens (special tokens included), so that every path of the
real-shape benchmark reads the same text: the latent path truncates at the bridge's max_text_tokens
(64), while text relay and direct text would otherwise read the whole message.

    python3 benchmarks/real_shapes/cut_messages.py IN.jsonl OUT.jsonl --model DIR [--max-tokens 64]
        [--lip-model build/bridge/lip-model]

DIR holds the sender's tokenizer (.device/real-shapes/llama31-8b after benchmarks/real_shapes/pack.sh)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def token_counts(lip_model, model_dir, texts):
    """Tokens of each text (special tokens included), through `lip-model tokenize`."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for text in texts:
            f.write(json.dumps({"text": text}) + "\n")
        path = f.name
    try:
        out = subprocess.run([lip_model, "tokenize", "--model", model_dir, "--input", path],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return [len(json.loads(line)["ids"]) for line in out.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--model", required=True)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--lip-model", default="build/bridge/lip-model")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in open(args.input) if line.strip()]
    # Every word prefix of every text, tokenized in one call; keep the longest that fits.
    prefixes = []
    for i, text in enumerate(texts):
        words = text.split(" ")
        prefixes += [(i, " ".join(words[:n])) for n in range(1, len(words) + 1)]
    counts = token_counts(args.lip_model, args.model, [p for _, p in prefixes])
    best = {}
    for (i, prefix), count in zip(prefixes, counts):
        if count <= args.max_tokens:
            best[i] = (prefix, count)
    with open(args.output, "w") as out:
        for i in range(len(texts)):
            if i not in best:
                sys.exit(f"message {i}: not even its first word fits {args.max_tokens} tokens")
            out.write(json.dumps({"text": best[i][0]}) + "\n")
    sizes = sorted(count for _, count in best.values())
    print(f"{len(texts)} messages cut to {sizes[0]}..{sizes[-1]} tokens (max {args.max_tokens})")


if __name__ == "__main__":
    main()
