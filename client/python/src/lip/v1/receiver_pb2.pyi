from lip.v1 import packet_pb2 as _packet_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClassifyResult(_message.Message):
    __slots__ = ["label", "label_index", "log_probs"]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_PROBS_FIELD_NUMBER: _ClassVar[int]
    label: str
    label_index: int
    log_probs: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, label: _Optional[str] = ..., label_index: _Optional[int] = ..., log_probs: _Optional[_Iterable[float]] = ...) -> None: ...

class GenerateResult(_message.Message):
    __slots__ = ["stop_reason", "text", "token_ids"]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    stop_reason: str
    text: str
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, text: _Optional[str] = ..., token_ids: _Optional[_Iterable[int]] = ..., stop_reason: _Optional[str] = ...) -> None: ...

class MessageError(_message.Message):
    __slots__ = ["code", "message", "reason"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SendLatentRequest(_message.Message):
    __slots__ = ["compact", "packet"]
    COMPACT_FIELD_NUMBER: _ClassVar[int]
    PACKET_FIELD_NUMBER: _ClassVar[int]
    compact: _packet_pb2.CompactPacket
    packet: _packet_pb2.LipPacket
    def __init__(self, packet: _Optional[_Union[_packet_pb2.LipPacket, _Mapping]] = ..., compact: _Optional[_Union[_packet_pb2.CompactPacket, _Mapping]] = ...) -> None: ...

class SendLatentResponse(_message.Message):
    __slots__ = ["batch_size", "bridge", "classification", "conversation_id", "error", "generation", "header_cached", "packet_id", "receiver_model", "sequence", "timings"]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    HEADER_CACHED_FIELD_NUMBER: _ClassVar[int]
    PACKET_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    bridge: _packet_pb2.BridgeId
    classification: ClassifyResult
    conversation_id: str
    error: MessageError
    generation: GenerateResult
    header_cached: bool
    packet_id: bytes
    receiver_model: _packet_pb2.ModelId
    sequence: int
    timings: StageTimings
    def __init__(self, packet_id: _Optional[bytes] = ..., conversation_id: _Optional[str] = ..., sequence: _Optional[int] = ..., classification: _Optional[_Union[ClassifyResult, _Mapping]] = ..., generation: _Optional[_Union[GenerateResult, _Mapping]] = ..., error: _Optional[_Union[MessageError, _Mapping]] = ..., bridge: _Optional[_Union[_packet_pb2.BridgeId, _Mapping]] = ..., receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., timings: _Optional[_Union[StageTimings, _Mapping]] = ..., batch_size: _Optional[int] = ..., header_cached: bool = ...) -> None: ...

class SendTextRequest(_message.Message):
    __slots__ = ["priming", "task", "text"]
    PRIMING_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    priming: _packet_pb2.Priming
    task: _packet_pb2.Task
    text: str
    def __init__(self, text: _Optional[str] = ..., task: _Optional[_Union[_packet_pb2.Task, _Mapping]] = ..., priming: _Optional[_Union[_packet_pb2.Priming, _Mapping]] = ...) -> None: ...

class StageTimings(_message.Message):
    __slots__ = ["adapt_ms", "decode_ms", "encode_ms", "prefill_ms", "queue_ms", "sender_pipeline_ms", "sender_queue_ms", "total_ms", "wire_ms"]
    ADAPT_MS_FIELD_NUMBER: _ClassVar[int]
    DECODE_MS_FIELD_NUMBER: _ClassVar[int]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    PREFILL_MS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    SENDER_PIPELINE_MS_FIELD_NUMBER: _ClassVar[int]
    SENDER_QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    WIRE_MS_FIELD_NUMBER: _ClassVar[int]
    adapt_ms: float
    decode_ms: float
    encode_ms: float
    prefill_ms: float
    queue_ms: float
    sender_pipeline_ms: float
    sender_queue_ms: float
    total_ms: float
    wire_ms: float
    def __init__(self, encode_ms: _Optional[float] = ..., wire_ms: _Optional[float] = ..., adapt_ms: _Optional[float] = ..., prefill_ms: _Optional[float] = ..., decode_ms: _Optional[float] = ..., queue_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., sender_queue_ms: _Optional[float] = ..., sender_pipeline_ms: _Optional[float] = ...) -> None: ...
