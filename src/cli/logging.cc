#include "cli/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

namespace datumfs {
namespace {

void Install(std::shared_ptr<spdlog::logger> logger, const std::string& level) {
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void LogToStderr(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("datumfs");
  logger->set_pattern("%H:%M:%S.%e %^%l%$ %v");
  Install(std::move(logger), level);
}

void LogToSyslog(const std::string& level) {
  spdlog::drop("datumfs");
  auto logger = spdlog::syslog_logger_mt("datumfs", "datumfs", LOG_PID, LOG_DAEMON);
  logger->set_pattern("%v");
  Install(std::move(logger), level);
}

}  // namespace datumfs
