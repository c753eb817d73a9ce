#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on localhost, for tests and CI.
#
#   tests/slurm/cluster.sh install      apt-get the packages (root; idempotent)
#   tests/slurm/cluster.sh up DIR       start mariadbd, munged, slurmdbd,
#                                       slurmctld, slurmd with all state in DIR
#   tests/slurm/cluster.sh down DIR     stop exactly what `up DIR` started
#   tests/slurm/cluster.sh status DIR   print node and daemon state
#   . DIR/env.sh                        use the cluster from a shell
#
# Layout of DIR after `up`: etc/ (slurm.conf, slurmdbd.conf), bin/ (client
# wrappers), munge/ (key, 0700), munge-run/ (socket), mysql/ (datadir,
# socket), spool/, log/ (all daemon logs), run/ (pid files), pids (NAME PID
# per line, in start order; renamed pids.stopped by `down`), env and env.sh
# (KEY=VALUE for the fixture / a shell to source). `up` refuses a non-empty
# DIR that it did not make (marker file .slurm-test-cluster).
#
# Design notes (why it looks like this):
# * Accounting is real (slurmdbd + MariaDB): snakemake-executor-plugin-slurm
#   polls `sacct` for job states and waits forever when accounting is off.
# * Nothing outside DIR is changed. The config lives at DIR/etc/slurm.conf,
#   not /etc/slurm. The slurm jobstep plugin removes SLURM_CONF (all SLURM_*
#   but the job ids) from the environment of its nested `srun`, so a bare
#   SLURM_CONF is not enough: DIR/bin holds wrappers for every Slurm client
#   (srun, sbatch, sacct, ...) that set SLURM_CONF and exec /usr/bin/NAME.
#   With DIR/bin first on PATH (env/env.sh do that) every client call, also
#   those inside jobs (sbatch --export=ALL keeps PATH), reaches this cluster.
#   This was preferred over installing the config at /etc/slurm/slurm.conf
#   because it leaves a machine with its own Slurm alone, allows two clusters
#   at once and leaves nothing to restore when a run is killed.
# * The munge socket is named in slurm.conf/slurmdbd.conf (AuthInfo=socket=,
#   and AccountingStoragePass= for the slurmdbd connection of sacct/sacctmgr/
#   slurmctld, which ignores AuthInfo), so clients need no extra environment.
# * Daemons run as root (SlurmUser=SlurmdUser=root): CI is root; munged runs
#   as root too, so the key dir is 0700 and the key 0400, owned by root.
# * Ports: four free ports picked on 127.0.0.1; every address in the configs
#   is 127.0.0.1/localhost, so no traffic leaves loopback. mariadbd
#   (--bind-address) and slurmd (CommunicationParameters=NoInAddrAny) listen
#   on 127.0.0.1 only; slurmctld and slurmdbd of Slurm 22.05 always listen on
#   the wildcard address (NoInAddrAny excludes slurmctld; slurmdbd has no
#   such option).
# * Node: NodeName=localhost NodeAddr=127.0.0.1 and `slurmd -N localhost`,
#   whatever the machine's hostname; SlurmdParameters=config_overrides so the
#   configured CPUs/RealMemory are taken as given (no "Low RealMemory" drain).
# * SelectTypeParameters=CR_CPU_Memory with DefMemPerCPU: without a default
#   memory per CPU every job gets the whole node's memory and jobs run one
#   at a time.
#
# * `up` on failure stops what it started (SLURM_TEST_KEEP_ON_FAILURE=1 keeps
#   it running for debugging) and prints the tail of the failing daemon's log.
# * `down` cancels all jobs, stops the recorded pids (SIGTERM, then SIGKILL
#   after 20 s) newest first, and kills slurmstepd processes that carry this
#   cluster's SLURM_CONF (with their job processes) if any survived.
#
# Environment knobs: SLURM_TEST_OWNER_PID (a pid: `up` leaves a watchdog that
# runs `down DIR` once that process is gone; the pytest fixture passes its
# own), SLURM_TEST_CPUS (default: max(nproc, 8)), SLURM_TEST_MEM_MB (default:
# 80% of MemTotal), SLURM_TEST_TIMEOUT (seconds per wait, default 90),
# SLURM_TEST_ACCOUNT (default mpisweep), SLURM_TEST_PARTITION (default main),
# SLURM_TEST_CLUSTER (default mpisweep).
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 cannot install here (not root or
# no apt-get), 4 packages missing (run `install` first).
set -euo pipefail

PACKAGES=(slurm-wlm slurmdbd munge mariadb-server mariadb-client)
# binaries `up` needs; `install` is done when all of them are there
BINARIES=(slurmctld slurmd slurmdbd sbatch srun sacct sacctmgr sinfo squeue scontrol munged munge unmunge mariadbd mariadb-install-db mariadb mariadb-admin)
CLIENTS=(sbatch srun salloc squeue scancel sinfo scontrol sacct sacctmgr sshare sstat sprio sreport sattach sbcast sdiag strigger)

TIMEOUT=${SLURM_TEST_TIMEOUT:-90}
ACCOUNT=${SLURM_TEST_ACCOUNT:-mpisweep}
PARTITION=${SLURM_TEST_PARTITION:-main}
CLUSTER=${SLURM_TEST_CLUSTER:-mpisweep}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Print the last lines of a log file to stderr (for failure messages).
show_tail() {
    local f=$1
    if [[ -s $f ]]; then
        log "---- last lines of $f ----"
        tail -n 25 "$f" >&2 || true
        log "---- end of $f ----"
    else
        log "($f is empty or missing)"
    fi
}

missing_binaries() {
    local b out=()
    for b in "${BINARIES[@]}"; do
        command -v "$b" >/dev/null 2>&1 || out+=("$b")
    done
    echo "${out[*]:-}"
}

cmd_install() {
    local missing
    missing=$(missing_binaries)
    if [[ -z $missing ]]; then
        log "install: all packages already installed"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "install: needs root to apt-get install ${PACKAGES[*]} (missing: $missing)"
        exit 3
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "install: no apt-get on this machine (missing: $missing; packages: ${PACKAGES[*]})"
        exit 3
    fi
    # Keep the packages' maintainer scripts from starting system-wide
    # mariadb/munge/slurm services (ports 3306/6817..., /run/munge) that would
    # clash with or confuse the test cluster: policy-rc.d exit 101 = "don't".
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    local aptlog rc=0 t0=$SECONDS
    aptlog=$(mktemp /tmp/slurm-apt.XXXXXX.log)
    log "install: apt-get install ${PACKAGES[*]} (missing: $missing) ..."
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${PACKAGES[@]}"
    } >"$aptlog" 2>&1 || rc=$?
    if ((created_policy)); then rm -f "$policy"; fi
    if ((rc != 0)); then
        show_tail "$aptlog"
        die "install: apt-get failed (exit $rc), full log in $aptlog"
    fi
    rm -f "$aptlog"
    missing=$(missing_binaries)
    [[ -z $missing ]] || die "install: still missing after apt-get: $missing"
    log "install: done in $((SECONDS - t0)) s"
}

