"""SenderClient: text in, the receiver's answer out, through a sender node (latent packet or text relay)."""

from __future__ import annotations

from typing import Optional, Sequence

from lip._base import BaseClient
from lip.channel import ClientOptions
from lip.v1 import packet_pb2, sender_pb2, sender_pb2_grpc


class SenderClient(BaseClient):
    """Client of a sender node's ``lip.v1.Sender`` service.

    The certificate needs the ``admin`` or ``sender`` role. Every method raises LipError on failure
    (e.g. ``NOT_FOUND`` when no live receiver serves the sender's bridge, ``INVALID_ARGUMENT`` for an
    empty text).

        with SenderClient.connect("127.0.0.1:7002", tls=TlsOptions.from_dir("certs")) as sender:
            reply = sender.send("Stocks rally as the central bank holds rates")
            print(lip.answer_text(reply.answer), reply.wire_bytes, reply.timings.total_ms)
    """

    _service = "Sender"

    def __init__(self, options: ClientOptions):
        super().__init__(options)
        self._stub = sender_pb2_grpc.SenderStub(self._channel)

    def send(
        self,
        text: str,
        *,
        task: Optional[packet_pb2.Task] = None,
        priming: Optional[packet_pb2.Priming] = None,
        wire_dtype: packet_pb2.DType.ValueType = packet_pb2.DTYPE_UNSPECIFIED,
        receiver_model: Optional[packet_pb2.ModelId] = None,
        receiver_address: str = "",
        conversation_id: str = "",
        sequence: int = 0,
    ) -> sender_pb2.SendResponse:
        """Encodes ``text`` into a latent packet on the sender and sends it to a receiver.

        Args:
            text: the message (non-empty UTF-8).
            task: ``lip.classify([...])`` or ``lip.generate(...)``; ``None`` = the bridge's own labels.
            priming: context prefix and anchor; ``None`` = the bridge's trained prompts.
            wire_dtype: packet tensor type (``DTYPE_FP16``, ``DTYPE_INT8``, ...); unspecified = node default.
            receiver_model: whom the packet is for (selects the bridge); ``None`` = the sender's bridge.
            receiver_address: ``host:port`` of a receiver; ``""`` = resolve a live one through the registry.
            conversation_id, sequence: stamped on the packet and echoed in the answer.

        Returns:
            SendResponse: ``answer`` (the receiver's SendLatentResponse), ``timings`` per stage,
            ``wire_bytes`` (packet size), ``text_bytes`` and the ``receiver_address`` that answered.
        """
        request = sender_pb2.SendRequest(
            encode=self._encode_request(text, task, priming, wire_dtype, receiver_model, conversation_id, sequence),
            receiver_address=receiver_address,
        )
        return self._unary("Send", self._stub.Send, request)

    def encode(
        self,
        text: str,
        *,
        task: Optional[packet_pb2.Task] = None,
        priming: Optional[packet_pb2.Priming] = None,
        wire_dtype: packet_pb2.DType.ValueType = packet_pb2.DTYPE_UNSPECIFIED,
        receiver_model: Optional[packet_pb2.ModelId] = None,
        conversation_id: str = "",
        sequence: int = 0,
    ) -> sender_pb2.EncodeResponse:
        """Encodes ``text`` into a LIP packet without sending it (``response.packet``, ``encode_ms``).

        The packet can then go to a receiver with ReceiverClient.send_latent or stream_latents.
        Arguments as for send().
        """
        request = self._encode_request(text, task, priming, wire_dtype, receiver_model, conversation_id, sequence)
        return self._unary("Encode", self._stub.Encode, request)

    def send_fan_out(
        self,
        text: str,
        receiver_models: Sequence[str],
        *,
        receiver_addresses: Optional[Sequence[str]] = None,
        task: Optional[packet_pb2.Task] = None,
        priming: Optional[packet_pb2.Priming] = None,
        wire_dtype: packet_pb2.DType.ValueType = packet_pb2.DTYPE_UNSPECIFIED,
        conversation_id: str = "",
        sequence: int = 0,
    ) -> sender_pb2.SendFanOutResponse:
        """Fan-out (docs/protocol.md §13): encodes ``text`` once and sends every receiver model its own
        bridge's packet (bridges that share this sender's encoder), then rescores their answers jointly.

        Args:
            receiver_models: 1 to 16 distinct receiver model names, one target each.
            receiver_addresses: ``host:port`` per target, or ``""`` (or ``None`` for all) to resolve a
                live receiver of that model through the registry.
            text, task, priming, wire_dtype, conversation_id, sequence: as for send().

        Returns:
            SendFanOutResponse: ``outcomes`` in the targets' order, each with ``answer`` or ``error``
            (a failed receiver does not fail the call while another answered), and ``joint``: the
            receivers' label log-probs, each normalised over the labels, summed (classification only).
        """
        names = list(receiver_models)
        addresses = [""] * len(names) if receiver_addresses is None else list(receiver_addresses)
        if len(addresses) != len(names):
            raise ValueError(f"{len(names)} receiver models but {len(addresses)} receiver addresses")
        request = sender_pb2.SendFanOutRequest(
            encode=self._encode_request(text, task, priming, wire_dtype, None, conversation_id, sequence)
        )
        for name, address in zip(names, addresses):
            request.targets.add(receiver_model=packet_pb2.ModelId(name=name), receiver_address=address)
        return self._unary("SendFanOut", self._stub.SendFanOut, request)

    def relay_text(
        self,
        text: str,
        *,
        task: Optional[packet_pb2.Task] = None,
        max_new_tokens: int = 0,
        receiver_model: Optional[packet_pb2.ModelId] = None,
        receiver_address: str = "",
    ) -> sender_pb2.RelayTextResponse:
        """Text relay: the sender model *writes* a message about ``text`` and the receiver reads it.

        The sender prompts its model with the relay frame (docs/nodes.md) and generates up to
        ``max_new_tokens`` tokens (0 = the node's default, 32); what it wrote is
        ``response.relayed_text`` (it may be short or empty, and is answered all the same).
        ``response.wire_bytes`` is the UTF-8 size of what crossed the wire. To have the receiver
        read the original text itself (direct text), use ``ReceiverClient.send_text``.
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must not be negative, not {max_new_tokens}")
        request = sender_pb2.RelayTextRequest(
            text=text, max_new_tokens=max_new_tokens, receiver_address=receiver_address
        )
        if task is not None:
            request.task.CopyFrom(task)
        if receiver_model is not None:
            request.receiver_model.CopyFrom(receiver_model)
        return self._unary("RelayText", self._stub.RelayText, request)

    @staticmethod
    def _encode_request(
        text: str,
        task: Optional[packet_pb2.Task],
        priming: Optional[packet_pb2.Priming],
        wire_dtype: packet_pb2.DType.ValueType,
        receiver_model: Optional[packet_pb2.ModelId],
        conversation_id: str,
        sequence: int,
    ) -> sender_pb2.EncodeRequest:
        if sequence < 0:
            raise ValueError(f"sequence must not be negative, not {sequence}")
        request = sender_pb2.EncodeRequest(
            text=text, wire_dtype=wire_dtype, conversation_id=conversation_id, sequence=sequence
        )
        if task is not None:
            request.task.CopyFrom(task)
        if priming is not None:
            request.priming.CopyFrom(priming)
        if receiver_model is not None:
            request.receiver_model.CopyFrom(receiver_model)
        return request
