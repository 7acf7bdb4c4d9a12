#include "cli/logging.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>

namespace datumfs {
namespace {

void Install(std::shared_ptr<spdlog::logger> logger, const std::string& level) {
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void LogToStderr(const std::string& level) {
  spdlog::drop("datumfs");
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

Status LogToFile(const std::string& path, const std::string& level) {
  // Created here first, so that it is 0600 (log lines name files) and a bad path is an errno.
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(path, errno);
  close(fd);
  std::shared_ptr<spdlog::logger> logger;
  try {
    spdlog::drop("datumfs");
    logger = spdlog::basic_logger_mt("datumfs", path);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::Errno(EIO, path, e.what());
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%P] %l %v");
  Install(std::move(logger), level);
  spdlog::default_logger()->flush_on(spdlog::level::trace);  // every line, for tail -f
  return Status();
}

}  // namespace datumfs
