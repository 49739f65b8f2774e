#!/usr/bin/env bash
# Copied from the team's shared/slurm-local (tested there on this kind of machine); kept in the
# repo because forks and CI have no ../shared. Used by test/test_slurm.py.
# start-slurm.sh — bring up a REAL single-node Slurm cluster on localhost
# (Debian 12 bookworm, root, no systemd, no Docker, loopback only).
#
# Starts idempotently: munged -> [MariaDB -> slurmdbd -> sacctmgr setup] ->
# slurmctld -> slurmd, waits until the node is "idle", prints sinfo.
# Re-running it while everything is healthy only prints sinfo.
# Stop everything again with stop-slurm.sh (kills by PID file only).
#
# Settings (environment variables, all optional):
#   SLURM_LOCAL_ACCOUNTING  dbd  (default) slurmdbd + a private MariaDB, so that
#                                sacct / sacctmgr work like on a real cluster
#                           none AccountingStorageType=accounting_storage/none:
#                                lighter, but sacct fails ("accounting storage is
#                                disabled"): the Snakemake profile MUST then set
#                                `slurm-status-command: squeue`
#   SLURM_LOCAL_GPUS        number of fake GPUs (gres/gpu) on the node   [2]
#                           (0 disables GresTypes=gpu)
#   SLURM_LOCAL_GPU_TYPE    optional GPU type name, e.g. a100: then both
#                           --gpus=N and --gpus=a100:N (plugin: gpu_model) work
#   SLURM_LOCAL_CPUS        CPUs the node advertises       [real count, slurmd -C]
#   SLURM_LOCAL_MEMORY_MB   RealMemory the node advertises [real, slurmd -C]
#                           (either one set -> SlurmdParameters=config_overrides,
#                           so jobs asking for more than the machine has can
#                           still be scheduled; they are NOT limited, no cgroups)
#   SLURM_LOCAL_PARTITION   partition name(s), comma-separated; all hold the
#                           one node, the first is the default          [debug]
#   SLURM_LOCAL_CLUSTER     ClusterName                                  [localcluster]
#   SLURM_LOCAL_ACCOUNT     Slurm account created in dbd mode            [ci]
#   SLURM_LOCAL_USERS       users added to that account (dbd mode)       [root + $SUDO_USER]
#   SLURM_LOCAL_DB_PORT     TCP port of the private MariaDB (127.0.0.1)  [3307]
#   SLURM_LOCAL_MIN_JOB_AGE MinJobAge seconds (squeue keeps ended jobs)  [600]
#   SLURM_LOCAL_CLEAN       1 = stop daemons and wipe Slurm state first  [0]
#   SLURM_LOCAL_TIMEOUT     seconds to wait for each daemon / the node   [120]
#   SLURM_LOCAL_SKIP_INSTALL 1 = never call apt-get                       [0]
set -euo pipefail

ACCOUNTING="${SLURM_LOCAL_ACCOUNTING:-dbd}"
GPUS="${SLURM_LOCAL_GPUS:-2}"
GPU_TYPE="${SLURM_LOCAL_GPU_TYPE:-}"
FAKE_CPUS="${SLURM_LOCAL_CPUS:-}"
FAKE_MEM="${SLURM_LOCAL_MEMORY_MB:-}"
PARTITION="${SLURM_LOCAL_PARTITION:-debug}"
CLUSTER="${SLURM_LOCAL_CLUSTER:-localcluster}"
ACCOUNT="${SLURM_LOCAL_ACCOUNT:-ci}"
USERS="${SLURM_LOCAL_USERS:-root${SUDO_USER:+ $SUDO_USER}}"
DB_PORT="${SLURM_LOCAL_DB_PORT:-3307}"
MIN_JOB_AGE="${SLURM_LOCAL_MIN_JOB_AGE:-600}"
CLEAN="${SLURM_LOCAL_CLEAN:-0}"
TIMEOUT="${SLURM_LOCAL_TIMEOUT:-120}"
SKIP_INSTALL="${SLURM_LOCAL_SKIP_INSTALL:-0}"

