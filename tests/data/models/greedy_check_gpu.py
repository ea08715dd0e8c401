"""Greedy decoding of the CUDA runtime against the transformers goldens of the demo pair, without the
tokenizer: for every case of tests/data/demo-parity/{sender-llama,receiver-qwen2}.json, runs
`lip-model generate --ids ... --max-new-tokens 32 --ignore-eos` (KV cache, one token per step) and
compares the ids with the golden greedy_32. Prints one JSON object per model and mode.

    python3 tests/data/models/greedy_check_gpu.py LIP_MODEL [--device cuda] [--runtime fast]
"""
import json
import subprocess
import sys


def main():
    binary = sys.argv[1]
    extra = sys.argv[2:]
    for name in ('sender-llama', 'receiver-qwen2'):
        golden = json.load(open('tests/data/demo-parity/%s.json' % name))
        cases = golden['cases']
        for dtype, activations in (('fp32', 'fp32'), ('bf16', 'fp32'), ('bf16', 'model')):
            inputs = '/tmp/greedy-%s.jsonl' % name
            with open(inputs, 'w') as f:
                for case in cases:
                    f.write(json.dumps({'ids': case['ids']}) + '\n')
            out = subprocess.run([binary, 'generate', '--model', 'demo/models/' + name, '--input', inputs,
                                  '--max-new-tokens', '32', '--ignore-eos', '--dtype', dtype,
                                  '--activations', activations] + extra, capture_output=True, text=True)
            if out.returncode != 0:
                print(json.dumps({'model': name, 'dtype': dtype, 'error': out.stderr[-500:]}))
                continue
            got = [json.loads(line)['ids'] for line in out.stdout.splitlines() if line.strip()]
            same_tokens = total = identical = 0
            for case, ids in zip(cases, got):
                want = case['greedy_32']
                identical += ids == want
                total += len(want)
                same_tokens += sum(a == b for a, b in zip(ids, want))
            print(json.dumps({'model': name, 'dtype': dtype, 'activations': activations, 'args': extra,
                              'cases': len(cases), 'identical_sequences': identical,
                              'tokens_equal_position_wise': same_tokens, 'tokens': total}))


if __name__ == '__main__':
    main()
