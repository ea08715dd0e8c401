#!/usr/bin/env python3
"""Plots a `lipctl bench run` result: latency (p50, with p99 as a dashed line) against throughput, one
curve per path, closed-loop levels as circles labelled with their concurrency, open-loop (Poisson)
levels as squares. Log-log axes, since the paths differ by orders of magnitude.

    python3 benchmarks/plot_load_test.py SUMMARY.json OUT.png

Needs Debian's python3-matplotlib (deploy/setup.sh installs it)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"latent": "tab:blue", "text_relay": "tab:red", "direct_text": "tab:green"}
NAMES = {"latent": "latent (soft tokens)", "text_relay": "text relay (sender writes)",
         "direct_text": "direct text (original text)"}


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: plot_load_test.py SUMMARY.json OUT.png")
    result = json.load(open(argv[1]))
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for path in result["paths"]:
        levels = [m for m in result["measurements"] if m["path"] == path and m["answered_by_status"].get("OK")]
        color = COLORS.get(path, None)
        closed = sorted((m for m in levels if m["mode"] == "closed_loop"), key=lambda m: m["concurrency"])
        opened = [m for m in levels if m["mode"] != "closed_loop"]
        if closed:
            x = [m["throughput_msg_s"] for m in closed]
            ax.plot(x, [m["p50_ms"] for m in closed], "o-", color=color, label=f"{NAMES.get(path, path)} p50")
            ax.plot(x, [m["p99_ms"] for m in closed], "--", color=color, alpha=0.6, label=f"{NAMES.get(path, path)} p99")
            for m in closed:
                ax.annotate(f"c={m['concurrency']}", (m["throughput_msg_s"], m["p50_ms"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=color)
        if opened:
            ax.plot([m["throughput_msg_s"] for m in opened], [m["p50_ms"] for m in opened], "s", color=color,
                    markerfacecolor="none", label=f"{NAMES.get(path, path)} open loop p50")
            for m in opened:
                ax.annotate(f"{m['rate_msg_s']:.3g}/s", (m["throughput_msg_s"], m["p50_ms"]),
                            textcoords="offset points", xytext=(4, -10), fontsize=7, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("throughput (OK answers per second)")
    ax.set_ylabel("latency per message (ms)")
    tokens = result.get("config", {}).get("generate_tokens")
    ax.set_title(f"LIP load test: latency vs throughput (text relay: {tokens} tokens)\n"
                 f"{result.get('device', '')}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=120)
    print(f"  plot: {argv[2]}")


if __name__ == "__main__":
    main(sys.argv)
