#!/usr/bin/env bash
# Throw-away PostgreSQL server for local development and the test suite, run from the Debian
# `postgresql` package's binaries (newest /usr/lib/postgresql/<ver>/bin) in a private directory.
#
#   pg.sh install                        apt-get install postgresql (if no initdb is found)
#   pg.sh start  [--dir D] [--port P]    create the cluster if needed, start it, ensure the
#                                        role and database `paceline` exist
#   pg.sh stop   [--dir D]               fast shutdown; no-op if not running
#   pg.sh status [--dir D]
#   pg.sh url    [--dir D] [--port P]    print the SQLAlchemy URL
#
# Defaults: D=${PACELINE_PG_DIR:-/tmp/paceline-pg}, P=5432. Layout: D/data is the cluster
# (PGDATA), D is also the unix-socket directory, D/postgres.log the server log. Listens on
# 127.0.0.1 only, trust authentication (local + loopback), fsync left on. Role `paceline` is a
# superuser; database `paceline` is owned by it. URL:
#   postgresql+asyncpg://paceline@127.0.0.1:P/paceline
#
# PostgreSQL refuses to run as root: when run as root, initdb/pg_ctl run as the `postgres` OS
# user (created if absent) via runuser, and D is chowned to it. Every directory above D must
# then be searchable by that user (e.g. /tmp/... is fine, a 0700 /root/... is not).
#
# Environment:
#   PACELINE_PG_BIN   PostgreSQL bin directory (default: newest /usr/lib/postgresql/*/bin)
#   PACELINE_PG_USER  OS user that runs the server when invoked as root (default: postgres)
set -euo pipefail

# libpq/server environment from the caller must not redirect our admin connections or PGDATA.
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGSSLMODE PGTZ

DIR=${PACELINE_PG_DIR:-/tmp/paceline-pg}
PORT=5432
PORT_GIVEN=0
DB_NAME=paceline
DB_ROLE=paceline
ADMIN_ROLE=postgres
PG_OS_USER=${PACELINE_PG_USER:-postgres}

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

