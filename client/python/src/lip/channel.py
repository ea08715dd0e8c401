"""Connection options and channel construction: mutual TLS with the LIP CA, or plaintext."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import grpc


@dataclasses.dataclass(frozen=True)
class TlsOptions:
    """Mutual-TLS material for talking to LIP nodes (see deploy/certs/make_certs.sh).

    Attributes:
        ca_file: PEM certificate of the LIP CA that signed the nodes' certificates.
        cert_file: PEM client certificate; its ``lip://role/<role>`` SAN decides what may be called
            (senders accept ``admin`` and ``sender``; receivers only ``sender``; registry reads any role).
        key_file: PEM private key of ``cert_file``.
        server_name: name to verify the node's certificate against instead of the host in the address
            (the demo certificates are valid for ``localhost`` and ``127.0.0.1``); ``None`` = the host.
    """

    ca_file: str
    cert_file: str
    key_file: str
    server_name: Optional[str] = None

    @classmethod
    def from_dir(cls, directory: str, name: str = "admin", server_name: Optional[str] = None) -> "TlsOptions":
        """The files make_certs.sh writes: ``DIR/ca.crt``, ``DIR/<name>.crt``, ``DIR/<name>.key``."""
        return cls(
            ca_file=os.path.join(directory, "ca.crt"),
            cert_file=os.path.join(directory, f"{name}.crt"),
            key_file=os.path.join(directory, f"{name}.key"),
            server_name=server_name,
        )

    def credentials(self) -> grpc.ChannelCredentials:
        """Reads the three files; FileNotFoundError names a missing one."""
        contents = []
        for label, path in (("ca_file", self.ca_file), ("cert_file", self.cert_file), ("key_file", self.key_file)):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"TLS {label} {path!r} does not exist")
            with open(path, "rb") as f:
                contents.append(f.read())
        ca, cert, key = contents
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


@dataclasses.dataclass(frozen=True)
class ClientOptions:
    """Where and how a client connects.

    Attributes:
        address: ``host:port`` of the node's gRPC endpoint (the ``port`` of its ``listening`` line).
        tls: mutual-TLS material; required unless ``insecure`` is set.
        insecure: plaintext, no authentication; only for nodes started with ``--insecure``.
        timeout_s: deadline of each call in seconds (of the whole stream for streaming calls).
        max_message_bytes: largest message sent or received (bridge-sized answers fit the default).
    """

    address: str
    tls: Optional[TlsOptions] = None
    insecure: bool = False
    timeout_s: float = 60.0
    max_message_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.address or ":" not in self.address:
            raise ValueError(f"address {self.address!r} is not host:port")
        if self.tls is None and not self.insecure:
            raise ValueError("pass tls=TlsOptions(...) (LIP nodes require mutual TLS) or insecure=True")
        if self.tls is not None and self.insecure:
            raise ValueError("tls and insecure=True exclude each other")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")


def make_channel(options: ClientOptions) -> grpc.Channel:
    """Opens a channel for ``options`` (lazily: connection errors surface on the first call)."""
    channel_options = [
        ("grpc.max_send_message_length", options.max_message_bytes),
        ("grpc.max_receive_message_length", options.max_message_bytes),
    ]
    if options.insecure:
        return grpc.insecure_channel(options.address, options=channel_options)
    assert options.tls is not None
    if options.tls.server_name:
        channel_options.append(("grpc.ssl_target_name_override", options.tls.server_name))
    return grpc.secure_channel(options.address, options.tls.credentials(), options=channel_options)
