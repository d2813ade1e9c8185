#!/usr/bin/env bash
# A Tessera cluster of separate processes on one machine: a throwaway SeaweedFS S3 server on
# 127.0.0.1, 3 `tessera miner` processes and 1 `tessera validator`, sharing the bucket and a
# wall-clock LocalChain that every process rebuilds from the same cluster file (genesis time,
# metagraph, network parameters). Windows are shortened to 4 one-second blocks so a run takes
# about a minute. Midway the validator is killed with SIGKILL and restarted: it resumes from
# its checkpoints in the bucket. At the end the final weights are printed.
#
#   bash Examples/LocalCluster/run.sh [WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
windows="${1:-8}"
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera
tessera=.build/release/tessera

work="$(mktemp -d "${TMPDIR:-/tmp}/tessera-cluster.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash scripts/seaweedfs.sh stop "$work/s3" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/s3"
bash scripts/seaweedfs.sh start "$work/s3"
# shellcheck disable=SC1091
source "$work/s3/env"
export AWS_ACCESS_KEY_ID="$TESSERA_S3_WRITER_KEY" AWS_SECRET_ACCESS_KEY="$TESSERA_S3_WRITER_SECRET"

# The cluster file: genesis a few seconds from now, so every process sees the same blocks.
genesis=$(( $(date +%s) + 3 ))
cat >"$work/cluster.json" <<JSON
{
  "chain": {"genesisSeed": 42, "genesisTime": $genesis, "blockSeconds": 1, "tempo": 8,
            "maximumNeurons": 16, "validatorPermits": 1, "maximumCommitmentBytes": 1024},
  "neurons": [{"hotkey": "validator", "stake": 1000}, {"hotkey": "miner-1", "stake": 0},
              {"hotkey": "miner-2", "stake": 0}, {"hotkey": "miner-3", "stake": 0}],
  "network": {"netuid": 3, "blocksPerWindow": 4, "uploadWindowSeconds": 1.5, "samplesPerSlice": 16,
              "innerSteps": 2, "batchSize": 8, "gradientClip": 1,
              "codec": {"maximumChunkSide": 32, "topK": 32, "quantizer": 4, "transform": 0, "indexCoding": 1},
              "errorFeedbackDecay": 0.95, "outerLearningRate": 1, "maximumPeers": 20,
              "weightInterval": 2, "checkpointInterval": 2},
  "model": {"vocab": 64, "dim": 64, "layers": 2, "heads": 4, "kv_heads": 4, "ffn": 128, "context": 32},
  "corpus": {"vocabularySize": 64, "support": 8, "extendedFraction": 0.5, "groups": 4, "concentration": 1.5, "seed": 5},
  "sampleCount": 100000, "modelSeed": 1, "innerLearningRate": 0.003
}
JSON
storage=(--endpoint "$TESSERA_S3_ENDPOINT" --bucket "$TESSERA_S3_BUCKET" --region "$TESSERA_S3_REGION")
for i in 1 2 3; do
    "$tessera" miner --cluster "$work/cluster.json" --hotkey "miner-$i" "${storage[@]}" --log-level warning \
        >"$work/miner-$i.log" 2>&1 &
    pids+=($!)
done

half=$(( windows / 2 ))
echo "validator: first run, killed with SIGKILL after ~$half windows" >&2
"$tessera" validator --cluster "$work/cluster.json" --hotkey validator "${storage[@]}" >"$work/validator-1.log" 2>&1 &
validator=$!
sleep $(( 3 + half * 4 + 2 ))
kill -KILL "$validator" 2>/dev/null || true
wait "$validator" 2>/dev/null || true
grep -E "window [0-9]+:" "$work/validator-1.log" | sed 's/^/  /' >&2 || true

echo "validator: restarted; it resumes from its checkpoint and replays the windows since" >&2
"$tessera" validator --cluster "$work/cluster.json" --hotkey validator "${storage[@]}" \
    --windows "$(( windows - half + 1 ))" --weights-out "$work/weights.json" 2>"$work/validator-2.log"
grep -E "window [0-9]+:|resuming" "$work/validator-2.log" | sed 's/^/  /' >&2 || true
echo "weights.json:"
cat "$work/weights.json"