CONF_DIR=/etc/slurm
RUN_DIR=/run/slurm-local            # pid files, fake GPU devices, mysql/ (socket, pid)
LIB_DIR=/var/lib/slurm-local        # private MariaDB datadir
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
DB_DATADIR="$LIB_DIR/mysql"
DB_SOCKET="$RUN_DIR/mysql/mysqld.sock"
DB_PASS=slurm-local-pw              # loopback-only throwaway database

log() { printf '[start-slurm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
case "$ACCOUNTING" in dbd|none) ;; *) die "SLURM_LOCAL_ACCOUNTING must be dbd or none";; esac
[[ "$GPUS" =~ ^[0-9]+$ ]] || die "SLURM_LOCAL_GPUS must be an integer"
[[ -z $GPU_TYPE || $GPU_TYPE =~ ^[A-Za-z0-9_.]+$ ]] || die "SLURM_LOCAL_GPU_TYPE must match [A-Za-z0-9_.]+"
[[ -z $FAKE_CPUS || $FAKE_CPUS =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_CPUS must be a positive integer"
[[ -z $FAKE_MEM || $FAKE_MEM =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_MEMORY_MB must be a positive integer"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# pid_alive FILE -> 0 if the pid in FILE is a live (non-zombie) process
pid_alive() {
    local f=$1 pid st
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    st=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ -n $st && $st != Z* ]]
}

# wait_for DESCRIPTION COMMAND... : retry COMMAND for $TIMEOUT seconds
wait_for() {
    local what=$1; shift
    local i
    for ((i = 0; i < TIMEOUT * 2; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "timed out after ${TIMEOUT}s waiting for: $what"
}

# ---------------------------------------------------------------- install ---
need_pkgs=(munge slurmctld slurmd slurm-client)
if [[ $ACCOUNTING == dbd ]]; then need_pkgs+=(slurmdbd mariadb-server); fi
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $SKIP_INSTALL == 1 ]] && die "missing packages: ${missing[*]}"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d on a machine without systemd denies starting the services,
    # which is what we want: we start them ourselves below.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ------------------------------------------------------------ clean state ---
if [[ $CLEAN == 1 ]]; then
    log "SLURM_LOCAL_CLEAN=1: stopping daemons and wiping Slurm state"
    "$SCRIPT_DIR/stop-slurm.sh" || true
    rm -rf "${STATE_DIR:?}"/* "${SPOOL_DIR:?}"/* "${DB_DATADIR:?}"
fi

mkdir -p "$RUN_DIR" "$LIB_DIR" "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR" "$CONF_DIR"
chown slurm:slurm "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"

# ------------------------------------------------------------------ munge ---
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --force 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    log "starting munged"
    # munged daemonizes itself; run it as the munge user like the init script.
    runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null
    wait_for "munged" bash -c 'munge -n | unmunge'
fi

# ------------------------------------------------------------ slurm.conf ---
HOST=$(hostname -s)
# slurmd finds its NodeName via the hostname; srun (NoInAddrAny) binds to the
# address the hostname resolves to: make sure it resolves (to loopback).
if ! getent hosts "$HOST" >/dev/null; then
    log "adding '127.0.0.1 $HOST' to /etc/hosts (hostname did not resolve)"
    echo "127.0.0.1 $HOST" >> /etc/hosts
fi
# e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2
#       ThreadsPerCore=1 RealMemory=24105" — the real topology, so that slurmd
# does not report a mismatch (which drains the node).
NODE_HW=$(slurmd -C | head -n1)
[[ $NODE_HW == NodeName=* ]] || die "slurmd -C gave: $NODE_HW"
OVERRIDES_LINE="# node definition = real hardware (slurmd -C)"
# task/affinity binds tasks to the real cores (no cgroups needed); it cannot
# when the node advertises more CPUs than exist, so use task/none then.
TASK_PLUGIN=task/affinity
if [[ -n $FAKE_CPUS || -n $FAKE_MEM ]]; then
    real_cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_HW")
    real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_HW")
    c=${FAKE_CPUS:-$real_cpus}; m=${FAKE_MEM:-$real_mem}
    NODE_HW="NodeName=$HOST CPUs=$c Boards=1 SocketsPerBoard=1 CoresPerSocket=$c ThreadsPerCore=1 RealMemory=$m"
    # slurmd registers the configured values instead of the detected ones
    OVERRIDES_LINE="SlurmdParameters=config_overrides"
    if ((c > real_cpus)); then TASK_PLUGIN=task/none; fi
fi

GRES_NODE=""
GRES_TYPES_LINE="# no GPUs (SLURM_LOCAL_GPUS=0)"
if ((GPUS > 0)); then
    # gres/gpu needs a File= per GPU ("Removing file-less GPU" otherwise) and
    # the file must be a character/block device. Make /dev/null clones.
    mkdir -p "$RUN_DIR/fakegpu"
    for ((i = 0; i < GPUS; i++)); do
        dev="$RUN_DIR/fakegpu/gpu$i"
        if [[ ! -c $dev ]]; then
            rm -f "$dev"
            mknod -m 0666 "$dev" c 1 3 2>/dev/null || {
                log "WARN: mknod failed; using a regular file for $dev (slurmd logs an error but still counts it)"
                touch "$dev"
            }
        fi
    done
    GRES_NODE=" Gres=gpu:${GPU_TYPE:+$GPU_TYPE:}$GPUS"
    GRES_TYPES_LINE="GresTypes=gpu"
fi

PARTITION_LINES=""
IFS=, read -r -a parts <<<"$PARTITION"
for ((i = 0; i < ${#parts[@]}; i++)); do
    p=${parts[i]}
    [[ $p =~ ^[A-Za-z0-9_-]+$ ]] || die "bad partition name '$p' in SLURM_LOCAL_PARTITION"
    dflt=NO
    if ((i == 0)); then dflt=YES; fi
    PARTITION_LINES+="PartitionName=$p Nodes=$HOST Default=$dflt MaxTime=INFINITE State=UP"$'\n'
done
PARTITION_LINES=${PARTITION_LINES%$'\n'}

if [[ $ACCOUNTING == dbd ]]; then
    ACCT_CONF="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStorageEnforce=associations
AccountingStorageTRES=gres/gpu"
else
    ACCT_CONF="AccountingStorageType=accounting_storage/none"
fi

new_conf=$(cat <<EOF
# Generated by start-slurm.sh — single-node localhost test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
# slurmd and srun bind to the node's address (127.0.0.1) instead of 0.0.0.0
# (slurmctld/slurmdbd 22.05 still listen on 0.0.0.0; all peers are 127.0.0.1)
CommunicationParameters=NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups anywhere
ProctrackType=proctrack/linuxproc
TaskPlugin=$TASK_PLUGIN
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without this a job that gives no --mem gets the WHOLE node's memory
DefMemPerCPU=1024
$GRES_TYPES_LINE
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
$ACCT_CONF
JobCompType=jobcomp/none
# keep finished jobs visible to squeue/scontrol for a while
MinJobAge=$MIN_JOB_AGE
SlurmctldTimeout=60
SlurmdTimeout=300
InactiveLimit=0
KillWait=10
Waittime=0
$OVERRIDES_LINE
$NODE_HW NodeAddr=127.0.0.1$GRES_NODE State=UNKNOWN
$PARTITION_LINES
EOF
)
new_gres=""
if ((GPUS > 0)); then
    new_gres="NodeName=$HOST Name=gpu${GPU_TYPE:+ Type=$GPU_TYPE} File=$RUN_DIR/fakegpu/gpu[0-$((GPUS - 1))]"
fi

conf_changed=0
if [[ ! -f $CONF_DIR/slurm.conf ]] || [[ "$(cat "$CONF_DIR/slurm.conf")" != "$new_conf" ]]; then
    conf_changed=1
fi
if [[ "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" != "$new_gres" ]]; then
    conf_changed=1
fi
if [[ $ACCOUNTING == dbd ]]; then
    new_dbd=$(cat <<EOF
# Generated by start-slurm.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
)
    if [[ "$(cat "$CONF_DIR/slurmdbd.conf" 2>/dev/null)" != "$new_dbd" ]]; then
        conf_changed=1
        if pid_alive "$RUN_DIR/slurmdbd.pid"; then
            log "slurmdbd.conf changed: stopping slurmdbd"
            pid=$(<"$RUN_DIR/slurmdbd.pid"); kill "$pid" 2>/dev/null || true
            for ((i = 0; i < 40; i++)); do pid_alive "$RUN_DIR/slurmdbd.pid" || break; sleep 0.5; done
        fi
    fi
fi

if [[ $conf_changed == 1 ]]; then
    if pid_alive "$RUN_DIR/slurmctld.pid" || pid_alive "$RUN_DIR/slurmd.pid"; then
        log "configuration changed: restarting slurmctld/slurmd"
        for d in slurmd slurmctld; do
            if pid_alive "$RUN_DIR/$d.pid"; then
                pid=$(<"$RUN_DIR/$d.pid"); kill "$pid" 2>/dev/null || true
                for ((i = 0; i < 40; i++)); do pid_alive "$RUN_DIR/$d.pid" || break; sleep 0.5; done
            fi
        done
    fi
    printf '%s\n' "$new_conf" > "$CONF_DIR/slurm.conf"
    printf '%s\n' "$new_gres" > "$CONF_DIR/gres.conf"
    if [[ $ACCOUNTING == dbd ]]; then
        printf '%s\n' "$new_dbd" > "$CONF_DIR/slurmdbd.conf"
    fi
    # Debian's cgroup.conf is absent; none of our plugins use cgroups.
fi
if [[ $ACCOUNTING == dbd ]]; then
    # slurmdbd refuses a slurmdbd.conf readable by others
    chown slurm:slurm "$CONF_DIR/slurmdbd.conf"; chmod 0600 "$CONF_DIR/slurmdbd.conf"
fi

# ------------------------------------------------ MariaDB + slurmdbd (dbd) ---
if [[ $ACCOUNTING == dbd ]]; then
    mysql_cli=(mariadb --no-defaults --socket="$DB_SOCKET" -uroot)
    running_port=$("${mysql_cli[@]}" -N -e 'SELECT @@port' 2>/dev/null || true)
    if [[ -n $running_port && $running_port != "$DB_PORT" ]]; then
        log "private MariaDB listens on $running_port, want $DB_PORT: restarting it"
        pid=$(<"$RUN_DIR/mysql/mariadbd.pid"); kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do pid_alive "$RUN_DIR/mysql/mariadbd.pid" || break; sleep 0.5; done
        running_port=""
    fi
    if [[ -z $running_port ]]; then
        if [[ ! -d $DB_DATADIR/mysql ]]; then
            log "initialising private MariaDB datadir $DB_DATADIR"
            mkdir -p "$DB_DATADIR"; chown mysql:mysql "$DB_DATADIR"
            mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DATADIR" \
                --auth-root-authentication-method=socket --skip-test-db \
                > "$LOG_DIR/mariadb-install-db.log" 2>&1 \
                || die "mariadb-install-db failed, see $LOG_DIR/mariadb-install-db.log"
        fi
        mkdir -p "$RUN_DIR/mysql"; chown mysql:mysql "$RUN_DIR/mysql"  # socket + pid
        log "starting private MariaDB on 127.0.0.1:$DB_PORT"
        # setsid + closed stdio: fully detached from the caller (CI runner).
        setsid /usr/sbin/mariadbd --no-defaults --user=mysql \
            --datadir="$DB_DATADIR" --socket="$DB_SOCKET" \
            --pid-file="$RUN_DIR/mysql/mariadbd.pid" \
            --bind-address=127.0.0.1 --port="$DB_PORT" \
            --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
            --log-error="$LOG_DIR/mariadbd.err" \
            </dev/null >/dev/null 2>&1 &
        wait_for "MariaDB" "${mysql_cli[@]}" -e 'SELECT 1'
    fi
    "${mysql_cli[@]}" <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
    if ! pid_alive "$RUN_DIR/slurmdbd.pid"; then
        log "starting slurmdbd"
        slurmdbd </dev/null >/dev/null 2>&1   # daemonizes
    fi
    for ((i = 0; ; i++)); do
        sacctmgr -n list cluster >/dev/null 2>&1 && break
        if ((i > TIMEOUT * 2)) || { ((i > 20)) && ! pid_alive "$RUN_DIR/slurmdbd.pid"; }; then
            tail -n 15 "$LOG_DIR/slurmdbd.log" >&2 || true
            die "slurmdbd did not come up (see $LOG_DIR/slurmdbd.log)"
        fi
        sleep 0.5
    done
    # associations: cluster -> account -> users (idempotent)
    have=$(sacctmgr -n -P list cluster format=cluster)
    if ! grep -qx "$CLUSTER" <<<"$have"; then
        log "sacctmgr: adding cluster $CLUSTER"
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
    have=$(sacctmgr -n -P list account format=account)
    if ! grep -qx "$ACCOUNT" <<<"$have"; then
        log "sacctmgr: adding account $ACCOUNT"
        sacctmgr -i add account "$ACCOUNT" Description=local-ci Organization=local-ci >/dev/null
    fi
    for u in $USERS; do
        id "$u" >/dev/null 2>&1 || continue
        have=$(sacctmgr -n -P list assoc cluster="$CLUSTER" user="$u" account="$ACCOUNT" format=user)
        if ! grep -qx "$u" <<<"$have"; then
            log "sacctmgr: adding user $u to account $ACCOUNT (default account)"
            sacctmgr -i add user "$u" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null
        fi
    done
fi

# ------------------------------------------------------ slurmctld, slurmd ---
if ! pid_alive "$RUN_DIR/slurmctld.pid"; then
    log "starting slurmctld"
    slurmctld </dev/null >/dev/null 2>&1   # daemonizes
fi
wait_for "slurmctld (scontrol ping)" bash -c 'scontrol ping | grep -q "is UP"'
if ! pid_alive "$RUN_DIR/slurmd.pid"; then
    log "starting slurmd"
    slurmd </dev/null >/dev/null 2>&1      # daemonizes
fi

# ------------------------------------------------- wait for an idle node ---
resumed=0
state=""
for ((i = 0; i < TIMEOUT * 2; i++)); do
    state=$(sinfo -h -N -n "$HOST" -o '%t' 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mix|alloc|comp) break ;;
        drain*|drng|down*|inval|fail*)
            # a node drained by an earlier bad configuration keeps that state
            # in StateSaveLocation; give it one chance to come back
            if [[ $resumed == 0 ]] && ((i > 4)); then
                log "node state '$state' ($(sinfo -h -N -n "$HOST" -o '%E')): resuming"
                scontrol update nodename="$HOST" state=resume 2>/dev/null || true
                resumed=1
            fi ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mix|alloc|comp) ;;
    *) sinfo -N -l >&2 || true
       tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
       die "node $HOST did not become idle (state: '${state:-unknown}')" ;;
esac

log "Slurm $(sinfo -V | awk '{print $2}') is up (accounting: $ACCOUNTING, fake GPUs: $GPUS)"
sinfo
sinfo -N -o '%N %t CPUs=%c Mem=%m Gres=%G'
