"""A single-node Slurm cluster with accounting, started and stopped by a test: munged, MariaDB,
slurmdbd, slurmctld and slurmd from Debian's packages (munge, mariadb-server-core, slurmdbd,
slurm-wlm), all on localhost, configured in a temporary folder, running as root.

Only munge is not private to the cluster: Slurm's clients talk to slurmdbd through munge's
default socket whatever AuthInfo says (sacctmgr ignores it in 22.05), so a munged already serving
/run/munge/munge.socket.2 is used, else one is started there with a fresh key and stopped after.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

MUNGE_SOCKET = "/run/munge/munge.socket.2"
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd")
CLIENTS = ("munge", "unmunge", "sbatch", "squeue", "sinfo", "scancel", "sacct", "sacctmgr")


def why_not_startable():
    """None when this machine can run the cluster, else the reason (for a skip message)."""
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd (CI runs as root)"
    missing = [p for p in DAEMONS + CLIENTS if not shutil.which(p, path="/usr/sbin:/usr/bin:/sbin:/bin")]
    if missing:
        return ("missing %s: install slurm-wlm slurmdbd munge mariadb-server-core mariadb-client-core "
                "(scripts/setup-debian.sh does)" % ", ".join(missing))
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb():
    """Most of this machine's memory: what the node offers jobs (slurmd drains a node that has less
    than its RealMemory)."""
    with open("/proc/meminfo") as f:
        total_kb = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    return total_kb * 9 // 10 // 1024


def munge_works():
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        return cred.returncode == 0 and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True,
                                                       timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SlurmCluster:
    """with SlurmCluster(root) as cluster: cluster.env is the environment for sbatch and friends."""

    def __init__(self, root, cpus=2):
        self.root = root
        self.cpus = cpus
        self.pid_files = []  # stopped in reverse order
        self.database = None
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def run(self, *cmd, check=True, **kw):
        proc = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=120, **kw)
        if check and proc.returncode != 0:
            raise RuntimeError("%s exited %d: %s%s\n%s" % (cmd[0], proc.returncode, proc.stdout, proc.stderr,
                                                           self.logs()))
        return proc

    def logs(self):
        """The daemons' log tails, for a failure message."""
        out = []
        for name in sorted(os.listdir(self.path("log"))) if os.path.isdir(self.path("log")) else []:
            with open(self.path("log", name), errors="replace") as f:
                out.append("--- %s\n%s" % (name, "".join(f.readlines()[-15:])))
        return "\n".join(out)

    def daemon(self, pid_file, *cmd):
        """Starts a daemon that writes pid_file, and waits for the file."""
        self.run(*cmd)
        self.pid_files.append(pid_file)
        self.wait_for(lambda: os.path.exists(pid_file), "%s to write %s" % (cmd[0], pid_file))

    def wait_for(self, ready, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for %s\n%s" % (what, self.logs()))
            time.sleep(0.2)

    def start(self):
        for d in ("log", "munge", "db", "state", "spool", "run"):
            os.makedirs(self.path(d), exist_ok=True)
        self.start_munge()
        self.start_database()
        dbd_port, ctld_port, slurmd_port = free_port(), free_port(), free_port()
        common = "AuthType=auth/munge\nSlurmUser=root\n"
        with open(self.path("slurmdbd.conf"), "w") as f:
            f.write(common + "DbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort=%d\n"
                    "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort=%d\n"
                    "StorageUser=root\nStorageLoc=slurm_acct\nLogFile=%s\nPidFile=%s\n"
                    % (dbd_port, self.db_port, self.path("log", "slurmdbd.log"), self.path("run", "slurmdbd.pid")))
        os.chmod(self.path("slurmdbd.conf"), 0o600)  # slurmdbd refuses a readable one (it holds DB settings)
        with open(self.path("slurm.conf"), "w") as f:
            f.write(common + "ClusterName=samcli\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=%d\n"
                    "SlurmdPort=%d\nSlurmdUser=root\nStateSaveLocation=%s\nSlurmdSpoolDir=%s\n"
                    "SlurmctldPidFile=%s\nSlurmdPidFile=%s\nSlurmctldLogFile=%s\nSlurmdLogFile=%s\n"
                    # No cgroups: processes are tracked by parent, CPUs are not pinned (a container
                    # may not let slurmd manage cgroups); the tools read SLURM_CPUS_PER_TASK.
                    "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n"
                    "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nReturnToService=2\n"
                    "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
                    "AccountingStoragePort=%d\nJobAcctGatherType=jobacct_gather/none\n"
                    "KillWait=5\nMinJobAge=600\n"
                    "NodeName=localhost NodeAddr=127.0.0.1 CPUs=%d RealMemory=%d State=UNKNOWN\n"
                    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
                    % (ctld_port, slurmd_port, self.path("state"), self.path("spool"),
                       self.path("run", "slurmctld.pid"), self.path("run", "slurmd.pid"),
                       self.path("log", "slurmctld.log"), self.path("log", "slurmd.log"), dbd_port, self.cpus,
                       memory_mb()))
        self.daemon(self.path("run", "slurmdbd.pid"), "slurmdbd")
        self.wait_for(lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
                      "slurmdbd to answer")
        self.run("sacctmgr", "-i", "add", "cluster", "samcli")
        self.daemon(self.path("run", "slurmctld.pid"), "slurmctld")
        self.daemon(self.path("run", "slurmd.pid"), "slurmd", "-N", "localhost")
        self.wait_for(lambda: self.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle",
                      "the node to be idle")

    def start_munge(self):
        if munge_works():
            return
        key = self.path("munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(self.path("munge"), 0o700)
        os.chmod(key, 0o600)
        os.makedirs(os.path.dirname(MUNGE_SOCKET), exist_ok=True)
        self.daemon(self.path("run", "munged.pid"), "munged", "--force", "--key-file=" + key,
                    "--socket=" + MUNGE_SOCKET, "--pid-file=" + self.path("run", "munged.pid"),
                    "--log-file=" + self.path("log", "munged.log"), "--seed-file=" + self.path("munge", "seed"))
        self.wait_for(munge_works, "munged")

    def start_database(self):
        self.db_port = free_port()
        self.run("mariadb-install-db", "--no-defaults", "--datadir=" + self.path("db"), "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db")
        # Its own daemon (not a service): skip-grant-tables lets slurmdbd create its database as root.
        self.database = subprocess.Popen(["mariadbd", "--no-defaults", "--datadir=" + self.path("db"), "--user=root",
                          "--socket=" + self.path("run", "mysql.sock"), "--port=%d" % self.db_port,
                          "--bind-address=127.0.0.1", "--skip-grant-tables", "--innodb-buffer-pool-size=64M",
                          "--log-error=" + self.path("log", "mariadb.log")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

        def accepting():
            try:
                socket.create_connection(("127.0.0.1", self.db_port), timeout=1).close()
                return True
            except OSError:
                return False
        self.wait_for(accepting, "MariaDB")

    def stop(self):
        for pid_file in reversed(self.pid_files):
            try:
                with open(pid_file) as f:
                    pid = int(f.read().split()[0])
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                continue
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self.pid_files = []
        if self.database:  # after slurmdbd, its client
            self.database.terminate()
            try:
                self.database.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.database.kill()
                self.database.wait()
            self.database = None

    # --- jobs -------------------------------------------------------------------------------------

    def sbatch(self, *args, cwd=None):
        """Submits; returns the job id."""
        return self.run("sbatch", "--parsable", *args, cwd=cwd).stdout.strip().split(";")[0]

    def tasks(self, job):
        """{"<job>_<task>": (state, exit code "N:S")} from sacct, array tasks one by one (an array of
        one task, and a job that is no array, as "<job>")."""
        out = self.run("sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State,ExitCode").stdout
        states = {}
        for line in out.splitlines():
            task, state, code = line.split("|")
            states[task] = (state.split()[0], code)
        return states

    def wait(self, job, timeout=300):
        """Waits until no task of the job is pending or running; returns tasks()."""
        self.wait_for(lambda: self.run("squeue", "-h", "-j", job, check=False).stdout.strip() == "",
                      "job %s to end" % job, timeout)
        # slurmctld tells slurmdbd asynchronously: wait until sacct has every task's end.
        self.wait_for(lambda: all(s not in ("PENDING", "RUNNING", "REQUEUED") for s, _ in self.tasks(job).values()),
                      "sacct to record job %s" % job, 60)
        return self.tasks(job)
