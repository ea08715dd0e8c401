"""Builders for the protocol messages callers fill in most: tasks, model ids, priming; reading answers."""

from __future__ import annotations

from typing import Iterable, Sequence

import grpc

from lip.errors import LipError
from lip.v1 import packet_pb2, receiver_pb2


def classify(labels: Sequence[str]) -> packet_pb2.Task:
    """A classification task: the receiver scores each label (verbalizer) as a continuation."""
    labels = list(labels)
    if not labels:
        raise ValueError("classify() needs at least one label")
    return packet_pb2.Task(classify=packet_pb2.ClassifyTask(labels=labels))


def generate(
    max_new_tokens: int = 32,
    *,
    temperature: float = 0.0,
    top_p: float = 0.0,
    seed: int = 0,
    stop: Iterable[str] = (),
) -> packet_pb2.Task:
    """A generation task: greedy when ``temperature`` is 0; ``top_p`` 0 or 1 = no nucleus truncation."""
    if max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be positive, not {max_new_tokens}")
    return packet_pb2.Task(
        generate=packet_pb2.GenerateTask(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=list(stop)
        )
    )


def model_id(name: str, family: str = "", weights_digest: str = "", revision: str = "") -> packet_pb2.ModelId:
    """Names a model; nodes match by name (and by weights digest when one is given)."""
    return packet_pb2.ModelId(name=name, family=family, weights_digest=weights_digest, revision=revision)


def priming(context_prefix: str = "", anchor: str = "") -> packet_pb2.Priming:
    """Context priming: the receiver builds [BOS, context_prefix, soft tokens, anchor]."""
    return packet_pb2.Priming(context_prefix=context_prefix, anchor=anchor)


def answer_text(response: receiver_pb2.SendLatentResponse) -> str:
    """The answer as text: the chosen label of a classification, the text of a generation.

    Raises LipError for a per-message error (what StreamLatents sends for a bad packet inside a stream)
    and ValueError for a response that carries no answer.
    """
    kind = response.WhichOneof("answer")
    if kind == "classification":
        return response.classification.label
    if kind == "generation":
        return response.generation.text
    if kind == "error":
        code = _status_code(response.error.code)
        raise LipError(code, response.error.message, response.error.reason, "LatentReceiver.StreamLatents")
    raise ValueError("the response carries no answer")


def _status_code(value: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN


