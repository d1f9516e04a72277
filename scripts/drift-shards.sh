#!/usr/bin/env bash
# A nightly drift run split into shards and joined into one report: what a CI matrix, AWX job
# slices or a Kubernetes Indexed Job do on several machines, here side by side on this one.
#
#   scripts/drift-shards.sh INVENTORY OUT [SHARDS [DRIFT OPTION...]]
#
# Runs `tacfleet drift --shard i/SHARDS --reports OUT/shard-i` for i = 1..SHARDS (default 4),
# each host in exactly one shard (by a hash of its name), then `tacfleet drift.merge` of their
# latest reports into OUT/merged: one drift.json/drift.html, history and "what changed" for the
# whole fleet. Exit code: the merged run's (0 compliant, 1 drift, 2 a host could not be
# checked); a shard that ends otherwise (3 a bug, 130 interrupted) stops the script with its
# code, unmerged. Each shard's terminal output is in OUT/shard-i.out.
#
# TACFLEET names the command (default: `tacfleet`, the installed tool; in a checkout's venv
# it is there too). Against the simulated fleet (no Windows host needed), see docs/fleets.md.
set -uo pipefail

usage="usage: scripts/drift-shards.sh INVENTORY OUT [SHARDS [DRIFT OPTION...]]"
inventory=${1:?$usage}
out=${2:?$usage}
shards=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
tacfleet=${TACFLEET:-tacfleet}
case "$shards" in ''|*[!0-9]*|0) echo "drift-shards: SHARDS must be a whole number ≥ 1" >&2; exit 2 ;; esac
mkdir -p "$out" || exit 2

pids=()
for i in $(seq 1 "$shards"); do
    $tacfleet drift --inventory "$inventory" --shard "$i/$shards" --reports "$out/shard-$i" "$@" \
        >"$out/shard-$i.out" 2>&1 &
    pids+=("$!")
done

sources=()
for i in $(seq 1 "$shards"); do
    wait "${pids[$((i - 1))]}"
    code=$?
    echo "shard $i/$shards: exit $code ($out/shard-$i.out)"
    if [ "$code" -gt 2 ]; then
        echo "drift-shards: shard $i/$shards did not finish its report (exit $code); see" \
             "$out/shard-$i.out" >&2
        exit "$code"
    fi
    sources+=("$out/shard-$i")
done

joined=$(IFS=,; echo "${sources[*]}")
$tacfleet drift.merge --sources "$joined" --reports "$out/merged"
