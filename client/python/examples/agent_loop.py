#!/usr/bin/env python3
"""Two agents hand messages to each other through LIP.

The *curator* wants a few warm blurbs for a film poster. Each turn it proposes one review snippet to the
*critic*. The proposal does not travel as text: the curator's model (the sender node's) turns it into a
LIP packet of soft tokens, and the critic's model (the receiver node's) reads those and answers with a
sentiment label and its log-probabilities. The critic judges from that answer; the curator hears the
verdict, keeps accepted blurbs and proposes the next snippet, until it has enough or runs out. Every
message of the run belongs to one LIP conversation (conversation_id, sequence = turn).

Two ways to carry the proposal, both with the `lip` package:
  default   SenderClient.send: the sender node encodes and forwards to a live receiver it resolves
            through the registry (certificate role admin or sender);
  --direct  SenderClient.encode, then the critic streams the packets to its receiver itself with
            ReceiverClient.stream_latents (needs a certificate with the sender role).

    python3 agent_loop.py --registry 127.0.0.1:PORT --certs DIR   (DIR from deploy/certs/make_certs.sh)

deploy/agent_demo.sh starts the nodes of the main demo, installs the package and runs this.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import uuid
from typing import Iterable, List, Optional

import lip
from lip.v1 import receiver_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MESSAGES = os.path.join(HERE, "..", "..", "..", "demo", "messages.jsonl")


@dataclasses.dataclass
class Verdict:
    accepted: bool
    label: str
    margin: float  # log p(accepted label) - best other log p


class Curator:
    """Agent A: proposes snippets one at a time and keeps the accepted ones."""

    def __init__(self, candidates: Iterable[str], wanted: int):
        self._candidates = list(candidates)
        self._wanted = wanted
        self.poster: List[str] = []

    def propose(self) -> Optional[str]:
        if len(self.poster) >= self._wanted or not self._candidates:
            return None
        return self._candidates.pop(0)

    def hear(self, proposal: str, verdict: Verdict) -> None:
        if verdict.accepted:
            self.poster.append(proposal)


class Critic:
    """Agent B: reads the curator's proposal through its own model's answer and accepts warm ones."""

    def __init__(self, accept_label: str, min_margin: float):
        self._accept = accept_label.strip().lower()
        self._min_margin = min_margin

    def judge(self, answer: receiver_pb2.SendLatentResponse) -> Verdict:
        label = lip.answer_text(answer).strip()  # raises LipError for a per-message error
        scores = list(answer.classification.log_probs)
        index = answer.classification.label_index
        others = [s for i, s in enumerate(scores) if i != index]
        margin = scores[index] - max(others) if others else 0.0
        return Verdict(label.lower() == self._accept and margin >= self._min_margin, label, margin)


def read_candidates(path: str, task: str, limit: int) -> List[str]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row["text"] for row in rows if row.get("task") == task][:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", help="host:port of the registry (finds the sender and receiver)")
    parser.add_argument("--sender", help="host:port of the sender node (default: a live one from the registry)")
    parser.add_argument("--receiver", help="host:port of the receiver node (--direct; default: from the registry)")
    parser.add_argument("--certs", required=True, help="directory with ca.crt and the identities' .crt/.key")
    parser.add_argument("--identity", default="admin", help="certificate for the sender and registry (admin)")
    parser.add_argument("--direct", action="store_true", help="encode on the sender, stream to the receiver")
    parser.add_argument("--bridge", default="demo-sst2", help="bridge the nodes serve (demo-sst2)")
    parser.add_argument("--messages", default=DEFAULT_MESSAGES, help="JSONL with task/text rows")
    parser.add_argument("--task", default="sst2", help="rows of --messages to propose")
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--want", type=int, default=3, help="blurbs the curator wants")
    parser.add_argument("--accept-label", default="positive")
    parser.add_argument("--min-margin", type=float, default=1.0,
                        help="accept only answers this much more likely than the runner-up (log-prob)")
    args = parser.parse_args()

    tls = lip.TlsOptions.from_dir(args.certs, args.identity)
    sender_address, receiver_address = args.sender, args.receiver
    if args.registry:
        with lip.RegistryClient.connect(args.registry, tls=tls, timeout_s=10) as registry:
            if not sender_address:
                node = registry.find_node(lip.SENDER, bridge=args.bridge)
                sender_address = node.address if node else None
            if not receiver_address:
                node = registry.find_node(lip.RECEIVER, bridge=args.bridge)
                receiver_address = node.address if node else None
    if not sender_address or (args.direct and not receiver_address):
        print(f"agent_loop: no live sender/receiver serving {args.bridge} (pass --registry or addresses)",
              file=sys.stderr)
        return 1

    curator = Curator(read_candidates(args.messages, args.task, args.candidates), args.want)
    critic = Critic(args.accept_label, args.min_margin)
    conversation = f"poster-{uuid.uuid4().hex[:8]}"
    mode = "encode + stream_latents" if args.direct else "send"
    print(f"conversation {conversation}: curator -> critic through sender {sender_address} ({mode})")
    print(f"{'turn':>4} {'verdict':<8} {'label':<9} {'margin':>7} {'wire B':>6} {'text B':>6} {'ms':>7}  proposal")

    sender = lip.SenderClient.connect(sender_address, tls=tls, timeout_s=60)
    receiver = None
    if args.direct:
        receiver = lip.ReceiverClient.connect(receiver_address, tls=lip.TlsOptions.from_dir(args.certs, "sender"))
    try:
        turn = 0
        while (proposal := curator.propose()) is not None:
            if args.direct:
                packet = sender.encode(proposal, conversation_id=conversation, sequence=turn).packet
                (answer,) = list(receiver.stream_latents([packet]))
                wire_bytes, total_ms = packet.ByteSize(), answer.timings.total_ms
            else:
                reply = sender.send(proposal, conversation_id=conversation, sequence=turn)
                answer, wire_bytes, total_ms = reply.answer, reply.wire_bytes, reply.timings.total_ms
            assert answer.conversation_id == conversation and answer.sequence == turn
            verdict = critic.judge(answer)
            curator.hear(proposal, verdict)
            shown = proposal if len(proposal) <= 60 else proposal[:57] + "..."
            print(f"{turn:>4} {'accept' if verdict.accepted else 'reject':<8} {verdict.label:<9} "
                  f"{verdict.margin:>7.2f} {wire_bytes:>6} {len(proposal.encode()):>6} {total_ms:>7.1f}  {shown}")
            turn += 1
    except lip.LipError as error:
        print(f"agent_loop: {error}", file=sys.stderr)
        return 1
    finally:
        sender.close()
        if receiver is not None:
            receiver.close()

    print(f"\nposter ({len(curator.poster)}/{args.want} blurbs after {turn} turns):")
    for blurb in curator.poster:
        print(f"  * {blurb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
