from lip.v1 import packet_pb2 as _packet_pb2
from lip.v1 import receiver_pb2 as _receiver_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EncodeRequest(_message.Message):
    __slots__ = ["conversation_id", "priming", "receiver_model", "sequence", "task", "text", "wire_dtype"]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMING_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WIRE_DTYPE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    priming: _packet_pb2.Priming
    receiver_model: _packet_pb2.ModelId
    sequence: int
    task: _packet_pb2.Task
    text: str
    wire_dtype: _packet_pb2.DType
    def __init__(self, text: _Optional[str] = ..., task: _Optional[_Union[_packet_pb2.Task, _Mapping]] = ..., priming: _Optional[_Union[_packet_pb2.Priming, _Mapping]] = ..., wire_dtype: _Optional[_Union[_packet_pb2.DType, str]] = ..., receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., conversation_id: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class EncodeResponse(_message.Message):
    __slots__ = ["encode_ms", "packet"]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    PACKET_FIELD_NUMBER: _ClassVar[int]
    encode_ms: float
    packet: _packet_pb2.LipPacket
    def __init__(self, packet: _Optional[_Union[_packet_pb2.LipPacket, _Mapping]] = ..., encode_ms: _Optional[float] = ...) -> None: ...

class FanOutTarget(_message.Message):
    __slots__ = ["receiver_address", "receiver_model"]
    RECEIVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    receiver_address: str
    receiver_model: _packet_pb2.ModelId
    def __init__(self, receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., receiver_address: _Optional[str] = ...) -> None: ...

class JointAnswer(_message.Message):
    __slots__ = ["label", "label_index", "log_probs", "probabilities", "receivers"]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_PROBS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    RECEIVERS_FIELD_NUMBER: _ClassVar[int]
    label: str
    label_index: int
    log_probs: _containers.RepeatedScalarFieldContainer[float]
    probabilities: _containers.RepeatedScalarFieldContainer[float]
    receivers: int
    def __init__(self, label: _Optional[str] = ..., label_index: _Optional[int] = ..., log_probs: _Optional[_Iterable[float]] = ..., probabilities: _Optional[_Iterable[float]] = ..., receivers: _Optional[int] = ...) -> None: ...

class ReceiverOutcome(_message.Message):
    __slots__ = ["answer", "bridge", "error", "receiver_address", "receiver_model", "timings", "wire_bytes"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    WIRE_BYTES_FIELD_NUMBER: _ClassVar[int]
    answer: _receiver_pb2.SendLatentResponse
    bridge: _packet_pb2.BridgeId
    error: _receiver_pb2.MessageError
    receiver_address: str
    receiver_model: _packet_pb2.ModelId
    timings: _receiver_pb2.StageTimings
    wire_bytes: int
    def __init__(self, receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ..., bridge: _Optional[_Union[_packet_pb2.BridgeId, _Mapping]] = ..., receiver_address: _Optional[str] = ..., answer: _Optional[_Union[_receiver_pb2.SendLatentResponse, _Mapping]] = ..., error: _Optional[_Union[_receiver_pb2.MessageError, _Mapping]] = ..., timings: _Optional[_Union[_receiver_pb2.StageTimings, _Mapping]] = ..., wire_bytes: _Optional[int] = ...) -> None: ...

class RelayTextRequest(_message.Message):
    __slots__ = ["max_new_tokens", "receiver_address", "receiver_model", "task", "text"]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODEL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    max_new_tokens: int
    receiver_address: str
    receiver_model: _packet_pb2.ModelId
    task: _packet_pb2.Task
    text: str
    def __init__(self, text: _Optional[str] = ..., task: _Optional[_Union[_packet_pb2.Task, _Mapping]] = ..., max_new_tokens: _Optional[int] = ..., receiver_address: _Optional[str] = ..., receiver_model: _Optional[_Union[_packet_pb2.ModelId, _Mapping]] = ...) -> None: ...

class RelayTextResponse(_message.Message):
    __slots__ = ["answer", "relayed_text", "timings", "wire_bytes"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    RELAYED_TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    WIRE_BYTES_FIELD_NUMBER: _ClassVar[int]
    answer: _receiver_pb2.SendLatentResponse
    relayed_text: str
    timings: _receiver_pb2.StageTimings
    wire_bytes: int
    def __init__(self, relayed_text: _Optional[str] = ..., answer: _Optional[_Union[_receiver_pb2.SendLatentResponse, _Mapping]] = ..., timings: _Optional[_Union[_receiver_pb2.StageTimings, _Mapping]] = ..., wire_bytes: _Optional[int] = ...) -> None: ...

class SendFanOutRequest(_message.Message):
    __slots__ = ["encode", "targets"]
    ENCODE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    encode: EncodeRequest
    targets: _containers.RepeatedCompositeFieldContainer[FanOutTarget]
    def __init__(self, encode: _Optional[_Union[EncodeRequest, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[FanOutTarget, _Mapping]]] = ...) -> None: ...

class SendFanOutResponse(_message.Message):
    __slots__ = ["encode_ms", "joint", "outcomes", "text_bytes", "total_ms"]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    JOINT_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    encode_ms: float
    joint: JointAnswer
    outcomes: _containers.RepeatedCompositeFieldContainer[ReceiverOutcome]
    text_bytes: int
    total_ms: float
    def __init__(self, outcomes: _Optional[_Iterable[_Union[ReceiverOutcome, _Mapping]]] = ..., joint: _Optional[_Union[JointAnswer, _Mapping]] = ..., encode_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., text_bytes: _Optional[int] = ...) -> None: ...

class SendRequest(_message.Message):
    __slots__ = ["encode", "receiver_address"]
    ENCODE_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    encode: EncodeRequest
    receiver_address: str
    def __init__(self, encode: _Optional[_Union[EncodeRequest, _Mapping]] = ..., receiver_address: _Optional[str] = ...) -> None: ...

class SendResponse(_message.Message):
    __slots__ = ["answer", "receiver_address", "text_bytes", "timings", "wire_bytes"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    WIRE_BYTES_FIELD_NUMBER: _ClassVar[int]
    answer: _receiver_pb2.SendLatentResponse
    receiver_address: str
    text_bytes: int
    timings: _receiver_pb2.StageTimings
    wire_bytes: int
    def __init__(self, answer: _Optional[_Union[_receiver_pb2.SendLatentResponse, _Mapping]] = ..., timings: _Optional[_Union[_receiver_pb2.StageTimings, _Mapping]] = ..., wire_bytes: _Optional[int] = ..., text_bytes: _Optional[int] = ..., receiver_address: _Optional[str] = ...) -> None: ...
