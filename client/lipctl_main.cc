// lipctl: the LIP command-line tool. `lipctl help` lists the commands.
// Commands are rows of kCommands below; each lives in its own
// client/lipctl_*_commands.cc file (see client/lipctl_command.h).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client/lipctl_command.h"

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
      return c.run(std::vector<std::string>(argv + 3, argv + argc));
    }
  }
  std::fprintf(stderr, "lipctl: unknown command \"%s %s\"; see `lipctl help`\n", argv[1], argv[2]);
  return lip::kLipctlUsage;
}
