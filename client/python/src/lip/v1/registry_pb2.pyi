from lip.v1 import packet_pb2 as _packet_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
NODE_ROLE_RECEIVER: NodeRole
NODE_ROLE_REGISTRY: NodeRole
NODE_ROLE_SENDER: NodeRole
NODE_ROLE_UNSPECIFIED: NodeRole

class BridgeChunk(_message.Message):
    __slots__ = ["data", "header"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    header: BridgeRecord
    def __init__(self, header: _Optional[_Union[BridgeRecord, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class BridgeFile(_message.Message):
    __slots__ = ["digest", "name", "size_bytes"]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    digest: str
    name: str
    size_bytes: int
    def __init__(self, name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., digest: _Optional[str] = ...) -> None: ...

class BridgeRecord(_message.Message):
    __slots__ = ["created_unix_nanos", "files", "id", "metadata_json", "receiver_model", "sender_model", "task"]
    CREATED_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    SENDER_MODEL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    created_unix_nanos: int
    files: _containers.RepeatedCompositeFieldContainer[BridgeFile]
    id: _packet_pb2.BridgeId
    metadata_json: str
    receiver_model: _packet_pb2.ModelId
    sender_model: _packet_pb2.ModelId
    task: str
    def __init__(self, id: _Optional[_Union[_packet_pb2.BridgeId, _Mapping]] = ..., sender_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., task: _Optional[str] = ..., files: _Optional[_Iterable[_Union[BridgeFile, _Mapping]]] = ..., created_unix_nanos: _Optional[int] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class GetBridgeRequest(_message.Message):
    __slots__ = ["files", "name", "version"]
    FILES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedScalarFieldContainer[str]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., files: _Optional[_Iterable[str]] = ...) -> None: ...

class GetLinkStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetLinkStatsResponse(_message.Message):
    __slots__ = ["links"]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[LinkStats]
    def __init__(self, links: _Optional[_Iterable[_Union[LinkStats, _Mapping]]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["node_id"]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ["node_id"]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class LinkStats(_message.Message):
    __slots__ = ["bytes", "errors", "from_node", "latency_ms_max", "latency_ms_sum", "messages", "to_node"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_MAX_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_SUM_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    errors: int
    from_node: str
    latency_ms_max: float
    latency_ms_sum: float
    messages: int
    to_node: str
    def __init__(self, from_node: _Optional[str] = ..., to_node: _Optional[str] = ..., messages: _Optional[int] = ..., errors: _Optional[int] = ..., bytes: _Optional[int] = ..., latency_ms_sum: _Optional[float] = ..., latency_ms_max: _Optional[float] = ...) -> None: ...

class ListBridgesRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListBridgesResponse(_message.Message):
    __slots__ = ["bridges"]
    BRIDGES_FIELD_NUMBER: _ClassVar[int]
    bridges: _containers.RepeatedCompositeFieldContainer[BridgeRecord]
    def __init__(self, bridges: _Optional[_Iterable[_Union[BridgeRecord, _Mapping]]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ["role"]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    role: NodeRole
    def __init__(self, role: _Optional[_Union[NodeRole, str]] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ["nodes"]
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ["address", "alive", "bridges", "last_heartbeat_unix_nanos", "model", "node_id", "role"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    BRIDGES_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    address: str
    alive: bool
    bridges: _containers.RepeatedCompositeFieldContainer[_packet_pb2.BridgeId]
    last_heartbeat_unix_nanos: int
    model: _packet_pb2.ModelId
    node_id: str
    role: NodeRole
    def __init__(self, node_id: _Optional[str] = ..., role: _Optional[_Union[NodeRole, str]] = ..., address: _Optional[str] = ..., model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., bridges: _Optional[_Iterable[_Union[_packet_pb2.BridgeId, _Mapping]]] = ..., last_heartbeat_unix_nanos: _Optional[int] = ..., alive: bool = ...) -> None: ...

class PutBridgeChunk(_message.Message):
    __slots__ = ["data", "header"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    header: BridgeRecord
    def __init__(self, header: _Optional[_Union[BridgeRecord, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PutBridgeResponse(_message.Message):
    __slots__ = ["record"]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: BridgeRecord
    def __init__(self, record: _Optional[_Union[BridgeRecord, _Mapping]] = ...) -> None: ...

class RegisterNodeRequest(_message.Message):
    __slots__ = ["node"]
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ["heartbeat_interval_ms"]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_ms: int
    def __init__(self, heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class ReportLinkStatsRequest(_message.Message):
    __slots__ = ["links"]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[LinkStats]
    def __init__(self, links: _Optional[_Iterable[_Union[LinkStats, _Mapping]]] = ...) -> None: ...

class ReportLinkStatsResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ResolveBridgeRequest(_message.Message):
    __slots__ = ["receiver_model", "sender_model", "task"]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    SENDER_MODEL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    receiver_model: _packet_pb2.ModelId
    sender_model: _packet_pb2.ModelId
    task: str
    def __init__(self, sender_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., task: _Optional[str] = ...) -> None: ...

class NodeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
