#!/usr/bin/env python3
"""The Python client (client/python, package `lip`) against real nodes: a registry, a receiver and a
sender started from the build with fresh mutual-TLS certificates on 127.0.0.1, serving the shipped
demo-sst2 bridge. Covers registry look-ups, Send / Encode / RelayText / SendFanOut through the sender, SendLatent and
StreamLatents straight to the receiver (with a corrupted packet in the stream), SendText, and the TLS
and role errors a caller sees.

usage: test_python_client.py --registry-binary P --receiver-binary P --sender-binary P --lipctl P
       (Debian's python3-grpcio and python3-protobuf)
"""
import argparse
import json
import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "client", "python", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import lip  # noqa: E402
import lip_nodes  # noqa: E402

ARGS = None
TEXTS = [
    "a gorgeous, witty, seductive movie.",
    "the plot is nothing but boilerplate clichés from start to finish.",
    "an utterly charming and hilarious film that reaches across generations.",
]
LABELS = {" negative", " positive"}


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not lip_nodes.demo_files_present():
            raise unittest.SkipTest("demo models or demo-sst2 bridge missing")
        cls.nodes = lip_nodes.LipNodes(lip_nodes.binaries(ARGS))
        cls.nodes.start()
        cls.admin = lip.TlsOptions.from_dir(cls.nodes.certs, "admin")
        cls.as_sender = lip.TlsOptions.from_dir(cls.nodes.certs, "sender")
        cls.sender = lip.SenderClient.connect(cls.nodes.address("sender"), tls=cls.admin, timeout_s=60)
        cls.receiver = lip.ReceiverClient.connect(cls.nodes.address("receiver"), tls=cls.as_sender, timeout_s=60)
        cls.registry = lip.RegistryClient.connect(cls.nodes.address("registry"), tls=cls.admin, timeout_s=30)

    @classmethod
    def tearDownClass(cls):
        if not hasattr(cls, "nodes"):
            return
        for client in (cls.sender, cls.receiver, cls.registry):
            client.close()
        codes = cls.nodes.stop()
        assert all(code == 0 for code in codes.values()), f"nodes did not stop cleanly: {codes}"

    def test_registry_lists_nodes_and_resolves_the_bridge(self):
        nodes = self.registry.list_nodes(alive_only=True)
        by_id = {node.node_id: node for node in nodes}
        self.assertIn("sender-1", by_id)
        self.assertIn("receiver-1", by_id)
        self.assertEqual(by_id["receiver-1"].role, lip.RECEIVER)
        self.assertEqual(by_id["receiver-1"].address, self.nodes.address("receiver"))
        self.assertEqual([n.node_id for n in self.registry.list_nodes(lip.SENDER)], ["sender-1"])
        found = self.registry.find_node(lip.RECEIVER, bridge="demo-sst2")
        self.assertIsNotNone(found)
        self.assertEqual(found.node_id, "receiver-1")
        self.assertIsNone(self.registry.find_node(lip.RECEIVER, bridge="no-such-bridge"))

        record = self.registry.resolve_bridge(lip.model_id(lip_nodes.SENDER_MODEL_NAME),
                                              lip.model_id(lip_nodes.RECEIVER_MODEL_NAME))
        self.assertEqual(record.id.name, "demo-sst2")
        self.assertTrue(record.id.digest.startswith("sha256:"))
        self.assertEqual([b.id.name for b in self.registry.list_bridges("demo-sst2")], ["demo-sst2"])
        with self.assertRaises(lip.LipError) as caught:
            self.registry.resolve_bridge(lip.model_id("nobody/model"), lip.model_id(lip_nodes.RECEIVER_MODEL_NAME))
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_send_through_the_sender_answers_with_a_bridge_label(self):
        reply = self.sender.send(TEXTS[0], conversation_id="py-send", sequence=3)
        self.assertIn(lip.answer_text(reply.answer), LABELS)
        self.assertEqual(reply.answer.conversation_id, "py-send")
        self.assertEqual(reply.answer.sequence, 3)
        self.assertEqual(reply.receiver_address, self.nodes.address("receiver"))
        self.assertGreater(reply.wire_bytes, 0)
        self.assertEqual(reply.text_bytes, len(TEXTS[0].encode()))
        self.assertGreater(reply.timings.total_ms, 0)
        # An explicit task and wire type: int8 packets are smaller than the fp16 default.
        int8 = self.sender.send(TEXTS[0], task=lip.classify([" bad", " good"]), wire_dtype=lip.DTYPE_INT8)
        self.assertIn(lip.answer_text(int8.answer), {" bad", " good"})
        self.assertLess(int8.wire_bytes, reply.wire_bytes)

    def test_relay_text_sends_what_the_sender_wrote(self):
        relay = self.sender.relay_text(TEXTS[1], max_new_tokens=8)
        self.assertIn(lip.answer_text(relay.answer), LABELS)
        self.assertEqual(relay.wire_bytes, len(relay.relayed_text.encode()))
        self.assertNotEqual(relay.relayed_text, TEXTS[1])

    def test_encoded_packets_go_straight_to_the_receiver(self):
        encoded = self.sender.encode(TEXTS[2], conversation_id="py-direct", sequence=0)
        packet = encoded.packet
        self.assertEqual(len(packet.packet_id), 16)
        self.assertEqual(packet.bridge.name, "demo-sst2")
        direct = self.receiver.send_latent(packet)
        # The same packet through the sender's Send gives the same answer (deterministic pipeline).
        via_sender = self.sender.send(TEXTS[2])
        self.assertEqual(lip.answer_text(direct), lip.answer_text(via_sender.answer))
        self.assertEqual(direct.packet_id, packet.packet_id)

        text_answer = self.receiver.send_text(TEXTS[2])
        self.assertIn(lip.answer_text(text_answer), LABELS)

    def test_a_corrupted_packet_is_refused_with_a_reason(self):
        packet = self.sender.encode(TEXTS[0]).packet
        data = bytearray(packet.tensor.data)
        data[0] ^= 0x01
        packet.tensor.data = bytes(data)
        with self.assertRaises(lip.LipError) as caught:
            self.receiver.send_latent(packet)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.reason, "CHECKSUM_MISMATCH")

    def test_stream_answers_every_packet_and_keeps_going_past_a_bad_one(self):
        packets = [self.sender.encode(text, conversation_id="py-stream", sequence=i).packet
                   for i, text in enumerate(TEXTS)]
        bad = packets[1].__class__()
        bad.CopyFrom(packets[1])
        bad.sequence = 99
        bad.tensor.crc32c ^= 0xFFFF
        answers = list(self.receiver.stream_latents(packets + [bad]))
        self.assertEqual(len(answers), 4)
        by_sequence = {a.sequence: a for a in answers}
        self.assertEqual(sorted(by_sequence), [0, 1, 2, 99])
        for i in range(3):
            self.assertEqual(by_sequence[i].conversation_id, "py-stream")
            self.assertIn(lip.answer_text(by_sequence[i]), LABELS)
        with self.assertRaises(lip.LipError) as caught:
            lip.answer_text(by_sequence[99])
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.reason, "CHECKSUM_MISMATCH")

    def test_fan_out_answers_per_receiver_and_jointly(self):
        with open(os.path.join(ROOT, "demo", "bridges", "demo-sst2", "bridge.json"), encoding="utf-8") as f:
            receiver_model = json.load(f)["receiver_model"]["name"]
        reply = self.sender.send_fan_out(TEXTS[0], [receiver_model])
        self.assertEqual(len(reply.outcomes), 1)
        outcome = reply.outcomes[0]
        self.assertTrue(outcome.HasField("answer"), outcome.error.message)
        self.assertEqual(outcome.receiver_model.name, receiver_model)
        self.assertGreater(outcome.wire_bytes, 0)
        self.assertEqual(reply.joint.receivers, 1)
        self.assertEqual(reply.joint.label, lip.answer_text(outcome.answer))  # one receiver: its own answer
        self.assertEqual(reply.joint.label, lip.answer_text(self.sender.send(TEXTS[0]).answer))
        # Bad fan-outs are refused before anything is sent.
        for models in ([], [receiver_model, receiver_model], ["no-such-receiver-model"]):
            with self.assertRaises(lip.LipError) as caught:
                self.sender.send_fan_out(TEXTS[0], models)
            self.assertIn(caught.exception.code, (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND))
        with self.assertRaises(ValueError):
            self.sender.send_fan_out(TEXTS[0], [receiver_model], receiver_addresses=["a:1", "b:2"])

    def test_tls_and_role_errors(self):
        # The admin certificate may not call a receiver (only senders may).
        with lip.ReceiverClient.connect(self.nodes.address("receiver"), tls=self.admin) as receiver:
            with self.assertRaises(lip.LipError) as caught:
                receiver.send_text(TEXTS[0])
            self.assertEqual(caught.exception.code, grpc.StatusCode.PERMISSION_DENIED)
        # A certificate from another CA fails the handshake.
        rogue = lip.TlsOptions(ca_file=self.admin.ca_file, cert_file=f"{self.nodes.certs}/rogue-admin.crt",
                               key_file=f"{self.nodes.certs}/rogue-admin.key")
        with lip.SenderClient.connect(self.nodes.address("sender"), tls=rogue, timeout_s=10) as sender:
            with self.assertRaises(lip.LipError) as caught:
                sender.send(TEXTS[0])
            self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        with self.assertRaises(FileNotFoundError):
            lip.SenderClient.connect(self.nodes.address("sender"),
                                     tls=lip.TlsOptions.from_dir(self.nodes.certs, "nobody"))
        with self.assertRaises(ValueError):
            lip.SenderClient.connect(self.nodes.address("sender"))  # neither tls nor insecure
        # Bad input is refused with a clear error; the node keeps serving.
        with self.assertRaises(lip.LipError) as caught:
            self.sender.send("")
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(lip.answer_text(self.sender.send(TEXTS[0]).answer), LABELS)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    lip_nodes.add_binary_args(parser)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
