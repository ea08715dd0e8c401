// lipctl: the LIP command-line tool. `lipctl help` lists the commands.
// Commands are rows of kCommands below; each lives in its own
// client/lipctl_*_commands.cc file (see client/lipctl_command.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "client/lipctl_command.h"
#include "client/lipctl_node_commands.h"

namespace lip {
namespace {

const LipctlCommand kCommands[] = {
    {"packet", "encode",
     "--input TENSOR.npy|--input RAW.f32 --rows M --cols D  --out PACKET.bin [--dtype fp32|fp16|bf16|int8] "
     "[--labels a,b | --max-new-tokens N] [--sender NAME] [--bridge NAME] ...",
     "encode a tensor file into a LIP v1 packet; prints sizes and round-trip error as JSON", &RunPacketEncode},
    {"packet", "inspect", "PACKET.bin [--compare TENSOR.npy] [--values N]",
     "validate a packet and print its header as JSON; exit 1 with the reason if it is bad", &RunPacketInspect},
    {"packet", "decode", "PACKET.bin --out TENSOR.npy",
     "validate a packet and write its dequantized tensor as .npy (fp32)", &RunPacketDecode},
#define LIP_NODE_FLAGS "--registry|--sender|--receiver HOST:PORT --cert F --key F --ca F [--insecure]"
    {"registry", "upload", "DIR [--name N --sender-model M --receiver-model M --task T] " LIP_NODE_FLAGS,
     "upload a bridge checkpoint directory (defaults from its bridge.json); admin only", &RunRegistryUpload},
    {"registry", "download", "NAME --out DIR [--version V] [--files a,b] " LIP_NODE_FLAGS,
     "download and verify a bridge checkpoint", &RunRegistryDownload},
    {"registry", "list", "[--name N] " LIP_NODE_FLAGS, "list stored bridges as JSON", &RunRegistryList},
    {"registry", "resolve", "--sender-model M --receiver-model M [--task T] " LIP_NODE_FLAGS,
     "the newest bridge for a model pair (and task)", &RunRegistryResolve},
    {"registry", "nodes", "[--role sender|receiver|registry] " LIP_NODE_FLAGS,
     "registered nodes with liveness", &RunRegistryNodes},
    {"registry", "links", LIP_NODE_FLAGS, "link statistics (messages, bytes, latency)", &RunRegistryLinks},
    {"node", "send", "TEXT --sender HOST:PORT [--to RECEIVER] [--labels a,b | --max-new-tokens N] [--dtype D]",
     "send a text through a sender to a receiver; prints answer, timings and bytes", &RunNodeSend},
    {"node", "fanout", "TEXT --sender HOST:PORT --receiver-models A,B [--to ADDR_A,ADDR_B] [--labels a,b] [--dtype D]",
     "encode once, send to several receivers; prints each receiver's answer or error and the joint answer",
     &RunNodeFanOut},
    {"node", "relay", "TEXT --sender HOST:PORT [--to RECEIVER] [--generate-tokens N (default 32)] [--labels a,b]",
     "text relay through a sender: the sender writes a message about TEXT (at most N tokens), the receiver "
     "reads it", &RunNodeRelay},
    {"node", "send-text", "TEXT --receiver HOST:PORT [--labels a,b] (sender certificate)",
     "direct text: the receiver reads TEXT itself (nothing generated, nothing encoded)", &RunNodeSendText},
    {"node", "send-packet", "PACKET.bin --receiver HOST:PORT (sender certificate)",
     "send a packet file to a receiver", &RunNodeSendPacket},
    {"node", "health", "--node HOST:PORT [--service NAME] --cert F --key F --ca F [--server-name N] [--timeout-ms 3000]",
     "grpc.health.v1 check of any node; prints its status, exit 0 only when SERVING", &RunNodeHealth},
    {"bench", "run",
     "--sender HOST:PORT [--receiver HOST:PORT] [--paths latent,text_relay,direct_text] [--messages FILE] "
     "[--task T] [--concurrency 1,2,4 | --max-concurrency N] [--rates R,.. | --rate-fractions F,..] "
     "[--duration-s S] [--max-messages N] [--generate-tokens 32] [--json F] [--csv F] ...",
     "load test: closed-loop sweeps and open-loop Poisson arrivals per path; JSON + CSV (benchmarks/README.md)",
     &RunBench},
};

void PrintHelp(std::FILE* out) {
  std::fprintf(out, "usage: lipctl <group> <command> [args...]\n\ncommands:\n");
  for (const LipctlCommand& c : kCommands) {
    std::fprintf(out, "  lipctl %s %s %s\n      %s\n", c.group, c.name, c.usage, c.summary);
  }
  std::fprintf(out, "\nexit status: 0 ok, 1 failed (e.g. bad packet), 2 usage or input error\n");
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    lip::PrintHelp(argc < 2 ? stderr : stdout);
    return argc < 2 ? lip::kLipctlUsage : lip::kLipctlOk;
  }
  if (argc < 3) {
    std::fprintf(stderr, "lipctl: \"%s\" needs a command; see `lipctl help`\n", argv[1]);
    return lip::kLipctlUsage;
  }
  for (const lip::LipctlCommand& c : lip::kCommands) {
    if (std::strcmp(argv[1], c.group) == 0 && std::strcmp(argv[2], c.name) == 0) {
      const int status = c.run(std::vector<std::string>(argv + 3, argv + argc));
      // gRPC's background threads may still be finishing TLS work on closed channels when a
      // command returns; a normal exit then runs static destructors and OpenSSL's atexit cleanup
      // under them (ASan saw a double free in a gRPC thread at exit after a refused bench run).
      // Every command has written and closed its files by now: flush and leave without teardown.
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(status);
    }
  }
  std::fprintf(stderr, "lipctl: unknown command \"%s %s\"; see `lipctl help`\n", argv[1], argv[2]);
  return lip::kLipctlUsage;
}
