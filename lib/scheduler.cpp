#include "samcli/scheduler.hpp"

#include <cstdlib>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif

#include "samcli/error.hpp"

namespace samcli {
namespace {

// A variable holding a non-negative integer; nullopt when unset or empty.
std::optional<int> countVariable(const Environment& env, const char* name) {
  const char* value = env(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string text(value);
  if (text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos) return std::stoi(text);
  throw UsageError(std::string(name) + "='" + text.substr(0, 40) + "' is not a task number or count");
}

int affinityCores() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

const Environment& processEnvironment() {
  static const Environment env = [](const char* name) -> const char* { return std::getenv(name); };
  return env;
}

std::optional<ArrayTask> arrayTask(const Environment& env) {
  if (const auto id = countVariable(env, "SLURM_ARRAY_TASK_ID")) {
    ArrayTask task{*id, std::nullopt, "SLURM_ARRAY_TASK_ID=" + std::to_string(*id)};
    const auto count = countVariable(env, "SLURM_ARRAY_TASK_COUNT");
    const auto min = countVariable(env, "SLURM_ARRAY_TASK_MIN");
    const auto max = countVariable(env, "SLURM_ARRAY_TASK_MAX");
    const auto step = countVariable(env, "SLURM_ARRAY_TASK_STEP");
    if (count) task.origin += ", SLURM_ARRAY_TASK_COUNT=" + std::to_string(*count);
    if (min && max) task.origin += ", SLURM_ARRAY_TASK_MIN=" + std::to_string(*min) + ", _MAX=" + std::to_string(*max);
    if (count && min == 0 && max == *count - 1 && step.value_or(1) == 1) task.count = count;
    return task;
  }
  if (const auto index = countVariable(env, "JOB_COMPLETION_INDEX")) {
    return ArrayTask{*index, std::nullopt, "JOB_COMPLETION_INDEX=" + std::to_string(*index)};
  }
  return std::nullopt;
}

int threadCount(int requested, const Environment& env) {
  if (requested > 0) return requested;
  if (const auto cpus = countVariable(env, "SLURM_CPUS_PER_TASK"); cpus && *cpus > 0) return *cpus;
  return affinityCores();
}

}  // namespace samcli
