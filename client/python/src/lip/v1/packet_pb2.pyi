from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
DTYPE_BF16: DType
DTYPE_FP16: DType
DTYPE_FP32: DType
DTYPE_INT8: DType
DTYPE_UNSPECIFIED: DType
ENERGY_MODE_NONE: EnergyMode
ENERGY_MODE_PER_VECTOR_NORM: EnergyMode
ENERGY_MODE_RMS: EnergyMode
ENERGY_MODE_UNSPECIFIED: EnergyMode

class BridgeId(_message.Message):
    __slots__ = ["digest", "name", "version"]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    digest: str
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., digest: _Optional[str] = ...) -> None: ...

class Calibration(_message.Message):
    __slots__ = ["energy_mode", "source_mean_norm", "source_rms", "target_reference_energy"]
    ENERGY_MODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MEAN_NORM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_RMS_FIELD_NUMBER: _ClassVar[int]
    TARGET_REFERENCE_ENERGY_FIELD_NUMBER: _ClassVar[int]
    energy_mode: EnergyMode
    source_mean_norm: float
    source_rms: float
    target_reference_energy: float
    def __init__(self, source_rms: _Optional[float] = ..., source_mean_norm: _Optional[float] = ..., energy_mode: _Optional[_Union[EnergyMode, str]] = ..., target_reference_energy: _Optional[float] = ...) -> None: ...

class ClassifyTask(_message.Message):
    __slots__ = ["labels"]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, labels: _Optional[_Iterable[str]] = ...) -> None: ...

class CompactPacket(_message.Message):
    __slots__ = ["created_unix_nanos", "header_id", "packet_id", "sequence", "tensor"]
    CREATED_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ID_FIELD_NUMBER: _ClassVar[int]
    PACKET_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    created_unix_nanos: int
    header_id: int
    packet_id: bytes
    sequence: int
    tensor: Tensor
    def __init__(self, header_id: _Optional[int] = ..., sequence: _Optional[int] = ..., tensor: _Optional[_Union[Tensor, _Mapping]] = ..., packet_id: _Optional[bytes] = ..., created_unix_nanos: _Optional[int] = ...) -> None: ...

class GenerateTask(_message.Message):
    __slots__ = ["max_new_tokens", "seed", "stop", "temperature", "top_p"]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    max_new_tokens: int
    seed: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    temperature: float
    top_p: float
    def __init__(self, max_new_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ...) -> None: ...

class LipPacket(_message.Message):
    __slots__ = ["bridge", "calibration", "conversation_id", "created_unix_nanos", "header_id", "packet_id", "priming", "receiver_models", "sender_model", "sequence", "soft_token_count", "soft_token_width", "source_layer", "task", "tensor", "version"]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ID_FIELD_NUMBER: _ClassVar[int]
    PACKET_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMING_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_MODELS_FIELD_NUMBER: _ClassVar[int]
    SENDER_MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SOFT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOFT_TOKEN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LAYER_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    bridge: BridgeId
    calibration: Calibration
    conversation_id: str
    created_unix_nanos: int
    header_id: int
    packet_id: bytes
    priming: Priming
    receiver_models: _containers.RepeatedCompositeFieldContainer[ModelId]
    sender_model: ModelId
    sequence: int
    soft_token_count: int
    soft_token_width: int
    source_layer: int
    task: Task
    tensor: Tensor
    version: ProtocolVersion
    def __init__(self, version: _Optional[_Union[ProtocolVersion, _Mapping]] = ..., packet_id: _Optional[bytes] = ..., conversation_id: _Optional[str] = ..., sequence: _Optional[int] = ..., created_unix_nanos: _Optional[int] = ..., sender_model: _Optional[_Union[ModelId, _Mapping]] = ..., receiver_models: _Optional[_Iterable[_Union[ModelId, _Mapping]]] = ..., bridge: _Optional[_Union[BridgeId, _Mapping]] = ..., source_layer: _Optional[int] = ..., soft_token_count: _Optional[int] = ..., soft_token_width: _Optional[int] = ..., calibration: _Optional[_Union[Calibration, _Mapping]] = ..., priming: _Optional[_Union[Priming, _Mapping]] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., tensor: _Optional[_Union[Tensor, _Mapping]] = ..., header_id: _Optional[int] = ...) -> None: ...

class ModelId(_message.Message):
    __slots__ = ["family", "name", "revision", "weights_digest"]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    family: str
    name: str
    revision: str
    weights_digest: str
    def __init__(self, family: _Optional[str] = ..., name: _Optional[str] = ..., revision: _Optional[str] = ..., weights_digest: _Optional[str] = ...) -> None: ...

class Priming(_message.Message):
    __slots__ = ["anchor", "context_prefix"]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    anchor: str
    context_prefix: str
    def __init__(self, context_prefix: _Optional[str] = ..., anchor: _Optional[str] = ...) -> None: ...

class ProtocolVersion(_message.Message):
    __slots__ = ["major", "minor"]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    major: int
    minor: int
    def __init__(self, major: _Optional[int] = ..., minor: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ["classify", "generate"]
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    GENERATE_FIELD_NUMBER: _ClassVar[int]
    classify: ClassifyTask
    generate: GenerateTask
    def __init__(self, classify: _Optional[_Union[ClassifyTask, _Mapping]] = ..., generate: _Optional[_Union[GenerateTask, _Mapping]] = ...) -> None: ...

class Tensor(_message.Message):
    __slots__ = ["crc32c", "data", "dtype", "scales"]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SCALES_FIELD_NUMBER: _ClassVar[int]
    crc32c: int
    data: bytes
    dtype: DType
    scales: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., data: _Optional[bytes] = ..., scales: _Optional[_Iterable[float]] = ..., crc32c: _Optional[int] = ...) -> None: ...

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EnergyMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
