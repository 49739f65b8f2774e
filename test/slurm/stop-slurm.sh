#!/usr/bin/env bash
# Copied from the team's shared/slurm-local (tested there on this kind of machine); kept in the
# repo because forks and CI have no ../shared. Used by test/test_slurm.py.
# stop-slurm.sh — stop what start-slurm.sh started, by PID file only
# (slurmd, slurmctld, slurmdbd, the private MariaDB, munged).
# Pending/running Slurm jobs are cancelled first so that no job process
# outlives slurmd. Never kills by name.
set -uo pipefail
RUN_DIR=/run/slurm-local

log() { printf '[stop-slurm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop_pidfile() {
    local name=$1 f=$2 pid i
    [[ -s $f ]] || return 0
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || { rm -f "$f"; return 0; }
    if kill -0 "$pid" 2>/dev/null; then
        log "stopping $name (pid $pid)"
        kill "$pid" 2>/dev/null
        for ((i = 0; i < 60; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            # an exited daemon whose parent never reaps it stays a zombie
            [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]]; then
            log "$name did not stop in 30s: SIGKILL"
            kill -9 "$pid" 2>/dev/null
        fi
    fi
    rm -f "$f"
}

if [[ -s $RUN_DIR/slurmctld.pid ]] && kill -0 "$(<"$RUN_DIR/slurmctld.pid")" 2>/dev/null; then
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
        log "cancelling jobs: $jobs"
        scancel $jobs 2>/dev/null || true
        sleep 2
    fi
fi
stop_pidfile slurmd    "$RUN_DIR/slurmd.pid"
stop_pidfile slurmctld "$RUN_DIR/slurmctld.pid"
stop_pidfile slurmdbd  "$RUN_DIR/slurmdbd.pid"
stop_pidfile mariadbd  "$RUN_DIR/mysql/mariadbd.pid"
# munged: only if we (or the Debian default) started it; it has its own pid file
stop_pidfile munged    /run/munge/munged.pid
exit 0
