#!/usr/bin/env python3
"""Gathers one run of benchmarks/gpu_real_scale.sh (its OUT_DIR) into one summary.json of the load-test
schema (benchmarks/README.md), so that benchmarks/plot_load_test.py plots it:

    python3 benchmarks/real_shapes/collect.py OUT_DIR SUMMARY.json [--note TEXT]

- `measurements`: every level of every `lipctl bench run` of the run (e2e_*.json), each with device,
  model_shapes, path, transport, concurrency (or rate_msg_s for open-loop levels), messages,
  throughput_msg_s, p50/p95/p99_ms, answered_by_status, and the mean sender / receiver time;
- `paths`: per path, the totals of its own bench run;
- `speedups`: latent against text relay and direct text (p50 at concurrency 1, saturation throughput);
- `gpu_memory_mib`: per node (nvidia-smi's per-process use) with the nodes idle after loading and
  after each sweep;
- `model_bench` / `model_paths`: the `lip-model bench` and `lip-model paths` rows of the run."""
import csv
import glob
import json
import os
import sys


def gpu_memory(out_dir):
    """{"receiver": {"idle": MiB, ...}, "sender": {...}} from the nvidia-smi CSVs."""
    roles = {}
    idle = os.path.join(out_dir, "gpu_memory_idle.csv")
    if os.path.exists(idle):
        for line in open(idle):
            if line.startswith("receiver_pid="):
                for part in line.split():
                    role, pid = part.split("=")
                    roles[pid] = role.replace("_pid", "")
    memory = {}
    for moment in ("idle", "mid", "after"):
        path = os.path.join(out_dir, f"gpu_memory_{moment}.csv")
        if not os.path.exists(path):
            continue
        rows = list(csv.reader(open(path)))
        for row in rows[1:]:
            if len(row) < 3:
                continue
            pid, name, used = row[0].strip(), row[1].strip(), row[2].strip()
            role = roles.get(pid) or ("receiver" if "receiver" in name else "sender" if "sender" in name else name)
            memory.setdefault(role, {})[{"idle": "after_load", "mid": "after_latent_sweep",
                                         "after": "after_text_relay_sweep"}[moment]] = int(used.split()[0])
    return memory


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out_dir, dest = argv[1], argv[2]
    note = argv[argv.index("--note") + 1] if "--note" in argv else ""
    runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out_dir, "e2e_*.json")))]
    if not runs:
        sys.exit(f"collect.py: no e2e_*.json in {out_dir}")
    first = runs[0]
    summary = {k: first[k] for k in ("tool", "device", "models", "model_shapes", "transport", "started_utc")}
    summary["note"] = note
    summary["config"] = first["config"]
    summary["config"]["concurrency_by_path"] = {}
    summary["paths"], summary["measurements"] = {}, []
    for run in runs:
        for name, totals in run["paths"].items():
            summary["paths"][name] = totals
            summary["config"]["concurrency_by_path"][name] = run["config"]["concurrency"]
        summary["measurements"] += run["measurements"]
    summary["finished_utc"] = runs[-1].get("finished_utc")
    paths = summary["paths"]
    speedups = {}
    if "latent" in paths:
        lat = paths["latent"]
        for other in ("text_relay", "direct_text"):
            if other in paths and lat.get("p50_ms_c1") and paths[other].get("p50_ms_c1"):
                speedups[f"{other}_p50_c1_over_latent"] = round(paths[other]["p50_ms_c1"] / lat["p50_ms_c1"], 3)
            if other in paths and paths[other].get("saturation_throughput_msg_s"):
                speedups[f"latent_over_{other}_throughput"] = round(
                    lat["saturation_throughput_msg_s"] / paths[other]["saturation_throughput_msg_s"], 3)
    summary["speedups"] = speedups
    summary["all_answered"] = all(r.get("all_answered", False) for r in runs)
    summary["gpu_memory_mib"] = gpu_memory(out_dir)
    for name in ("model_bench", "model_paths"):
        path = os.path.join(out_dir, f"{name}.jsonl")
        summary[name] = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
        for row in summary[name]:  # machine paths of the run's copy say nothing here
            for key in ("config", "sender_config", "receiver_config"):
                if key in row:
                    row[key] = os.path.basename(os.path.dirname(row[key]))
    json.dump(summary, open(dest, "w"), indent=2)
    open(dest, "a").write("\n")
    print(f"collect.py: {len(summary['measurements'])} levels, {len(summary['model_bench'])} bench rows -> {dest}")


if __name__ == "__main__":
    main(sys.argv)
