#!/usr/bin/env python3
"""The Python client as a package: the committed protobuf/gRPC modules in client/python/src/lip/v1 are
what client/python/generate_stubs.sh makes from proto/ today (regenerate them when this fails), and
`pip install` of client/python into a fresh virtual environment with the system site packages works
offline (no package index; Debian's setuptools, grpcio and protobuf) and imports from there.

usage: test_python_client_package.py
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PACKAGE = os.path.join(ROOT, "client", "python")
STUBS = os.path.join(PACKAGE, "src", "lip", "v1")


class PythonClientPackageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lip-pypkg-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_committed_stubs_match_the_protos(self):
        out = os.path.join(self.tmp, "gen")
        subprocess.run(["bash", os.path.join(PACKAGE, "generate_stubs.sh"), out], check=True, timeout=120)
        fresh = os.path.join(out, "lip", "v1")
        generated = sorted(f for f in os.listdir(fresh) if f.endswith((".py", ".pyi")))
        committed = sorted(f for f in os.listdir(STUBS) if "_pb2" in f)
        self.assertEqual(generated, committed,
                         "client/python/src/lip/v1 is out of date: bash client/python/generate_stubs.sh")
        for name in generated:
            self.assertTrue(filecmp.cmp(os.path.join(fresh, name), os.path.join(STUBS, name), shallow=False),
                            f"{name} is out of date: bash client/python/generate_stubs.sh")

    def test_pip_installs_offline_into_a_venv(self):
        source = os.path.join(self.tmp, "src")  # a copy: pip builds in tree and must not touch the checkout
        shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        venv = os.path.join(self.tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True, timeout=120)
        python = os.path.join(venv, "bin", "python")
        install = subprocess.run(
            [python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--disable-pip-version-check",
             source], capture_output=True, text=True, timeout=300)
        self.assertEqual(install.returncode, 0, install.stdout + install.stderr)
        probe = ("import lip, lip.v1.sender_pb2_grpc as s, lip.v1.registry_pb2_grpc as r; "
                 "print(lip.__file__); print(lip.__version__); "
                 "assert s.SenderStub and r.RegistryStub; "
                 "print(lip.classify([' a', ' b']).classify.labels[1])")
        run = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=self.tmp, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        self.assertTrue(lines[0].startswith(venv), f"lip imported from {lines[0]}, not the venv")
        self.assertEqual(lines[2], " b")
        for name in ("py.typed", os.path.join("v1", "sender_pb2.pyi")):
            self.assertTrue(os.path.isfile(os.path.join(os.path.dirname(lines[0]), name)), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
