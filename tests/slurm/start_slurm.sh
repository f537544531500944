#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine (partition `debug`), for tests/executors/test_slurm.py and .ci/run.
#
# Does nothing when a controller already answers. Otherwise, as root: installs Debian's slurmctld,
# slurmd, slurm-client and munge when missing (about 10 s), writes a one-node slurm.conf
# (proctrack/linuxproc and task/none: no cgroups needed in a container; select/cons_tres), makes a
# munge key from /dev/urandom, runs munged as user munge, starts slurmctld and slurmd and waits until
# the node is idle. Exit 0: `sbatch -p debug` works. Exit 2: not root / no apt (callers skip or fail).
set -euo pipefail

answers() { command -v sinfo >/dev/null 2>&1 && timeout 10 sinfo -h -p debug -o %T 2>/dev/null | grep -Eq 'idle|mix|alloc'; }
if answers; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "start_slurm.sh: no SLURM controller answers and not root: cannot start one" >&2; exit 2; fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || { echo "start_slurm.sh: no apt-get to install SLURM" >&2; exit 2; }
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=rbm
SlurmctldHost=${host}(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF

# munge: a fresh key, the daemon as its own user
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 60); do
  state=$(timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null || true)
  case "$state" in
    idle*|mix*|alloc*) exit 0 ;;
    down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
echo "start_slurm.sh: node ${host} did not become idle (see /var/log/slurm/)" >&2
exit 1