parse_args() {
    while (($#)); do
        case $1 in
            --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
            --dir=*) DIR=${1#*=}; shift ;;
            --port) PORT=${2:?--port needs a value}; PORT_GIVEN=1; shift 2 ;;
            --port=*) PORT=${1#*=}; PORT_GIVEN=1; shift ;;
            -h|--help) usage ;;
            *) die "unknown argument: $1" ;;
        esac
    done
    [[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number, got '$PORT'"
    [[ $DIR == /* ]] || DIR="$PWD/$DIR"
    PGDATA_DIR="$DIR/data"
    CONF_FILE="$PGDATA_DIR/paceline.conf"
    LOG_FILE="$DIR/postgres.log"
}

# Newest installed major version; `sort -V` orders 9.6 < 10 < 15 < 16 correctly.
find_bin() {
    if [[ -n ${PACELINE_PG_BIN:-} ]]; then
        [[ -x $PACELINE_PG_BIN/initdb ]] || return 1
        printf '%s\n' "$PACELINE_PG_BIN"
        return 0
    fi
    local d
    d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 3 -path '*/bin/initdb' -printf '%h\n' 2>/dev/null \
        | sort -V | tail -n 1)
    [[ -n $d ]] || return 1
    printf '%s\n' "$d"
}

require_bin() {
    PG_BIN=$(find_bin) || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; run '$0 install' (as root)"
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a server-side command (initdb, pg_ctl) as the server's OS user. cd / first so the tools
# do not complain about an unreadable working directory (e.g. /root).
as_server_user() {
    if is_root; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$ADMIN_ROLE" -d postgres "$@"
}

# --- install -----------------------------------------------------------------------------

cmd_install() {
    if PG_BIN=$(find_bin); then
        log "PostgreSQL already installed: $PG_BIN"
        return 0
    fi
    is_root || die "installing PostgreSQL needs root (apt-get install postgresql)"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install PostgreSQL server binaries by hand"
    export DEBIAN_FRONTEND=noninteractive
    # Do not let the package create and start the system-wide 'main' cluster on port 5432;
    # we only need the binaries. postgresql-common's createcluster.conf includes this dir.
    mkdir -p /etc/postgresql-common/createcluster.d
    if [[ ! -e /etc/postgresql-common/createcluster.d/paceline-no-main-cluster.conf ]]; then
        printf '%s\n' '# Written by paceline deploy/postgres/pg.sh: binaries only, no system cluster.' \
            'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/paceline-no-main-cluster.conf
    fi
    local apt_opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    if ! apt-get install "${apt_opts[@]}" postgresql; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update -q
        apt-get install "${apt_opts[@]}" postgresql
    fi
    PG_BIN=$(find_bin) || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    log "installed: $PG_BIN"
}

# --- start -------------------------------------------------------------------------------

ensure_os_user() {
    is_root || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "creating OS user $PG_OS_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
}

running() { [[ -f $PGDATA_DIR/postmaster.pid ]] && as_server_user "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

init_cluster() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] && return 0
    log "initialising cluster in $PGDATA_DIR ($("$PG_BIN/postgres" --version))"
    as_server_user "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$ADMIN_ROLE" -E UTF8 --locale=C \
        --auth-local=trust --auth-host=trust >"$DIR/initdb.out" 2>&1 \
        || { cat "$DIR/initdb.out" >&2; die "initdb failed"; }
    # Our settings live in their own file, rewritten on every start (the port may change).
    printf '\n# Paceline test/dev settings (deploy/postgres/pg.sh)\ninclude_if_exists = '\''paceline.conf'\''\n' \
        >>"$PGDATA_DIR/postgresql.conf"
}

write_config() {
    local tmp="$DIR/paceline.conf.tmp"
    cat >"$tmp" <<EOF
# Written by deploy/postgres/pg.sh on every start.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 200
# fsync/synchronous_commit stay at their safe defaults on purpose.
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
    if is_root; then chown "$PG_OS_USER:" "$tmp"; fi
    mv "$tmp" "$CONF_FILE"
}

ensure_database() {
    local exists
    exists=$(psql_admin -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'")
    if [[ $exists != 1 ]]; then
        psql_admin -c "CREATE ROLE \"$DB_ROLE\" LOGIN SUPERUSER"
        log "created role $DB_ROLE"
    fi
    exists=$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
    if [[ $exists != 1 ]]; then
        psql_admin -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$DB_ROLE\""
        log "created database $DB_NAME"
    fi
}

cmd_start() {
    require_bin
    ensure_os_user
    mkdir -p "$DIR"
    if is_root; then
        chown "$PG_OS_USER:" "$DIR"
        chmod 0700 "$DIR"
        runuser -u "$PG_OS_USER" -- test -w "$DIR" \
            || die "OS user $PG_OS_USER cannot reach $DIR (is a parent directory mode 0700?); use a directory under /tmp"
    fi
    if running; then
        local p
        p=$(sed -n 's/^port = //p' "$CONF_FILE" 2>/dev/null)
        if [[ -n $p && $p != "$PORT" ]]; then
            die "the cluster in $PGDATA_DIR already runs on port $p, not $PORT"
        fi
        log "already running on 127.0.0.1:$PORT ($PGDATA_DIR)"
        ensure_database
        return 0
    fi
    ! port_open "$PORT" || die "port 127.0.0.1:$PORT is already in use by another process"
    init_cluster
    write_config
    # The socket path is D/.s.PGSQL.P and must fit in sun_path (107 bytes).
    ((${#DIR} + 12 + ${#PORT} <= 107)) || die "directory path too long for a unix socket: $DIR"
    if is_root; then touch "$LOG_FILE" && chown "$PG_OS_USER:" "$LOG_FILE"; fi
    local started=$SECONDS
    if ! as_server_user "$PG_BIN/pg_ctl" start -w -t 60 -D "$PGDATA_DIR" -l "$LOG_FILE" >/dev/null; then
        log "pg_ctl start failed; last lines of $LOG_FILE:"
        tail -n 40 "$LOG_FILE" >&2 || true
        exit 1
    fi
    ensure_database
    log "running on 127.0.0.1:$PORT, socket dir $DIR, data $PGDATA_DIR (up after $((SECONDS - started))s)"
}

# --- stop / status / url -----------------------------------------------------------------

cmd_stop() {
    if ! PG_BIN=$(find_bin) || ! running; then
        log "not running ($PGDATA_DIR)"
        return 0
    fi
    as_server_user "$PG_BIN/pg_ctl" stop -w -t 60 -m fast -D "$PGDATA_DIR" >/dev/null
    log "stopped ($PGDATA_DIR)"
}

cmd_status() {
    if PG_BIN=$(find_bin) && running; then
        echo "running port=$(sed -n 's/^port = //p' "$CONF_FILE" 2>/dev/null) dir=$DIR"
        return 0
    fi
    echo "not running dir=$DIR"
    return 3
}

cmd_url() {
    # Without --port, use the port of the cluster in D if there is one.
    if ((!PORT_GIVEN)) && [[ -f $CONF_FILE ]]; then
        local p
        p=$(sed -n 's/^port = //p' "$CONF_FILE" 2>/dev/null)
        [[ -n $p ]] && PORT=$p
    fi
    echo "postgresql+asyncpg://$DB_ROLE@127.0.0.1:$PORT/$DB_NAME"
}

main() {
    (($#)) || usage
    local cmd=$1
    shift
    case $cmd in
        install) (($# == 0)) || die "install takes no arguments"; cmd_install ;;
        start) parse_args "$@"; cmd_start ;;
        stop) parse_args "$@"; cmd_stop ;;
        status) parse_args "$@"; cmd_status ;;
        url) parse_args "$@"; cmd_url ;;
        -h|--help|help) usage ;;
        *) die "unknown command: $cmd (expected install|start|stop|status|url)" ;;
    esac
}

main "$@"
