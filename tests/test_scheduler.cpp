// What a batch scheduler tells a task through its environment: a Slurm array task's or Kubernetes
// pod's position (--shard auto) and Slurm's CPUs per task (--threads 0).
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <thread>

#include "samcli/error.hpp"
#include "samcli/inputs.hpp"
#include "samcli/scheduler.hpp"

using namespace samcli;

namespace {

// An environment holding exactly `vars`.
Environment environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// What `sbatch --array=0-2` sets in task `id`.
std::map<std::string, std::string> slurmArray(const std::string& id, const std::string& count, const std::string& min,
                                              const std::string& max) {
  return {{"SLURM_ARRAY_TASK_ID", id},
          {"SLURM_ARRAY_TASK_COUNT", count},
          {"SLURM_ARRAY_TASK_MIN", min},
          {"SLURM_ARRAY_TASK_MAX", max},
          {"SLURM_ARRAY_TASK_STEP", "1"}};
}

}  // namespace

TEST_CASE("scheduler: a Slurm array of IDs 0..N-1 gives the task's index and the count", "[scheduler]") {
  const auto task = arrayTask(environment(slurmArray("1", "3", "0", "2")));
  REQUIRE(task);
  CHECK(task->index == 1);
  CHECK(task->count == 3);
  CHECK(task->origin == "SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT=3, SLURM_ARRAY_TASK_MIN=0, _MAX=2");
}

TEST_CASE("scheduler: an array that is not 0..N-1 gives no count", "[scheduler]") {
  // A resubmitted part (--array=1), an array from 1 (--array=1-3) and a stepped one (--array=0-4:2).
  for (const auto& vars : {slurmArray("1", "1", "1", "1"), slurmArray("2", "3", "1", "3")}) {
    const auto task = arrayTask(environment(vars));
    REQUIRE(task);
    CHECK_FALSE(task->count);
  }
  auto stepped = slurmArray("2", "3", "0", "4");
  stepped["SLURM_ARRAY_TASK_STEP"] = "2";
  CHECK_FALSE(arrayTask(environment(stepped))->count);
}

TEST_CASE("scheduler: a Kubernetes indexed Job's pod has an index and no count", "[scheduler]") {
  const auto task = arrayTask(environment({{"JOB_COMPLETION_INDEX", "4"}}));
  REQUIRE(task);
  CHECK(task->index == 4);
  CHECK_FALSE(task->count);
  CHECK_FALSE(arrayTask(environment({})));
  CHECK_FALSE(arrayTask(environment({{"SLURM_ARRAY_TASK_ID", ""}})));
  CHECK_THROWS_WITH(arrayTask(environment({{"SLURM_ARRAY_TASK_ID", "x1"}})),
                    Catch::Contains("SLURM_ARRAY_TASK_ID='x1'") && Catch::Contains("not a task number"));
}

TEST_CASE("scheduler: --shard auto and auto/N take the task's place", "[scheduler][inputs]") {
  const Shard fromSlurm = parseShard("auto", environment(slurmArray("2", "3", "0", "2")));
  CHECK(fromSlurm.index == 2);
  CHECK(fromSlurm.count == 3);
  CHECK(fromSlurm.origin.find("SLURM_ARRAY_TASK_ID=2") != std::string::npos);

  // A resubmitted task 1 of the 3: the count must be given.
  const auto resubmitted = environment(slurmArray("1", "1", "1", "1"));
  CHECK_THROWS_WITH(parseShard("auto", resubmitted),
                    Catch::Contains("shard auto: the number of shards is not known") && Catch::Contains("give it: --shard auto/N"));
  const Shard given = parseShard("auto/3", resubmitted);
  CHECK(given.index == 1);
  CHECK(given.count == 3);

  const Shard pod = parseShard("auto/5", environment({{"JOB_COMPLETION_INDEX", "4"}}));
  CHECK(pod.index == 4);
  CHECK(pod.count == 5);
  CHECK_THROWS_WITH(parseShard("auto/4", environment({{"JOB_COMPLETION_INDEX", "4"}})),
                    Catch::Contains("task 4") && Catch::Contains("not below the shard count 4"));
  CHECK_THROWS_WITH(parseShard("auto", environment({{"JOB_COMPLETION_INDEX", "0"}})),
                    Catch::Contains("JOB_COMPLETION_INDEX=0") && Catch::Contains("auto/N"));
  CHECK_THROWS_WITH(parseShard("auto", environment({})),
                    Catch::Contains("not a Slurm array task") && Catch::Contains("give --shard I/N"));
  for (const char* bad : {"auto/", "auto/0", "auto/x", "automatic", "auto/3/1"}) {
    INFO(bad);
    CHECK_THROWS_AS(parseShard(bad, environment(slurmArray("0", "3", "0", "2"))), UsageError);
  }
  CHECK(parseShard("1/3", environment({})).origin.empty());
}

TEST_CASE("scheduler: --threads 0 follows SLURM_CPUS_PER_TASK, else the cores this process may use", "[scheduler]") {
  CHECK(threadCount(3, environment({{"SLURM_CPUS_PER_TASK", "8"}})) == 3);
  CHECK(threadCount(0, environment({{"SLURM_CPUS_PER_TASK", "8"}})) == 8);
  const int cores = threadCount(0, environment({}));
  CHECK(cores >= 1);
  CHECK(cores <= int(std::max(1u, std::thread::hardware_concurrency())));
  CHECK_THROWS_AS(threadCount(0, environment({{"SLURM_CPUS_PER_TASK", "many"}})), UsageError);
}
