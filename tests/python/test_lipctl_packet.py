#!/usr/bin/env python3
"""End-to-end test of `lipctl packet encode|inspect|decode` on the sample
tensor: every dtype encodes with a bounded round-trip error, the packet it
writes decodes in the independent Python decoder to the same values, and bad
packets make `inspect` exit 1 with the reason in its JSON.

usage: test_lipctl_packet.py --lipctl PATH --proto-python-dir DIR
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import lip_v1_decoder  # beside this file

ARGS = None
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SAMPLE = os.path.join(ROOT, "tests", "data", "lip-v1", "sample_soft_tokens_8x512.npy")
GOLDEN = os.path.join(ROOT, "tests", "data", "lip-v1")


def read_npy_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    header_len = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + header_len].decode("latin1")
    assert "'<f4'" in header, header
    payload = data[10 + header_len:]
    return list(struct.unpack(f"<{len(payload) // 4}f", payload))


class LipctlPacketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.decoder = lip_v1_decoder
        cls.pb2 = lip_v1_decoder.import_packet_pb2(ARGS.proto_python_dir)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.sample = read_npy_f32(SAMPLE)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def lipctl(self, *args):
        return subprocess.run([ARGS.lipctl, *args], capture_output=True, text=True)

    def test_encode_every_dtype_then_inspect_and_decode(self):
        bound = {"fp32": 0.0, "fp16": 2e-2, "bf16": 0.2, "int8": 0.25}  # max abs error for |x| <= 56
        sizes = {}
        for dtype in ("fp32", "fp16", "bf16", "int8"):
            with self.subTest(dtype=dtype):
                out = os.path.join(self.tmp.name, f"{dtype}.bin")
                r = self.lipctl("packet", "encode", "--input", SAMPLE, "--dtype", dtype, "--out", out,
                                "--labels", "world,sports,business,sci/tech", "--sender", "test/sender")
                self.assertEqual(r.returncode, 0, r.stderr)
                report = json.loads(r.stdout)
                self.assertEqual((report["rows"], report["cols"]), (8, 512))
                self.assertEqual(report["wire_bytes"], os.path.getsize(out))
                self.assertLessEqual(report["round_trip"]["max_abs_error"], bound[dtype])
                sizes[dtype] = report["wire_bytes"]
                # The independent decoder agrees with the C++ round trip.
                with open(out, "rb") as f:
                    packet, values = self.decoder.decode(f.read(), self.pb2)
                self.assertEqual(list(packet.task.classify.labels), ["world", "sports", "business", "sci/tech"])
                err = max(abs(a - b) for a, b in zip(values, self.sample))
                self.assertAlmostEqual(err, report["round_trip"]["max_abs_error"], places=6)

                r = self.lipctl("packet", "inspect", out, "--compare", SAMPLE)
                self.assertEqual(r.returncode, 0, r.stderr)
                inspected = json.loads(r.stdout)
                self.assertTrue(inspected["valid"])
                self.assertEqual(inspected["header"]["sender_model"]["name"], "test/sender")
                self.assertEqual(inspected["header"]["tensor"]["dtype"], "DTYPE_" + dtype.upper())
                self.assertEqual(inspected["header"]["soft_token_count"], 8)

                npy = os.path.join(self.tmp.name, f"{dtype}.npy")
                r = self.lipctl("packet", "decode", out, "--out", npy)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(read_npy_f32(npy), values)
        # M*d*size payload plus a header of a few hundred bytes.
        for dtype, size in (("fp32", 4), ("fp16", 2), ("bf16", 2), ("int8", 1)):
            self.assertGreater(sizes[dtype], 8 * 512 * size)
            self.assertLess(sizes[dtype], 8 * 512 * size + 512)

    def test_inspect_refuses_bad_packets_with_reason(self):
        expected = json.load(open(os.path.join(GOLDEN, "expected.json"), encoding="utf-8"))
        for case in (c for c in expected["cases"] if not c["valid"]):
            with self.subTest(file=case["file"]):
                r = self.lipctl("packet", "inspect", os.path.join(GOLDEN, case["file"]))
                self.assertEqual(r.returncode, 1, r.stderr)
                report = json.loads(r.stdout)
                self.assertFalse(report["valid"])
                self.assertEqual(report["reason"], case["reason"])
                self.assertEqual(report["code"], case["code"])
                self.assertIn(case["reason"], r.stderr)

    def test_raw_fp32_input_and_generate_task(self):
        raw = os.path.join(self.tmp.name, "tensor.f32")
        with open(raw, "wb") as f:
            f.write(struct.pack("<6f", 1, -2, 3.5, 0, 0.25, -0.125))
        out = os.path.join(self.tmp.name, "raw.bin")
        r = self.lipctl("packet", "encode", "--input", raw, "--rows", "2", "--cols", "3", "--dtype", "fp32",
                        "--max-new-tokens", "16", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            packet, values = self.decoder.decode(f.read(), self.pb2)
        self.assertEqual(values, [1, -2, 3.5, 0, 0.25, -0.125])
        self.assertEqual(packet.task.generate.max_new_tokens, 16)
        r = self.lipctl("packet", "encode", "--input", raw, "--rows", "4", "--cols", "3", "--out", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected rows*cols*4", r.stderr)

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.lipctl().returncode, 2)
        self.assertEqual(self.lipctl("packet", "frobnicate").returncode, 2)
        r = self.lipctl("packet", "encode", "--input", SAMPLE, "--out", "x.bin", "--dtype", "fp8")
        self.assertEqual(r.returncode, 2)
        self.assertIn("fp8", r.stderr)
        self.assertEqual(self.lipctl("packet", "inspect", "/nonexistent/packet.bin").returncode, 2)
        self.assertEqual(self.lipctl("help").returncode, 0)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--lipctl", required=True)
    parser.add_argument("--proto-python-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
