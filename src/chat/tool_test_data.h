// The golden data the tool-call tests share (tests/data/templates/golden.json
// and tools.json, made by make_tools_golden.py) and its conversion into
// chat:: values. Included by tool_templates_test.cpp and tool_calls_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "chat/tool_calls.h"

namespace hearth::chat {
namespace {

using ojson = nlohmann::ordered_json;

inline const ojson& load(const std::string& file) {
  static std::map<std::string, ojson> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/" + file);
    it = cache.emplace(file, ojson::parse(f)).first;
  }
  return it->second;
}

inline std::string source_of(const std::string& name) {
  return load("golden.json")["templates"][name]["template"].get<std::string>();
}

inline RenderOptions golden_options() {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;  // golden.json's now: 2026-01-15T00:00:00
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  std::time_t t = timegm(&tm);
  gmtime_r(&t, &tm);
  o.now = tm;
  return o;
}

// A context's messages (OpenAI's shape) as chat::Message values.
inline std::vector<Message> to_messages(const ojson& list) {
  std::vector<Message> out;
  for (const ojson& m : list) {
    Message msg{m["role"].get<std::string>(), m["content"].get<std::string>()};
    msg.thinking = m.value("reasoning_content", "");
    msg.tool_call_id = m.value("tool_call_id", "");
    msg.name = m.value("name", "");
    if (m.contains("tool_calls"))
      for (const ojson& c : m["tool_calls"])
        msg.tool_calls.push_back({c["id"].get<std::string>(),
                                  c["function"]["name"].get<std::string>(),
                                  c["function"]["arguments"]});
    out.push_back(std::move(msg));
  }
  return out;
}

inline std::vector<Tool> to_tools(const ojson& list) {
  std::vector<Tool> out;
  for (const ojson& t : list)
    out.push_back({t["function"]["name"].get<std::string>(),
                   t["function"]["description"].get<std::string>(), t["function"]["parameters"]});
  return out;
}

inline const std::vector<Tool>& weather_tools() {
  static const std::vector<Tool> tools = to_tools(load("tools.json")["contexts"]["call"]["tools"]);
  return tools;
}

}  // namespace
}  // namespace hearth::chat
