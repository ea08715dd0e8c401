#include "tests/tokenizer/golden_file.h"

#include <fstream>
#include <sstream>

namespace lip {

uint64_t Fnv64(std::string_view bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 0x100000001B3ull;
  }
  return h;
}

uint64_t Fnv64Ids(const std::vector<int32_t>& ids) {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    const uint32_t u = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((u >> (8 * k)) & 0xFF));
  }
  return Fnv64(bytes);
}

std::vector<GoldenHashLine> ReadGoldenHashes(const std::string& path) {
  std::vector<GoldenHashLine> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    GoldenHashLine g;
    std::string ids_hex, text_hex;
    if (!(fields >> g.set >> g.index >> g.num_ids >> ids_hex >> text_hex)) continue;
    g.ids_hash = std::stoull(ids_hex, nullptr, 16);
    g.decoded_hash = std::stoull(text_hex, nullptr, 16);
    lines.push_back(g);
  }
  return lines;
}

std::vector<nlohmann::json> ReadJsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::vector<std::string> ReadDatasetTexts(const std::string& path) {
  std::vector<std::string> texts;
  for (const auto& j : ReadJsonLines(path)) texts.push_back(j.at("text").get<std::string>());
  return texts;
}

}  // namespace lip
