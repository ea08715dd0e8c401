"""Real LIP nodes for Python tests: a registry, a receiver and a sender (the shipped demo model pair and
the shipped demo-sst2 bridge) as child processes on 127.0.0.1 with fresh mutual-TLS certificates from
deploy/certs/make_certs.sh. Every wait is bounded; stop() (also on a failed start) terminates them.

    parser = argparse.ArgumentParser(); lip_nodes.add_binary_args(parser)
    nodes = lip_nodes.LipNodes(lip_nodes.binaries(parser.parse_args()))
    nodes.start()
    nodes.address("sender"), nodes.metrics_port("receiver"), nodes.certs (make_certs.sh output)
    nodes.stop()
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEMO_BRIDGE = os.path.join(ROOT, "demo", "bridges", "demo-sst2")
SENDER_MODEL = os.path.join(ROOT, "demo", "models", "sender-llama")
RECEIVER_MODEL = os.path.join(ROOT, "demo", "models", "receiver-qwen2")
SENDER_MODEL_NAME = "lip-demo/sender-llama"
RECEIVER_MODEL_NAME = "lip-demo/receiver-qwen2"
START_TIMEOUT_S = 90


def add_binary_args(parser):
    """--registry-binary, --receiver-binary, --sender-binary, --lipctl (CTest passes the built targets)."""
    for name in ("registry-binary", "receiver-binary", "sender-binary", "lipctl"):
        parser.add_argument(f"--{name}", required=True)


def binaries(args):
    return {"registry": args.registry_binary, "receiver": args.receiver_binary,
            "sender": args.sender_binary, "lipctl": args.lipctl}


def demo_files_present():
    """True when the demo models and bridge are checked out (they are in the repository)."""
    return all(os.path.isdir(d) for d in (DEMO_BRIDGE, SENDER_MODEL, RECEIVER_MODEL))


class NodeStartError(RuntimeError):
    pass


class LipNodes:
    def __init__(self, binaries):
        """binaries: dict with 'registry', 'receiver', 'sender', 'lipctl' paths."""
        self.binaries = binaries
        self.work = tempfile.mkdtemp(prefix="lip-pytest-")
        self.certs = os.path.join(self.work, "certs")
        self.procs = {}
        self.listening = {}

    # -- ports -----------------------------------------------------------------------------------
    def port(self, name):
        return int(self.listening[name]["port"])

    def metrics_port(self, name):
        return int(self.listening[name]["metrics_port"])

    def address(self, name):
        return f"127.0.0.1:{self.port(name)}"

    def tls_flags(self, identity):
        return [f"--tls_cert={self.certs}/{identity}.crt", f"--tls_key={self.certs}/{identity}.key",
                f"--tls_ca={self.certs}/ca.crt"]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "certs", "make_certs.sh"), self.certs],
                       check=True, capture_output=True, timeout=60)
        self._spawn("registry", self.binaries["registry"],
                    ["--listen=127.0.0.1:0", f"--data_dir={self.work}/registry"] + self.tls_flags("registry"))
        admin = ["--cert", f"{self.certs}/admin.crt", "--key", f"{self.certs}/admin.key",
                 "--ca", f"{self.certs}/ca.crt"]
        upload = subprocess.run([self.binaries["lipctl"], "registry", "upload", DEMO_BRIDGE,
                                 "--registry", self.address("registry")] + admin,
                                capture_output=True, text=True, timeout=60)
        if upload.returncode != 0:
            raise NodeStartError(f"lipctl registry upload failed: {upload.stderr.strip()}")
        common = ["--listen=127.0.0.1:0", f"--registry={self.address('registry')}", "--bridge=demo-sst2"]
        self._spawn("receiver", self.binaries["receiver"],
                    common + ["--node_id=receiver-1", f"--data_dir={self.work}/receiver",
                              f"--model_dir={RECEIVER_MODEL}"] + self.tls_flags("receiver"))
        self._spawn("sender", self.binaries["sender"],
                    common + ["--node_id=sender-1", f"--data_dir={self.work}/sender",
                              f"--model_dir={SENDER_MODEL}", "--link_report_ms=200"] + self.tls_flags("sender"))

    def _spawn(self, name, binary, args):
        out_path = os.path.join(self.work, f"{name}.out")
        log_path = os.path.join(self.work, f"{name}.log")
        with open(out_path, "wb") as out, open(log_path, "wb") as log:
            proc = subprocess.Popen([binary] + args, stdout=out, stderr=log, stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(out_path) as f:
                for line in f:
                    if '"event":"listening"' in line:
                        self.listening[name] = json.loads(line)
                        return
            if proc.poll() is not None:
                raise NodeStartError(f"{name} exited with {proc.returncode} during start-up: {self._log_tail(name)}")
            time.sleep(0.1)
        raise NodeStartError(f"{name} did not start within {START_TIMEOUT_S} s: {self._log_tail(name)}")

    def _log_tail(self, name, lines=5):
        try:
            with open(os.path.join(self.work, f"{name}.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM every node (senders first), wait up to 15 s each, SIGKILL stragglers; returns exit codes."""
        codes = {}
        for name in ("sender", "receiver", "registry"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(timeout=5)
        self.procs = {}
        if not os.environ.get("LIP_KEEP_TEST_DIR"):
            shutil.rmtree(self.work, ignore_errors=True)
        return codes
