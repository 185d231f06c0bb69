#!/usr/bin/env bash
# Trains segmentation recipes on a GPU machine, several at once, each run
# one after another in its lane until a deadline, and keeps each run's
# run.json (with the tuned and cross-validated scores), metrics.jsonl and
# log. It is how the README's GPU sweep on DSB2018 was made.
#
# Prepare here (the device machine has no Go toolchain), then carry
# devbin and devdata to the device machine and run the script there:
#   CGO_ENABLED=0 go build -ldflags="-s -w" -o devbin/deepscope ./cmd/deepscope
#   mkdir -p devdata && cp -r ../shared/data/dsb2018 devdata/
#   scripts/segment_sweep.sh OUTDIR SECONDS "NAME FLAGS..." ["NAME FLAGS..." ...]
# Each quoted argument is a lane: runs separated by ";", each a name and the
# flags it adds to the common ones, e.g.
#   scripts/segment_sweep.sh $OUT 540 "lr1 --lr 1e-3; lr5 --lr 5e-4" "s2 --seed 2"
# THREADS sets each run's CPU threads (default: the cores over the lanes).
# A run that would start with under a minute left is skipped, and one still
# going at the deadline is stopped (its partial metrics are kept).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$1 budget=$2
shift 2
deadline=$(($(date +%s) + budget))
work=$(mktemp -d) # run directories, checkpoints included; only small files go to $out
threads=${THREADS:-$(($(nproc) / $#))} # per run; the README's sweep used THREADS=4
common=(--threads "$threads" segment train --device cuda --data devdata/dsb2018
	--epochs 95 --val-every 19 --seed 1 --no-report)

run() { # name flags...
	local name=$1
	shift
	local left=$((deadline - $(date +%s)))
	if [ "$left" -lt 60 ]; then
		echo "$name: skipped, ${left}s left" >>"$out/skipped.txt"
		return
	fi
	mkdir -p "$out/$name"
	local t0
	t0=$(date +%s)
	# Flags given later override the common ones (--epochs, --seed, ...).
	timeout "$left" ./devbin/deepscope "${common[@]}" --out "$work/$name" "$@" \
		>"$out/$name/log.txt" 2>&1
	local rc=$? IFS=' '
	echo "rc $rc wall $(($(date +%s) - t0))s flags: $*" >>"$out/$name/log.txt"
	cp "$work/$name/run.json" "$work/$name/metrics.jsonl" "$out/$name/" 2>/dev/null
}

lane() {
	local IFS=';'
	for r in $1; do
		IFS=' ' read -r -a words <<<"$r"
		[ ${#words[@]} -gt 0 ] && run "${words[@]}"
	done
}

mkdir -p "$out"
for l in "$@"; do
	lane "$l" &
done
wait
for d in "$out"/*/; do
	printf '%s %s\n' "$(basename "$d")" "$(grep -o '"score_cross_validated": *[0-9.]*' "$d/run.json" 2>/dev/null)"
done
