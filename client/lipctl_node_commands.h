// lipctl commands that talk to running nodes over mutual TLS (client/lip_client.h):
//   lipctl registry upload|download|list|resolve|nodes|links ...
//   lipctl node send|fanout|relay|send-text|send-packet ...
// Every command takes the connection flags
//   --registry|--sender|--receiver HOST:PORT   the node to call
//   --cert FILE --key FILE --ca FILE           this client's identity (or --insecure)
//   --server-name NAME --timeout-ms N
// and prints its result as JSON on stdout. Exit status as in lipctl_command.h.
#ifndef LIP_CLIENT_LIPCTL_NODE_COMMANDS_H_
#define LIP_CLIENT_LIPCTL_NODE_COMMANDS_H_

#include <string>
#include <vector>

namespace lip {

int RunRegistryUpload(const std::vector<std::string>& args);
int RunRegistryDownload(const std::vector<std::string>& args);
int RunRegistryList(const std::vector<std::string>& args);
int RunRegistryResolve(const std::vector<std::string>& args);
int RunRegistryNodes(const std::vector<std::string>& args);
int RunRegistryLinks(const std::vector<std::string>& args);
int RunNodeSend(const std::vector<std::string>& args);
int RunNodeFanOut(const std::vector<std::string>& args);
int RunNodeRelay(const std::vector<std::string>& args);
int RunNodeSendText(const std::vector<std::string>& args);
int RunNodeSendPacket(const std::vector<std::string>& args);

}  // namespace lip

#endif  // LIP_CLIENT_LIPCTL_NODE_COMMANDS_H_
