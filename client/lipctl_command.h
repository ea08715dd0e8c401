// lipctl's subcommand interface. Each command lives in its own
// client/lipctl_<topic>_commands.cc, is declared here, and gets one row in
// the dispatch table in client/lipctl_main.cc:
//
//   lipctl <group> <name> [args...]   ->   run(args)
//
// `args` are the arguments after <group> <name>. A command returns its exit
// status: kLipctlOk, kLipctlFailed (the operation ran and failed, e.g. a bad
// packet), or kLipctlUsage (bad arguments or unreadable input). Commands write
// results to stdout (JSON where it is data) and diagnostics to stderr.
//
// LipctlArgs is an optional helper for commands: it splits --key=value,
// --key value, bare --flag (value "true") and positional arguments, and
// refuses flags the command did not declare.
#ifndef LIP_CLIENT_LIPCTL_COMMAND_H_
#define LIP_CLIENT_LIPCTL_COMMAND_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lip {

inline constexpr int kLipctlOk = 0;
inline constexpr int kLipctlFailed = 1;
inline constexpr int kLipctlUsage = 2;

struct LipctlCommand {
  const char* group;    // e.g. "packet"
  const char* name;     // e.g. "encode"
  const char* usage;    // argument synopsis, e.g. "--input FILE --dtype fp16 --out FILE"
  const char* summary;  // one line
  int (*run)(const std::vector<std::string>& args);
};

// Parsed arguments of one command. Not thread-safe; plain value.
class LipctlArgs {
 public:
  // Parses `args`. `flags_with_value` take a value (--k=v or --k v);
  // `bool_flags` take none. INVALID_ARGUMENT naming an unknown flag or a
  // flag missing its value.
  static absl::StatusOr<LipctlArgs> Parse(const std::vector<std::string>& args,
                                          const std::set<std::string>& flags_with_value,
                                          const std::set<std::string>& bool_flags = {});

  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  // The flag's value, or `fallback` when absent.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // The flag as an integer in [min, max]; `fallback` when absent;
  // INVALID_ARGUMENT naming the flag and value otherwise.
  absl::StatusOr<long long> GetInt(const std::string& flag, long long fallback, long long min, long long max) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// The commands in this file set (one declaration per command).
int RunPacketEncode(const std::vector<std::string>& args);
int RunPacketInspect(const std::vector<std::string>& args);
int RunPacketDecode(const std::vector<std::string>& args);
// client/lipctl_health_command.cc: grpc.health.v1 check of a node.
int RunNodeHealth(const std::vector<std::string>& args);
// client/lipctl_bench_command.cc: the load test.
int RunBench(const std::vector<std::string>& args);

}  // namespace lip

#endif  // LIP_CLIENT_LIPCTL_COMMAND_H_
