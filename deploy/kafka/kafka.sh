#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for local development
# and the test suite. The jars come from Maven Central via deploy/kafka/pom.xml; no Kafka
# distribution, Docker or ZooKeeper is needed, only java (17+) and mvn.
#
#   kafka.sh fetch                                   resolve the jars into deploy/kafka/lib
#   kafka.sh start  [--dir D] [--port P] [--controller-port C]
#   kafka.sh stop   [--dir D]
#   kafka.sh status [--dir D]
#
# Defaults: D=${PACELINE_KAFKA_DIR:-/tmp/paceline-kafka}, P=9092, C=9093. The broker binds
# 127.0.0.1 only. D holds server.properties, the data (D/data, formatted once and kept across
# restarts), broker.pid, server.log (log4j2) and kafka.out (JVM stdout/stderr).
#
# Environment:
#   PACELINE_KAFKA_LIB         jar directory (default: deploy/kafka/lib next to this script)
#   PACELINE_KAFKA_HEAP_OPTS   JVM heap options (default: -Xms256m -Xmx512m)
#   PACELINE_KAFKA_JAVA_OPTS   extra JVM options
#   PACELINE_KAFKA_START_TIMEOUT  seconds to wait for the port (default: 60)
#   JAVA_HOME                  used if set, else `java` from PATH
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$HERE/pom.xml"
LOG4J_CONFIG="$HERE/log4j2.properties"
LIB_DIR=${PACELINE_KAFKA_LIB:-$HERE/lib}
MARKER_NAME=.complete
START_TIMEOUT=${PACELINE_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=30

DIR=${PACELINE_KAFKA_DIR:-/tmp/paceline-kafka}
PORT=9092
CONTROLLER_PORT=9093

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

java_bin() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        die "java not found (install a JDK 17+ or set JAVA_HOME)"
    fi
}