# N free TCP ports on 127.0.0.1 (held open together so they are distinct).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_for DESCRIPTION LOGFILE PID COMMAND... : poll COMMAND until it succeeds,
# fail with the log tail when the daemon PID dies or TIMEOUT passes.
wait_for() {
    local what=$1 logfile=$2 pid=$3
    shift 3
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            show_tail "$logfile"
            die "up: $what: the daemon (pid $pid) exited; see $logfile"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$logfile"
            die "up: timed out after ${TIMEOUT}s waiting for $what; see $logfile"
        fi
        sleep 0.2
    done
}

# start NAME LOGFILE COMMAND... : start a daemon in the foreground of its own
# session, detached from our stdio, and record its pid.
start() {
    local name=$1 logfile=$2
    shift 2
    setsid "$@" </dev/null >>"$logfile" 2>&1 &
    local pid=$!
    echo "$name $pid" >>"$DIR/pids"
    LASTPID=$pid
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_idle() {
    local s
    s=$(sinfo -h -n localhost -o %T 2>/dev/null) || return 1
    [[ $s == idle ]]
}

cmd_up() {
    [[ -n $(missing_binaries) ]] && { log "up: missing $(missing_binaries); run: $0 install"; exit 4; }
    [[ $(id -u) -eq 0 ]] || { log "up: must run as root (SlurmUser=root)"; exit 3; }
    command -v python3 >/dev/null || die "up: python3 is needed (to pick free ports)"
    mkdir -p "$1"
    DIR=$(cd "$1" && pwd -P)
    if [[ -s $DIR/pids ]]; then
        local name pid
        while read -r name pid; do
            if kill -0 "$pid" 2>/dev/null; then
                die "up: $DIR already has a running cluster ($name pid $pid); run: $0 down $DIR"
            fi
        done <"$DIR/pids"
    fi
    local t0=$SECONDS
    # only ever clean a directory that is empty or was made by us
    if [[ -n $(ls -A "$DIR") && ! -e $DIR/.slurm-test-cluster ]]; then
        die "up: $DIR is not empty and was not made by cluster.sh; use a new directory"
    fi
    # on any failure below, stop what was already started (keep the logs)
    trap 'rc=$?; if ((rc != 0)) && [[ -z ${SLURM_TEST_KEEP_ON_FAILURE:-} ]]; then log "up: failed, stopping what was started (logs stay in $DIR/log)"; cmd_down "$DIR" || true; fi' EXIT
    touch "$DIR/.slurm-test-cluster"
    rm -rf "${DIR:?}"/{etc,bin,munge,munge-run,mysql,spool,log,run}
    rm -f "$DIR"/{pids,env,env.sh}
    mkdir -p "$DIR"/{etc,bin,munge,mysql,spool/ctld,spool/d,log,run}
    : >"$DIR/pids"

    local cpus mem
    # at least 8 CPUs are advertised (config_overrides) so that jobs asking for
    # more CPUs than a 2-core CI machine has still run instead of pending
    # forever; the work itself then shares the real cores
    cpus=${SLURM_TEST_CPUS:-$(($(nproc) > 8 ? $(nproc) : 8))}
    mem=${SLURM_TEST_MEM_MB:-$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)}
    local ports p_db p_dbd p_ctld p_d
    ports=$(free_ports 4)
    read -r p_db p_dbd p_ctld p_d <<<"$ports"
    local dbpass
    dbpass=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

    # ---- munge ---------------------------------------------------------
    chmod 700 "$DIR/munge"
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
    # socket in its own world-searchable dir (munged warns otherwise)
    mkdir -p "$DIR/munge-run"
    chmod 755 "$DIR/munge-run"
    local msock=$DIR/munge-run/munge.socket
    start munged "$DIR/log/munged.out" munged --foreground --force \
        --socket="$msock" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/run/munged.pid" \
        --seed-file="$DIR/munge/munged.seed"
    local munged_pid=$LASTPID
    wait_for "munged" "$DIR/log/munged.out" "$munged_pid" \
        bash -c "munge -n -S '$msock' | unmunge -S '$msock'"

    # ---- mariadb ---------------------------------------------------------
    local dsock=$DIR/mysql/mysqld.sock
    mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --user=root \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        >"$DIR/log/mariadb-install.log" 2>&1 ||
        { show_tail "$DIR/log/mariadb-install.log"; die "up: mariadb-install-db failed"; }
    start mariadbd "$DIR/log/mariadb.out" mariadbd --no-defaults --user=root \
        --datadir="$DIR/mysql/data" --socket="$dsock" --pid-file="$DIR/run/mariadbd.pid" \
        --port="$p_db" --bind-address=127.0.0.1 --skip-name-resolve \
        --log-error="$DIR/log/mariadb.log" --skip-log-bin \
        --innodb-buffer-pool-size=256M --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 --innodb-flush-log-at-trx-commit=2
    local mariadbd_pid=$LASTPID
    wait_for "mariadbd" "$DIR/log/mariadb.log" "$mariadbd_pid" \
        mariadb-admin --no-defaults --socket="$dsock" -uroot ping
    mariadb --no-defaults --socket="$dsock" -uroot -e "
        CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
        >"$DIR/log/mariadb-setup.log" 2>&1 ||
        { show_tail "$DIR/log/mariadb-setup.log"; die "up: creating the slurm database user failed"; }

    # ---- configs -----------------------------------------------------------
    cat >"$DIR/etc/slurmdbd.conf" <<EOF
# generated by tests/slurm/cluster.sh
AuthType=auth/munge
AuthInfo=socket=$msock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$p_dbd
SlurmUser=root
DebugLevel=info
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$p_db
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$DIR/etc/slurmdbd.conf"

    cat >"$DIR/etc/slurm.conf" <<EOF
# generated by tests/slurm/cluster.sh
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$p_ctld
SlurmdPort=$p_d
CommunicationParameters=NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$msock
CredType=cred/munge
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$p_dbd
# the munge socket used to talk to slurmdbd (AuthInfo is not used for that)
AccountingStoragePass=$msock
AccountingStorageEnforce=associations
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
SlurmdParameters=config_overrides
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

    # client wrappers: SLURM_CONF survives env scrubbing (see header)
    local c
    for c in "${CLIENTS[@]}"; do
        [[ -x /usr/bin/$c ]] || continue
        printf '#!/bin/sh\nSLURM_CONF=%s\nexport SLURM_CONF\nexec /usr/bin/%s "$@"\n' \
            "$DIR/etc/slurm.conf" "$c" >"$DIR/bin/$c"
        chmod 755 "$DIR/bin/$c"
    done
    export SLURM_CONF=$DIR/etc/slurm.conf
    export PATH=$DIR/bin:$PATH

    # ---- slurmdbd ---------------------------------------------------------
    start slurmdbd "$DIR/log/slurmdbd.out" slurmdbd -D
    local dbd_pid=$LASTPID
    wait_for "slurmdbd" "$DIR/log/slurmdbd.log" "$dbd_pid" port_open "$p_dbd"
    wait_for "sacctmgr to reach slurmdbd" "$DIR/log/slurmdbd.log" "$dbd_pid" sacctmgr -n list cluster
    {
        sacctmgr -i add cluster "$CLUSTER" &&
        sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=test Organization=test &&
        sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER"
    } >"$DIR/log/sacctmgr.log" 2>&1 ||
        { show_tail "$DIR/log/sacctmgr.log"; die "up: sacctmgr setup failed"; }

    # ---- slurmctld, slurmd ------------------------------------------------
    start slurmctld "$DIR/log/slurmctld.out" slurmctld -D -i
    local ctld_pid=$LASTPID
    wait_for "slurmctld" "$DIR/log/slurmctld.log" "$ctld_pid" scontrol ping
    start slurmd "$DIR/log/slurmd.out" slurmd -D -N localhost
    local slurmd_pid=$LASTPID
    wait_for "node localhost to become idle (sinfo)" "$DIR/log/slurmd.log" "$slurmd_pid" node_idle
    wait_for "sacct to answer" "$DIR/log/slurmdbd.log" "$dbd_pid" sacct -n -X
    # slurmctld registers with slurmdbd asynchronously; wait for it so the
    # first jobs are accounted
    wait_for "slurmctld to register with slurmdbd" "$DIR/log/slurmctld.log" "$ctld_pid" \
        bash -c "sacctmgr -n -P list cluster format=cluster,controlport | grep -qx '$CLUSTER|$p_ctld'"

    cat >"$DIR/env" <<EOF
SLURM_CONF=$DIR/etc/slurm.conf
SLURM_TEST_BIN=$DIR/bin
SLURM_TEST_ACCOUNT=$ACCOUNT
SLURM_TEST_PARTITION=$PARTITION
SLURM_TEST_CLUSTER=$CLUSTER
SLURM_TEST_CPUS=$cpus
SLURM_TEST_MEM_MB=$mem
EOF
    cat >"$DIR/env.sh" <<EOF
export SLURM_CONF='$DIR/etc/slurm.conf'
export PATH='$DIR/bin':"\$PATH"
EOF
    # optional watchdog: stop the cluster when the owner process (the pytest
    # session) dies without calling `down` (killed, timed out)
    if [[ -n ${SLURM_TEST_OWNER_PID:-} ]]; then
        start _watch "$DIR/log/watchdog.log" bash "$SCRIPT_PATH" _watch "$DIR" "$SLURM_TEST_OWNER_PID"
    fi
    trap - EXIT
    log "up: cluster '$CLUSTER' ready in $((SECONDS - t0)) s (node localhost: $cpus CPUs, $mem MB; partition $PARTITION; account $ACCOUNT); state in $DIR"
}

