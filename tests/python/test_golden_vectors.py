#!/usr/bin/env python3
"""Decodes the LIP v1 golden vectors (tests/data/lip-v1/) with the independent
Python decoder and checks every header field and value against expected.json.

usage: test_golden_vectors.py --proto-python-dir DIR [--golden-dir DIR]
(DIR holds lip/v1/packet_pb2.py from `protoc --python_out`; CTest passes it.)
"""
import argparse
import json
import math
import os
import struct
import sys
import unittest

import lip_v1_decoder  # beside this file

ARGS = None


def same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


class GoldenVectorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.decoder = lip_v1_decoder
        cls.pb2 = lip_v1_decoder.import_packet_pb2(ARGS.proto_python_dir)
        with open(os.path.join(ARGS.golden_dir, "expected.json"), encoding="utf-8") as f:
            cls.expected = json.load(f)

    def read(self, name):
        with open(os.path.join(ARGS.golden_dir, name), "rb") as f:
            return f.read()

    def test_crc32c_check_value(self):
        self.assertEqual(self.decoder.crc32c(b"123456789"), 0xE3069283)

    def test_every_dtype_is_covered(self):
        dtypes = {c["dtype"] for c in self.expected["cases"] if c["valid"]}
        self.assertEqual(dtypes, {"DTYPE_FP32", "DTYPE_FP16", "DTYPE_BF16", "DTYPE_INT8"})

    def test_valid_packets_decode_to_expected_values(self):
        for case in (c for c in self.expected["cases"] if c["valid"]):
            with self.subTest(file=case["file"]):
                packet, values = self.decoder.decode(self.read(case["file"]), self.pb2)
                self.assertEqual(packet.version.major, case["version"]["major"])
                self.assertEqual(packet.version.minor, case["version"]["minor"])
                self.assertEqual(packet.packet_id.hex(), case["packet_id_hex"])
                self.assertEqual(packet.conversation_id, case["conversation_id"])
                self.assertEqual(packet.sequence, case["sequence"])
                self.assertEqual(packet.created_unix_nanos, case["created_unix_nanos"])
                for key in ("family", "name", "revision", "weights_digest"):
                    self.assertEqual(getattr(packet.sender_model, key), case["sender_model"][key])
                self.assertEqual([r.name for r in packet.receiver_models], case["receiver_model_names"])
                self.assertEqual(packet.bridge.name, case["bridge"]["name"])
                self.assertEqual(packet.bridge.version, case["bridge"]["version"])
                self.assertEqual(packet.bridge.digest, case["bridge"]["digest"])
                self.assertEqual(packet.source_layer, case["source_layer"])
                self.assertEqual(packet.soft_token_count, case["soft_token_count"])
                self.assertEqual(packet.soft_token_width, case["soft_token_width"])
                cal = case["calibration"]
                self.assertEqual(packet.calibration.source_rms, cal["source_rms"])
                self.assertEqual(packet.calibration.source_mean_norm, cal["source_mean_norm"])
                self.assertEqual(self.pb2.EnergyMode.Name(packet.calibration.energy_mode), cal["energy_mode"])
                self.assertEqual(packet.calibration.target_reference_energy, cal["target_reference_energy"])
                self.assertEqual(packet.priming.context_prefix, case["priming"]["context_prefix"])
                self.assertEqual(packet.priming.anchor, case["priming"]["anchor"])
                kind = packet.task.WhichOneof("kind")
                self.assertEqual(kind, case["task"]["kind"])
                if kind == "classify":
                    self.assertEqual(list(packet.task.classify.labels), case["task"]["labels"])
                else:
                    g = packet.task.generate
                    self.assertEqual(g.max_new_tokens, case["task"]["max_new_tokens"])
                    self.assertEqual(g.temperature, case["task"]["temperature"])
                    self.assertEqual(g.top_p, case["task"]["top_p"])
                    self.assertEqual(g.seed, case["task"]["seed"])
                    self.assertEqual(list(g.stop), case["task"]["stop"])
                self.assertEqual(self.pb2.DType.Name(packet.tensor.dtype), case["dtype"])
                self.assertEqual(len(packet.tensor.data), case["data_bytes"])
                self.assertEqual(packet.tensor.crc32c, case["crc32c"])
                self.assertEqual(list(packet.tensor.scales), case["scales"])
                self.assertEqual(len(values), len(case["values"]))
                for i, (got, want) in enumerate(zip(values, case["values"])):
                    self.assertTrue(same_float(got, want), f"value {i}: got {got!r}, expected {want!r}")

    def test_unknown_fields_of_a_newer_minor_are_ignored(self):
        _, newer = self.decoder.decode(self.read("fp16_minor1_unknown_fields.bin"), self.pb2)
        _, base = self.decoder.decode(self.read("fp16_generate.bin"), self.pb2)
        self.assertEqual(newer, base)

    def test_bad_packets_are_refused_with_the_expected_reason(self):
        for case in (c for c in self.expected["cases"] if not c["valid"]):
            with self.subTest(file=case["file"]):
                with self.assertRaises(self.decoder.PacketError) as caught:
                    self.decoder.decode(self.read(case["file"]), self.pb2)
                self.assertEqual(caught.exception.reason, case["reason"])
                self.assertEqual(caught.exception.code, case["code"])

    def test_compact_requests_decode_in_order(self):
        """LIP 1.1 (tests/data/lip-v1.1/): the requests of one caller, decoded in order."""
        receiver_pb2 = self.decoder.import_receiver_pb2(ARGS.proto_python_dir)
        directory = os.path.join(os.path.dirname(ARGS.golden_dir), "lip-v1.1")
        with open(os.path.join(directory, "expected.json"), encoding="utf-8") as f:
            expected = json.load(f)
        headers = {}
        compact = 0
        for case in expected["requests"]:
            with self.subTest(file=case["file"]):
                with open(os.path.join(directory, case["file"]), "rb") as f:
                    wire = f.read()
                self.assertEqual(len(wire), case["request_bytes"])
                if not case["valid"]:
                    with self.assertRaises(self.decoder.PacketError) as caught:
                        self.decoder.decode_request(wire, receiver_pb2, self.pb2, headers)
                    self.assertEqual(caught.exception.reason, case["reason"])
                    self.assertEqual(caught.exception.code, case["code"])
                    continue
                packet, values, cached = self.decoder.decode_request(wire, receiver_pb2, self.pb2, headers)
                if case["kind"] == "compact":
                    compact += 1
                    self.assertLessEqual(case["message_bytes"], 232)
                self.assertEqual(cached, case["header_cached"])
                self.assertEqual(packet.packet_id.hex(), case["packet_id_hex"])
                self.assertEqual(packet.sequence, case["sequence"])
                self.assertEqual(packet.conversation_id, case["conversation_id"])
                self.assertEqual(packet.created_unix_nanos, case["created_unix_nanos"])
                self.assertEqual(packet.version.minor, case["version"]["minor"])
                self.assertEqual(packet.bridge.name, case["bridge_name"])
                self.assertEqual(self.pb2.EnergyMode.Name(packet.calibration.energy_mode), case["energy_mode"])
                self.assertEqual(list(packet.task.classify.labels), case["labels"])
                self.assertEqual(self.pb2.DType.Name(packet.tensor.dtype), case["dtype"])
                self.assertEqual(packet.tensor.crc32c, case["crc32c"])
                self.assertEqual(list(packet.tensor.scales), case["scales"])
                self.assertEqual(len(values), len(case["values"]))
                for i, (got, want) in enumerate(zip(values, case["values"])):
                    self.assertTrue(same_float(got, want), f"value {i}: got {got!r}, expected {want!r}")
        self.assertEqual(compact, 4)

    def test_int8_all_zero_row_has_scale_one(self):
        packet, values = self.decoder.decode(self.read("int8_classify.bin"), self.pb2)
        self.assertEqual(packet.tensor.scales[3], 1.0)
        self.assertEqual(values[24:32], [0.0] * 8)
        for r in range(3):  # scale = max|x| / 127 rounded to fp32
            self.assertGreater(packet.tensor.scales[r], 0.0)
            row = struct.unpack("<8b", packet.tensor.data[8 * r: 8 * r + 8])
            self.assertEqual(max(abs(q) for q in row), 127)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto-python-dir", required=True)
    parser.add_argument("--golden-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "..", "data", "lip-v1"))
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