parse_args() {
    while (($#)); do
        case $1 in
            --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
            --dir=*) DIR=${1#*=}; shift ;;
            --port) PORT=${2:?--port needs a value}; shift 2 ;;
            --port=*) PORT=${1#*=}; shift ;;
            --controller-port) CONTROLLER_PORT=${2:?--controller-port needs a value}; shift 2 ;;
            --controller-port=*) CONTROLLER_PORT=${1#*=}; shift ;;
            -h|--help) usage ;;
            *) die "unknown argument: $1" ;;
        esac
    done
    [[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number, got '$PORT'"
    [[ $CONTROLLER_PORT =~ ^[0-9]+$ ]] || die "--controller-port must be a number, got '$CONTROLLER_PORT'"
    [[ $PORT != "$CONTROLLER_PORT" ]] || die "--port and --controller-port must differ"
    # Absolute path (it ends up in server.properties and -Dkafka.logs.dir).
    [[ $DIR == /* ]] || DIR="$PWD/$DIR"
}

# --- fetch -------------------------------------------------------------------------------

# The marker records a hash of pom.xml, so editing the pom (e.g. a version bump) refetches.
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

lib_complete() {
    [[ -f $LIB_DIR/$MARKER_NAME && $(cat "$LIB_DIR/$MARKER_NAME") == "$(pom_hash)" ]] \
        && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null
}

cmd_fetch() {
    lib_complete && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to resolve the Kafka jars)"
    mkdir -p "$(dirname "$LIB_DIR")"
    # Serialise concurrent fetches (parallel test workers, several checkouts of the same tree).
    exec 8>"$LIB_DIR.lock"
    flock 8
    if ! lib_complete; then
        local tmp="$LIB_DIR.tmp.$$"
        rm -rf "$tmp"
        log "resolving Kafka jars from Maven Central into $LIB_DIR"
        local mvn_log="$LIB_DIR.mvn.log"
        if ! mvn -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
            tail -n 60 "$mvn_log" >&2
            rm -rf "$tmp"
            die "mvn dependency:copy-dependencies failed (full output: $mvn_log)"
        fi
        rm -f "$mvn_log"
        compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "no kafka_2.13 jar resolved"; }
        pom_hash >"$tmp/$MARKER_NAME"
        rm -rf "$LIB_DIR"
        mv "$tmp" "$LIB_DIR"
        log "$(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $LIB_DIR"
    fi
    flock -u 8
    exec 8>&-
}

# --- process helpers ---------------------------------------------------------------------

pid_file() { printf '%s\n' "$DIR/broker.pid"; }

# True while the process exists and is not a zombie (an exited child that its parent, possibly
# a lazy PID 1, has not reaped yet; kill -0 still succeeds for those).
pid_alive() {
    local stat state
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    state=${stat##*) }
    state=${state%% *}
    [[ -n $state && $state != Z && $state != X ]]
}

# Prints the broker pid if D/broker.pid names a live kafka.Kafka process (guards against pid
# reuse after a reboot or a crash).
running_pid() {
    local pf pid
    pf=$(pid_file)
    [[ -f $pf ]] || return 1
    pid=$(<"$pf")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    pid_alive "$pid" || return 1
    grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

configured_port() {
    sed -n 's#^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),.*#\1#p' "$DIR/server.properties" 2>/dev/null
}

log_tail() {
    local f
    for f in "$DIR/kafka.out" "$DIR/server.log"; do
        [[ -s $f ]] || continue
        printf -- '----- last 40 lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

# --- start -------------------------------------------------------------------------------

write_config() {
    cat >"$DIR/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Clients may run on a faked clock (the date-proof runs, tests/dates) and stamp records months
# away from the broker's time: accept any time stamp (Kafka 4 refuses those more than an hour
# ahead) and delete nothing for its age (7 days would drop records stamped months back).
log.message.timestamp.after.max.ms=9223372036854775807
log.retention.ms=-1
EOF
}

# A Kafka cluster id is a random 16-byte UUID in URL-safe base64 without padding; Kafka's own
# Uuid.randomUuid() also rejects ids that start with '-' (they look like CLI options).
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ ${#id} -eq 22 && $id != -* && $id != AAAAAAAAAAAAAAAAAAAAA[AQ] ]] && break
    done
    printf '%s\n' "$id"
}

format_storage() {
    [[ -f $DIR/data/meta.properties ]] && return 0
    local cluster_id
    if [[ -s $DIR/cluster.id ]]; then
        cluster_id=$(<"$DIR/cluster.id")
    else
        cluster_id=$(new_cluster_id)
        printf '%s\n' "$cluster_id" >"$DIR/cluster.id"
    fi
    log "formatting $DIR/data (cluster id $cluster_id)"
    if ! "$(java_bin)" -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$DIR" \
            -cp "$LIB_DIR/*" kafka.tools.StorageTool format \
            -t "$cluster_id" -c "$DIR/server.properties" >"$DIR/format.out" 2>&1; then
        cat "$DIR/format.out" >&2
        die "formatting $DIR/data failed"
    fi
}

wait_for_port() {
    local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if port_open "$PORT"; then
            return 0
        fi
        if ! pid_alive "$pid"; then
            log "broker process $pid exited during startup"
            log_tail
            rm -f "$(pid_file)"
            exit 1
        fi
        sleep 0.25
    done
    log "broker did not accept connections on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
    log_tail
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$(pid_file)"
    exit 1
}

cmd_start() {
    local pid
    if pid=$(running_pid); then
        local running_port
        running_port=$(configured_port)
        if [[ -n $running_port && $running_port != "$PORT" ]]; then
            die "a broker (pid $pid) already runs from $DIR on port $running_port, not $PORT"
        fi
        log "already running (pid $pid) on 127.0.0.1:$PORT"
        wait_for_port "$pid"
        return 0
    fi
    rm -f "$(pid_file)"
    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        ! port_open "$p" || die "port 127.0.0.1:$p is already in use by another process"
    done

    cmd_fetch
    mkdir -p "$DIR"
    write_config
    format_storage

    local java heap
    java=$(java_bin)
    heap=${PACELINE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
    # Each start truncates kafka.out; server.log keeps appending across restarts, so mark where
    # this start begins (the JVM is not running yet, nothing else writes the file).
    printf '===== kafka.sh start %s (port %s) =====\n' "$(date -u +%FT%TZ)" "$PORT" >>"$DIR/server.log"
    # setsid: the broker gets its own session, so a Ctrl-C aimed at the caller (or the caller
    # exiting) does not reach it; only `kafka.sh stop` ends it. The subshell is not a process
    # group leader, so setsid does not fork and $! is the JVM's pid.
    # shellcheck disable=SC2086  # heap/java opts are intentionally word-split
    (
        cd "$DIR"
        exec setsid nohup "$java" $heap ${PACELINE_KAFKA_JAVA_OPTS:-} \
            -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
            -Dkafka.logs.dir="$DIR" \
            -cp "$LIB_DIR/*" kafka.Kafka "$DIR/server.properties"
    ) </dev/null >"$DIR/kafka.out" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$(pid_file)"
    local started=$SECONDS
    wait_for_port "$pid"
    log "broker running (pid $pid) on 127.0.0.1:$PORT, controller 127.0.0.1:$CONTROLLER_PORT," \
        "dir $DIR (up after $((SECONDS - started))s)"
}

# --- stop / status -----------------------------------------------------------------------

cmd_stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$(pid_file)"
        log "not running ($DIR)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while pid_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if pid_alive "$pid"; then
        log "broker (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while pid_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$(pid_file)"
    log "stopped (pid $pid)"
}

cmd_status() {
    local pid port
    if pid=$(running_pid); then
        port=$(configured_port)
        echo "running pid=$pid bootstrap=127.0.0.1:${port:-?} dir=$DIR"
        return 0
    fi
    echo "not running dir=$DIR"
    return 3
}

main() {
    (($#)) || usage
    local cmd=$1
    shift
    case $cmd in
        fetch) (($# == 0)) || die "fetch takes no arguments"; cmd_fetch ;;
        start) parse_args "$@"; cmd_start ;;
        stop) parse_args "$@"; cmd_stop ;;
        status) parse_args "$@"; cmd_status ;;
        -h|--help|help) usage ;;
        *) die "unknown command: $cmd (expected fetch|start|stop|status)" ;;
    esac
}

main "$@"