# pid's command line still matches the daemon we recorded (guards pid reuse)
is_ours() {
    local name=$1 pid=$2 cmd
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$name"* ]]
}

# the given pids and all their descendants (from /proc/*/stat ppid fields)
descendants() {
    local -A children=()
    local stat line pid ppid
    for stat in /proc/[0-9]*/stat; do
        line=$(<"$stat") 2>/dev/null || continue
        pid=${line%% *}
        line=${line##*) } # after "(comm) ": comm may contain spaces
        read -r _ ppid _ <<<"$line"
        children[$ppid]+=" $pid"
    done
    local queue=("$@") out=() next
    while ((${#queue[@]})); do
        next=${queue[0]}
        queue=("${queue[@]:1}")
        out+=("$next")
        # shellcheck disable=SC2206
        queue+=(${children[$next]:-})
    done
    echo "${out[*]}"
}

cmd_down() {
    [[ -d $1 ]] || die "down: no such directory $1"
    DIR=$(cd "$1" && pwd -P)
    [[ -f $DIR/pids ]] || { log "down: $DIR/pids not found; nothing to stop"; return 0; }
    local conf=$DIR/etc/slurm.conf
    # 1. cancel jobs so that no slurmstepd outlives slurmd
    if [[ -x $DIR/bin/scancel ]] && SLURM_CONF=$conf timeout 10 /usr/bin/scontrol ping >/dev/null 2>&1; then
        local ids
        ids=$(SLURM_CONF=$conf timeout 10 /usr/bin/squeue -h -o %i 2>/dev/null || true)
        if [[ -n $ids ]]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$conf timeout 10 /usr/bin/scancel $ids 2>/dev/null || true
            local deadline=$((SECONDS + 20))
            while [[ -n $(SLURM_CONF=$conf timeout 10 /usr/bin/squeue -h -o %i 2>/dev/null) ]] && ((SECONDS < deadline)); do
                sleep 0.5
            done
        fi
    fi
    # 2. stop the daemons, last started first
    local -a names=() pids=()
    local name pid i
    while read -r name pid; do
        names+=("$name")
        pids+=("$pid")
    done <"$DIR/pids"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        name=${names[i]} pid=${pids[i]}
        [[ $pid == "$$" ]] && continue # the watchdog stopping the cluster
        is_ours "$name" "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || continue
        local deadline=$((SECONDS + 20))
        while is_ours "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        if is_ours "$name" "$pid"; then
            log "down: $name (pid $pid) ignored SIGTERM for 20 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 5))
            while is_ours "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        fi
    done
    # 3. job step daemons started by our slurmd (they carry our SLURM_CONF)
    #    and the job processes under them: only left when jobs could not be
    #    cancelled (slurmctld dead); normally there are none
    local p stepds=()
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
        if tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$conf"; then
            stepds+=("${p#/proc/}")
        fi
    done
    if ((${#stepds[@]})); then
        local tree
        tree=$(descendants "${stepds[@]}")
        log "down: killing leftover slurmstepd ${stepds[*]} and their processes: $tree"
        # shellcheck disable=SC2086
        kill -KILL "${stepds[@]}" $tree 2>/dev/null || true
    fi
    local left=()
    for ((i = 0; i < ${#pids[@]}; i++)); do
        [[ ${pids[i]} == "$$" ]] && continue
        is_ours "${names[i]}" "${pids[i]}" && left+=("${names[i]}:${pids[i]}")
    done
    ((${#left[@]} == 0)) || die "down: still running: ${left[*]}"
    mv "$DIR/pids" "$DIR/pids.stopped"
    log "down: stopped ${#pids[@]} daemons of $DIR"
}

cmd_status() {
    DIR=$(cd "$1" && pwd -P)
    [[ -f $DIR/pids ]] || { echo "no running cluster in $DIR"; return 0; }
    local name pid
    while read -r name pid; do
        if is_ours "$name" "$pid"; then echo "$name $pid running"; else echo "$name $pid gone"; fi
    done <"$DIR/pids"
    SLURM_CONF=$DIR/etc/slurm.conf /usr/bin/sinfo -N -o '%N %T %c %m' || true
}

cmd_watch() {
    local dir=$1 owner=$2
    while kill -0 "$owner" 2>/dev/null; do sleep 5; done
    log "watchdog: owner pid $owner is gone; stopping the cluster in $dir"
    cmd_down "$dir"
}

SCRIPT_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
case ${1:-} in
    install) cmd_install ;;
    _watch) cmd_watch "$2" "$3" ;;
    up) [[ $# -eq 2 ]] || { echo "usage: $0 up DIR" >&2; exit 2; }; cmd_up "$2" ;;
    down) [[ $# -eq 2 ]] || { echo "usage: $0 down DIR" >&2; exit 2; }; cmd_down "$2" ;;
    status) [[ $# -eq 2 ]] || { echo "usage: $0 status DIR" >&2; exit 2; }; cmd_status "$2" ;;
    *) echo "usage: $0 install | up DIR | down DIR | status DIR" >&2; exit 2 ;;
esac
