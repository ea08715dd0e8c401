"""ReceiverClient: LIP packets straight to a receiver node, one at a time or as a stream."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import grpc

from lip._base import BaseClient
from lip.channel import ClientOptions
from lip.errors import from_rpc_error
from lip.v1 import packet_pb2, receiver_pb2, receiver_pb2_grpc


class ReceiverClient(BaseClient):
    """Client of a receiver node's ``lip.v1.LatentReceiver`` service.

    Receivers accept only certificates with the ``sender`` role (a client that calls them directly
    acts as a sender). Packets come from SenderClient.encode() or any LIP v1 encoder.
    """

    _service = "LatentReceiver"

    def __init__(self, options: ClientOptions):
        super().__init__(options)
        self._stub = receiver_pb2_grpc.LatentReceiverStub(self._channel)

    def send_latent(self, packet: packet_pb2.LipPacket) -> receiver_pb2.SendLatentResponse:
        """Sends one packet and returns the answer.

        A defective packet fails with LipError ``INVALID_ARGUMENT`` and a reason (``bad_checksum``,
        ``shape_mismatch``, ...); a packet for a bridge or model this receiver does not serve with
        ``FAILED_PRECONDITION``; a full queue with ``RESOURCE_EXHAUSTED``.
        """
        return self._unary("SendLatent", self._stub.SendLatent, receiver_pb2.SendLatentRequest(packet=packet))

    def stream_latents(
        self, packets: Iterable[packet_pb2.LipPacket]
    ) -> Iterator[receiver_pb2.SendLatentResponse]:
        """Streams packets (of one or more conversations) and yields the answers as they complete.

        Answers come in completion order, not request order: match them by ``packet_id`` or by
        ``conversation_id`` and ``sequence``. A bad packet does not end the stream; its answer carries
        ``error`` instead (``lip.answer_text`` raises it as LipError). The whole stream is bounded by
        the client's timeout; an error of the stream itself raises LipError.
        """
        requests = (receiver_pb2.SendLatentRequest(packet=packet) for packet in packets)
        try:
            for response in self._stub.StreamLatents(requests, timeout=self._options.timeout_s):
                yield response
        except grpc.RpcError as error:
            raise from_rpc_error(error, f"{self._service}.StreamLatents") from None

    def send_text(
        self,
        text: str,
        *,
        task: Optional[packet_pb2.Task] = None,
        priming: Optional[packet_pb2.Priming] = None,
    ) -> receiver_pb2.SendLatentResponse:
        """The text-relay baseline on the receiver itself: it tokenizes and prefills ``text``."""
        request = receiver_pb2.SendTextRequest(text=text)
        if task is not None:
            request.task.CopyFrom(task)
        if priming is not None:
            request.priming.CopyFrom(priming)
        return self._unary("SendText", self._stub.SendText, request)
