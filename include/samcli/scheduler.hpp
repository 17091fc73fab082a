#pragma once
// What a batch scheduler tells the process it started, through the environment it sets: the
// position of a Slurm array task or of a Kubernetes indexed Job's pod (--shard auto), and the CPUs
// Slurm allotted the task (--threads 0).
#include <functional>
#include <optional>
#include <string>

namespace samcli {

// An environment lookup: std::getenv for the process, a table in tests. nullptr when unset.
using Environment = std::function<const char*(const char*)>;
const Environment& processEnvironment();

// One task of an array job: its 0-based index and, when the scheduler says it, the array's size.
struct ArrayTask {
  int index = 0;
  std::optional<int> count;
  std::string origin;  // where they were read, for messages: "SLURM_ARRAY_TASK_ID=1, ..."
};

// The array task this process is, if any: Slurm's SLURM_ARRAY_TASK_ID first, then Kubernetes'
// JOB_COMPLETION_INDEX (which comes without a count). Slurm's SLURM_ARRAY_TASK_COUNT is the shard
// count only for an array of consecutive IDs from 0 (--array=0-N, any %throttle): a resubmitted
// part such as --array=1 has a count of 1, and taking it would process every image again.
// Throws UsageError naming a variable that is not a number.
std::optional<ArrayTask> arrayTask(const Environment& env);

// The intra-op thread count for --threads `requested`: itself when > 0; for 0, the CPUs Slurm
// allotted the task (SLURM_CPUS_PER_TASK) or else the cores this process may run on (its affinity
// mask, which taskset, cpusets and containers narrow), at least 1.
int threadCount(int requested, const Environment& env);

}  // namespace samcli
