"""LipError: how every failed LIP call surfaces in Python."""

from __future__ import annotations

import grpc

#: Trailing-metadata key under which LIP nodes put a machine-readable error reason
#: (for example ``bad_checksum`` or ``unknown_bridge``; docs/protocol.md lists them).
ERROR_REASON_METADATA_KEY = "lip-error-reason"


class LipError(Exception):
    """A LIP call that failed.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode.INVALID_ARGUMENT``, ``UNAVAILABLE``, ...).
            A refused TLS handshake (wrong CA, no client certificate) shows up as ``UNAVAILABLE``,
            a certificate without the needed role as ``PERMISSION_DENIED``, an exceeded timeout as
            ``DEADLINE_EXCEEDED``.
        message: the server's (or gRPC's) human-readable detail.
        reason: the node's machine-readable reason from the ``lip-error-reason`` trailer, or ``""``.
        method: the RPC that failed, e.g. ``"Sender.Send"``.
    """

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "", method: str = ""):
        self.code = code
        self.message = message
        self.reason = reason
        self.method = method
        where = f"{method}: " if method else ""
        why = f" [{reason}]" if reason else ""
        super().__init__(f"{where}{code.name}{why}: {message}")


def from_rpc_error(error: grpc.RpcError, method: str) -> LipError:
    """Converts the exception a gRPC call raised into a LipError (code, details, reason trailer)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    reason = ""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == ERROR_REASON_METADATA_KEY:
            reason = value.decode() if isinstance(value, bytes) else str(value)
    return LipError(code or grpc.StatusCode.UNKNOWN, details or "", reason, method)
