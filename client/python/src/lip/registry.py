"""RegistryClient: node directory and bridge look-ups at a registry node (read-only calls)."""

from __future__ import annotations

from typing import List, Optional

from lip._base import BaseClient
from lip.channel import ClientOptions
from lip.v1 import packet_pb2, registry_pb2, registry_pb2_grpc

#: Node roles as the registry lists them.
NodeRole = registry_pb2.NodeRole
SENDER = registry_pb2.NODE_ROLE_SENDER
RECEIVER = registry_pb2.NODE_ROLE_RECEIVER
REGISTRY = registry_pb2.NODE_ROLE_REGISTRY


class RegistryClient(BaseClient):
    """Client of a registry node's ``lip.v1.Registry`` service: the look-ups an agent backend needs to
    find senders and receivers and the bridges between models. Any LIP certificate may read.
    """

    _service = "Registry"

    def __init__(self, options: ClientOptions):
        super().__init__(options)
        self._stub = registry_pb2_grpc.RegistryStub(self._channel)

    def list_nodes(
        self,
        role: registry_pb2.NodeRole.ValueType = registry_pb2.NODE_ROLE_UNSPECIFIED,
        *,
        alive_only: bool = False,
        bridge: str = "",
    ) -> List[registry_pb2.NodeInfo]:
        """The nodes the registry knows, optionally only one ``role`` (``lip.SENDER``, ``lip.RECEIVER``),
        only live ones (heartbeat within the registry's timeout), only those serving bridge ``bridge``
        (by name). Each NodeInfo has ``node_id``, ``role``, ``address``, ``model``, ``bridges``, ``alive``.
        """
        response = self._unary("ListNodes", self._stub.ListNodes, registry_pb2.ListNodesRequest(role=role))
        nodes = list(response.nodes)
        if alive_only:
            nodes = [node for node in nodes if node.alive]
        if bridge:
            nodes = [node for node in nodes if any(b.name == bridge for b in node.bridges)]
        return nodes

    def resolve_bridge(
        self,
        sender_model: packet_pb2.ModelId,
        receiver_model: packet_pb2.ModelId,
        task: str = "",
    ) -> registry_pb2.BridgeRecord:
        """The newest bridge from ``sender_model`` to ``receiver_model`` (matched by name, and by weights
        digest when set), for ``task`` (``""`` = any). LipError ``NOT_FOUND`` when there is none.
        """
        request = registry_pb2.ResolveBridgeRequest(task=task)
        request.sender_model.CopyFrom(sender_model)
        request.receiver_model.CopyFrom(receiver_model)
        return self._unary("ResolveBridge", self._stub.ResolveBridge, request)

    def list_bridges(self, name: str = "") -> List[registry_pb2.BridgeRecord]:
        """Every stored bridge version, or only those named ``name``."""
        response = self._unary("ListBridges", self._stub.ListBridges, registry_pb2.ListBridgesRequest(name=name))
        return list(response.bridges)

    def get_link_stats(self) -> List[registry_pb2.LinkStats]:
        """Per-link totals (sender -> receiver: messages, errors, bytes, latency) since the registry started."""
        response = self._unary("GetLinkStats", self._stub.GetLinkStats, registry_pb2.GetLinkStatsRequest())
        return list(response.links)

    def find_node(self, role: registry_pb2.NodeRole.ValueType, bridge: str = "") -> Optional[registry_pb2.NodeInfo]:
        """A live node of ``role`` (serving ``bridge`` when given), or None."""
        nodes = self.list_nodes(role, alive_only=True, bridge=bridge)
        return nodes[0] if nodes else None
