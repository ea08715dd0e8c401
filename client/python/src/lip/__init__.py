"""LIP (Latent Injection Protocol) client for Python.

Talks to LIP nodes over gRPC with mutual TLS:

* SenderClient -- ``send`` text as a latent packet (``encode`` only builds the packet),
  ``relay_text`` for the text baseline;
* ReceiverClient -- ``send_latent`` one packet, ``stream_latents`` many, ``send_text``;
* RegistryClient -- ``list_nodes``, ``find_node``, ``resolve_bridge``, ``list_bridges``,
  ``get_link_stats``.

Requests and responses are the LIP v1 protobuf messages (``lip.v1.*_pb2``, typed through their .pyi
stubs); ``classify``, ``generate``, ``model_id`` and ``priming`` build the parts callers fill in and
``answer_text`` reads an answer. Failures raise LipError with the gRPC code and the node's reason.

    import lip
    tls = lip.TlsOptions.from_dir("certs", "admin")
    with lip.SenderClient.connect("127.0.0.1:7002", tls=tls) as sender:
        reply = sender.send("Oil prices fall as supply rises")
        print(lip.answer_text(reply.answer))
"""

from lip.channel import ClientOptions, TlsOptions, make_channel
from lip.errors import ERROR_REASON_METADATA_KEY, LipError
from lip.messages import answer_text, classify, generate, model_id, priming
from lip.receiver import ReceiverClient
from lip.registry import RECEIVER, REGISTRY, SENDER, RegistryClient
from lip.sender import SenderClient
from lip.v1.packet_pb2 import DTYPE_BF16, DTYPE_FP16, DTYPE_FP32, DTYPE_INT8, DTYPE_UNSPECIFIED

__version__ = "0.1.0"

__all__ = [
    "ClientOptions",
    "TlsOptions",
    "make_channel",
    "LipError",
    "ERROR_REASON_METADATA_KEY",
    "answer_text",
    "classify",
    "generate",
    "model_id",
    "priming",
    "SenderClient",
    "ReceiverClient",
    "RegistryClient",
    "SENDER",
    "RECEIVER",
    "REGISTRY",
    "DTYPE_UNSPECIFIED",
    "DTYPE_FP32",
    "DTYPE_FP16",
    "DTYPE_BF16",
    "DTYPE_INT8",
]
