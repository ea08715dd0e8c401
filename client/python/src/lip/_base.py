"""What the three clients share: one channel per client, per-call deadline, errors as LipError."""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

import grpc

from lip.channel import ClientOptions, TlsOptions, make_channel
from lip.errors import from_rpc_error

_Self = TypeVar("_Self", bound="BaseClient")
_Response = TypeVar("_Response")


class BaseClient:
    """Owns a gRPC channel to one node. Thread-safe: calls may be made from several threads at once.

    Use as a context manager, or call close() when done.
    """

    _service = ""

    def __init__(self, options: ClientOptions):
        self._options = options
        self._channel = make_channel(options)

    @classmethod
    def connect(
        cls: type[_Self],
        address: str,
        *,
        tls: Optional[TlsOptions] = None,
        insecure: bool = False,
        timeout_s: float = 60.0,
    ) -> _Self:
        """Shorthand for ``cls(ClientOptions(address, tls, insecure, timeout_s))``."""
        return cls(ClientOptions(address=address, tls=tls, insecure=insecure, timeout_s=timeout_s))

    @property
    def options(self) -> ClientOptions:
        return self._options

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled. Idempotent."""
        self._channel.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _unary(self, method: str, call: Callable[..., _Response], request: Any) -> _Response:
        try:
            return call(request, timeout=self._options.timeout_s)
        except grpc.RpcError as error:
            raise from_rpc_error(error, f"{self._service}.{method}") from None
