#!/usr/bin/env bash
# Storage throughput, side by side in one sitting: a 256 MiB object uploaded to and downloaded
# from a loopback SeaweedFS by `tessera storage put/get` (release build) and by `aws s3 cp`
# (awscli defaults: 8 MiB parts, 10 threads). Each command is timed whole (wall clock, as a
# user sees it) with its peak resident memory from /usr/bin/time; every download is compared
# byte for byte, and each tool reads the other's uploads.
#
#   bash scripts/bench-storage.sh                 # starts its own SeaweedFS (scripts/seaweedfs.sh)
#   SIZE_MIB=512 ROUNDS=5 bash scripts/bench-storage.sh
#   SCRATCH_PATH=.build-storage bash scripts/bench-storage.sh   # another build directory
#
# Uses the server in TESSERA_S3_* if already exported (scripts/seaweedfs.sh's env file).
# Exits non-zero unless Tessera reaches 80% of aws's throughput both ways and stays under twice
# the object's size in memory.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${SIZE_MIB:-256}"
rounds="${ROUNDS:-3}"
scratch="${SCRATCH_PATH:-.build}"

command -v aws >/dev/null || { echo "bench-storage.sh: needs awscli (aws) on PATH" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench-storage.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

swift build -c release --scratch-path "$scratch" --product tessera >&2
tessera="$scratch/release/tessera"

work="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-storage.XXXXXX")"
started=""
cleanup() {
    if [[ -n "$started" ]]; then bash scripts/seaweedfs.sh stop "$work/seaweedfs" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${TESSERA_S3_ENDPOINT:-}" ]]; then
    bash scripts/seaweedfs.sh start "$work/seaweedfs"
    started=1
    # shellcheck disable=SC1091
    source "$work/seaweedfs/env"
fi
export AWS_ACCESS_KEY_ID="$TESSERA_S3_WRITER_KEY" AWS_SECRET_ACCESS_KEY="$TESSERA_S3_WRITER_SECRET"
export AWS_DEFAULT_REGION="${TESSERA_S3_REGION:-us-east-1}" AWS_EC2_METADATA_DISABLED=true
endpoint="$TESSERA_S3_ENDPOINT" bucket="$TESSERA_S3_BUCKET"
prefix="bench/$(date +%s)-$$"

head -c $((size_mib << 20)) /dev/urandom >"$work/object"
bytes=$((size_mib << 20))

# measure NAME COMMAND...: appends "NAME seconds peak_kib" to $work/results.
measure() {
    local name="$1"; shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    echo "$name $(cat "$work/time")" >>"$work/results"
}

for round in $(seq 1 "$rounds"); do
    # Alternate who goes first, so neither always meets a cold or warm server.
    if ((round % 2 == 1)); then order="tessera aws"; else order="aws tessera"; fi
    for tool in $order; do
        if [[ "$tool" == tessera ]]; then
            measure tessera-put "$tessera" storage put "$prefix/tessera-$round" --file "$work/object" --endpoint "$endpoint" --bucket "$bucket"
        else
            measure aws-put aws --endpoint-url "$endpoint" s3 cp --only-show-errors "$work/object" "s3://$bucket/$prefix/aws-$round"
        fi
    done
    for tool in $order; do
        rm -f "$work/download"
        if [[ "$tool" == tessera ]]; then
            # Tessera reads the object aws wrote.
            measure tessera-get "$tessera" storage get "$prefix/aws-$round" --out "$work/download" --endpoint "$endpoint" --bucket "$bucket"
        else
            # aws reads the object Tessera wrote.
            measure aws-get aws --endpoint-url "$endpoint" s3 cp --only-show-errors "s3://$bucket/$prefix/tessera-$round" "$work/download"
        fi
        cmp -s "$work/object" "$work/download" || { echo "bench-storage.sh: $tool's download differs from the object" >&2; exit 1; }
    done
    "$tessera" storage rm "$prefix/tessera-$round" --endpoint "$endpoint" --bucket "$bucket"
    "$tessera" storage rm "$prefix/aws-$round" --endpoint "$endpoint" --bucket "$bucket"
done

python3 - "$work/results" "$bytes" "$size_mib" <<'PY'
import statistics, sys
path, size, size_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for line in open(path):
    name, seconds, kib = line.split()
    runs.setdefault(name, []).append((float(seconds), int(kib)))
def figures(name):
    seconds = statistics.median(s for s, _ in runs[name])
    return size / 1e6 / seconds, max(k for _, k in runs[name]) / 1024, seconds
print(f"object: {size_mib} MiB, rounds: {len(runs['tessera-put'])} (median time, peak RSS over rounds)")
print(f"{'':14}{'MB/s':>10}{'seconds':>10}{'peak RSS MiB':>15}")
ok = True
for direction in ("put", "get"):
    t_rate, t_rss, t_s = figures(f"tessera-{direction}")
    a_rate, a_rss, a_s = figures(f"aws-{direction}")
    print(f"{'tessera ' + direction:14}{t_rate:10.1f}{t_s:10.2f}{t_rss:15.1f}")
    print(f"{'aws ' + direction:14}{a_rate:10.1f}{a_s:10.2f}{a_rss:15.1f}")
    ratio = t_rate / a_rate
    within = t_rss < 2 * size_mib
    print(f"  {direction}: tessera/aws throughput = {ratio:.2f} ({'ok' if ratio >= 0.8 else 'BELOW 0.8'}), "
          f"tessera peak RSS / object = {t_rss / size_mib:.2f} ({'ok' if within else 'NOT under 2'})")
    ok = ok and ratio >= 0.8 and within
sys.exit(0 if ok else 1)
PY
