#pragma once
// How the host's log lines look: text for people, or one JSON object per line for log
// shippers (--log-format json). Applies to spdlog's default logger; call once at startup,
// before other threads log.

#include <memory>

#include <spdlog/formatter.h>

#include "runtime/host.h"

namespace gust {

// A formatter writing {"time": "...Z", "level": "info", "msg": "..."} per line; the message
// is escaped, so any text a function logs stays one valid JSON line.
std::unique_ptr<spdlog::formatter> makeJsonLogFormatter();

void applyLogSettings(LogLevel level, LogFormat format);

}  // namespace gust
