#!/usr/bin/env python3
"""Plot of benchmarks/split_computing.sh's summary.json: per link profile and path, the median
latency (with p99 as a whisker), the bytes on the link per message and the throughput.

    plot_split_computing.py SUMMARY.json OUT.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PATHS = [("latent", "latent (8 soft tokens)", "tab:blue"), ("text_relay", "text relay", "tab:orange"),
         ("direct_text", "direct text", "tab:green"),
         ("latent_named_receiver", "latent, receiver named (no registry call)", "tab:cyan")]


def main(summary_path, out_path):
    summary = json.load(open(summary_path))
    profiles = list(summary["profiles"])
    paths = [p for p in PATHS if all(p[0] in summary["profiles"][n] for n in profiles)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    width = 0.8 / max(1, len(paths))
    panels = [("p50_ms", "latency at 1 in flight, ms (bar p50, whisker p99)", True),
              ("link_bytes_per_message", "bytes on the link per message (both ways)", True),
              ("throughput_msg_s", "throughput, msg/s (best closed-loop level)", False)]
    for ax, (key, title, log) in zip(axes, panels):
        for i, (path, label, color) in enumerate(paths):
            xs = [j + (i - (len(paths) - 1) / 2) * width for j in range(len(profiles))]
            values = [summary["profiles"][n][path][key] or 0 for n in profiles]
            ax.bar(xs, values, width, label=label, color=color)
            if key == "p50_ms":
                p99 = [summary["profiles"][n][path]["p99_ms"] or 0 for n in profiles]
                ax.errorbar(xs, values, yerr=[[0] * len(values), [max(0, b - a) for a, b in zip(values, p99)]],
                            fmt="none", ecolor="black", capsize=3, linewidth=1)
        names = []
        for n in profiles:
            link = summary["profiles"][n]["link"]
            rate = link["rate_bit_s"]
            rate_text = f"{rate / 1e9:g} Gbit/s" if rate >= 1e9 else f"{rate / 1e6:g} Mbit/s"
            names.append(f"{n}\n{rate_text}, {link['rtt_ms']:g} ms\n{link['loss_pct_each_way']:g} % loss")
        ax.set_xticks(range(len(profiles)))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    kind = summary.get("link", {}).get("kind", "")
    fig.suptitle(f"Split computing: sender on 1 edge CPU, receiver across the link ({kind})", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out_path, dpi=110)
    print(f"plot: {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
