# shellcheck shell=bash
# infra/lib.sh: helpers shared by infra/up, infra/down, infra/run and infra/test.
# Sourced, never run. It loads the optional .env at the repo root (the environment wins
# over .env), then sets the defaults every script agrees on: SHOPCORE_HOME, the server
# ports and the URLs the Shopcore processes and tests read.

SHOPCORE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

info() { printf 'infra: %s\n' "$*" >&2; }
warn() { printf 'infra: warning: %s\n' "$*" >&2; }
die() {
    printf 'infra: error: %s\n' "$*" >&2
    exit 1
}

# Export KEY=VALUE lines of $SHOPCORE_ROOT/.env that the environment does not set already.
# Blank lines and comments are skipped, a leading `export ` is allowed, one pair of quotes
# around the value is removed. Nothing is evaluated.
load_dotenv() {
    local file=$SHOPCORE_ROOT/.env line key val
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        val=${BASH_REMATCH[3]}
        if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then
            val=${BASH_REMATCH[1]}
        fi
        [[ -v $key ]] || export "$key=$val"
    done <"$file"
}

load_dotenv

if [[ -z ${HOME:-} ]]; then
    HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
    export HOME
fi

: "${SHOPCORE_HOME:=$HOME/.local/share/shopcore}"
: "${PG_PORT:=5432}"
: "${MYSQL_PORT:=3306}"
: "${REDIS_PORT:=6379}"
: "${KAFKA_PORT:=9092}"
: "${COUCHDB_PORT:=5984}"
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:$PG_PORT/shopcore}"
: "${MYSQL_URL:=mysql://root@127.0.0.1:$MYSQL_PORT/shopcore}"
: "${REDIS_URL:=redis://127.0.0.1:$REDIS_PORT}"
: "${KAFKA_BROKERS:=127.0.0.1:$KAFKA_PORT}"
: "${COUCHDB_URL:=http://127.0.0.1:$COUCHDB_PORT}"
export SHOPCORE_HOME PG_PORT MYSQL_PORT REDIS_PORT KAFKA_PORT COUCHDB_PORT
export DATABASE_URL MYSQL_URL REDIS_URL KAFKA_BROKERS COUCHDB_URL

# Used by the scripts that source this file.
# shellcheck disable=SC2034
SHOPCORE_RUN=$SHOPCORE_HOME/run
# shellcheck disable=SC2034
SHOPCORE_LOGS=$SHOPCORE_HOME/logs

# The URL variables, in the order they are printed.
# shellcheck disable=SC2034
SHOPCORE_URL_VARS=(DATABASE_URL MYSQL_URL REDIS_URL KAFKA_BROKERS COUCHDB_URL)

# True when something listens on 127.0.0.1:<port>. A refused connection fails at once; a
# connection that is neither accepted nor refused within 10 s (a server so busy that its
# listen queue is full) counts as listening.
port_open() {
    addr_open "127.0.0.1:$1"
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# "1m 05s" from a number of seconds.
fmt_duration() {
    local s=$1
    if ((s >= 60)); then
        printf '%dm %02ds' $((s / 60)) $((s % 60))
    else
        printf '%ds' "$s"
    fi
}

# True when something listens on <host:port> (see port_open); a wildcard host (0.0.0.0, ::)
# is tried on loopback.
addr_open() {
    local host=${1%:*} port=${1##*:} status=0
    host=${host#[}
    host=${host%]}
    case $host in
    0.0.0.0 | '') host=127.0.0.1 ;;
    ::) host=::1 ;;
    esac
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
    timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null || status=$?
    ((status == 0 || status == 124))
}
