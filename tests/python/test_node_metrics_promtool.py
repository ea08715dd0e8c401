#!/usr/bin/env python3
"""Every node's /metrics is valid Prometheus text exposition: a registry, a receiver and a sender run
as real processes (mutual TLS on 127.0.0.1, the demo pair and demo-sst2 bridge), one message goes
through them so that every kind of metric has samples, and `promtool check metrics` (Debian package
`prometheus`, installed by deploy/setup.sh) must parse each node's /metrics with no lint finding other
than the known one on the millisecond metric names (KNOWN_LINT below).

usage: test_node_metrics_promtool.py --registry-binary P --receiver-binary P --sender-binary P --lipctl P
"""
import argparse
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "client", "python", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lip  # noqa: E402
import lip_nodes  # noqa: E402

ARGS = None
# A few names each node must export (docs/nodes.md lists them all).
EXPECTED = {
    "registry": ["lip_rpc_requests_total", "lip_rpc_latency_ms_bucket", "lip_registry_bridges"],
    "receiver": ["lip_rpc_requests_total", "lip_stage_ms_bucket", "lip_receiver_wire_bytes_total"],
    "sender": ["lip_rpc_requests_total", "lip_stage_ms_bucket", "lip_sender_wire_bytes_total"],
}


# promtool's linter wants base units ("metric names should not contain abbreviated units") for these
# *_ms names; the names are LIP's published interface (docs/nodes.md) and stay as they are. Any other
# finding, or one on another name, fails the test.
MS_NAMES = ["lip_rpc_latency_ms", "lip_stage_ms", "lip_registry_link_latency_ms_max",
            "lip_registry_link_latency_ms_mean", "lip_registry_link_latency_ms_sum_total"]
KNOWN_LINT = {f"{name} metric names should not contain abbreviated units" for name in MS_NAMES}


def fetch_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200, response.status
        return response.headers.get("Content-Type", ""), response.read()


class NodeMetricsPromtoolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.promtool = shutil.which("promtool")
        if cls.promtool is None:
            raise AssertionError("promtool not found: deploy/setup.sh installs Debian's `prometheus` package")
        if not lip_nodes.demo_files_present():
            raise unittest.SkipTest("demo models or demo-sst2 bridge missing")
        cls.nodes = lip_nodes.LipNodes(lip_nodes.binaries(ARGS))
        cls.nodes.start()
        tls = lip.TlsOptions.from_dir(cls.nodes.certs, "admin")
        with lip.SenderClient.connect(cls.nodes.address("sender"), tls=tls) as sender:
            sender.send("a gorgeous, witty, seductive movie.")
            try:  # an error code in the counters too
                sender.send("")
            except lip.LipError:
                pass
            else:
                raise AssertionError("the sender accepted an empty text")
        time.sleep(0.5)  # the sender's link report (every 200 ms) reaches the registry

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "nodes"):
            cls.nodes.stop()

    def check(self, node):
        content_type, body = fetch_metrics(self.nodes.metrics_port(node))
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        text = body.decode()
        for name in EXPECTED[node]:
            self.assertIn(f"\n{name}", "\n" + text, f"{node} /metrics lacks {name}")
        result = subprocess.run([self.promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
        report = (result.stdout + result.stderr).decode()
        # Exit 1: the exposition does not parse. Exit 3: it parses, with lint findings; the only ones
        # accepted are the known millisecond names (see KNOWN_LINT), nothing new.
        self.assertIn(result.returncode, (0, 3), f"promtool cannot parse {node} /metrics:\n{report}")
        findings = {line.strip() for line in report.splitlines() if line.strip()}
        unexpected = findings - KNOWN_LINT
        self.assertFalse(unexpected, f"promtool lint findings on {node} /metrics:\n" + "\n".join(sorted(unexpected)))
        if result.returncode == 3:
            self.assertTrue(findings, f"promtool exited 3 without findings: {report}")

    def test_registry_metrics(self):
        self.check("registry")

    def test_receiver_metrics(self):
        self.check("receiver")

    def test_sender_metrics(self):
        self.check("sender")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    lip_nodes.add_binary_args(parser)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
