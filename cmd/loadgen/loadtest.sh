#!/bin/sh
# loadtest.sh RUN [THREADS] [DURATION] [LEVELS]
#
# Measures deepscope serve on this machine: starts it on RUN with THREADS
# compute threads (default 1), drives it with loadgen at each concurrency
# of LEVELS (default 1,16,64) for DURATION each (default 10s), then prints
# the engine's raw batched inference rate for the same model, size and
# threads (deepscope bench --what infer, batch 32), so that the serving
# overhead is the ratio of the two. On a shared machine the wall-clock
# rates move with the load; the CPU time per image (the server's, from its
# metrics, and the bench's, from /usr/bin/time) moves less. Run from the
# repository root; SERVE_FLAGS adds serve flags (default --tta=false, as
# bench times one forward pass).
set -eu
run=${1:?usage: cmd/loadgen/loadtest.sh RUN [THREADS] [DURATION] [LEVELS]}
threads=${2:-1}
duration=${3:-10s}
levels=${4:-1,16,64}
addr=127.0.0.1:${PORT:-18181}
extra=${SERVE_FLAGS:---tta=false}

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/deepscope" ./cmd/deepscope
go build -o "$bin/loadgen" ./cmd/loadgen
model=$(sed -n 's/^ *"model": *"\([^"]*\)".*/\1/p' "$run/run.json" | head -1)
size=$(sed -n 's/^ *"size": *\([0-9]*\).*/\1/p' "$run/run.json" | head -1)

# shellcheck disable=SC2086 # SERVE_FLAGS holds several flags
"$bin/deepscope" serve --model "$run" --addr "$addr" --threads "$threads" --quiet $extra &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$bin"' EXIT
i=0
until curl -fs "http://$addr/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "loadtest: the server did not come up" >&2; exit 1; }
	sleep 0.1
done
echo "# serve $run ($model, ${size}px) --threads $threads $extra; loadgen $duration per level"
"$bin/loadgen" --url "http://$addr/v1/predict" -c "$levels" --duration "$duration"
kill "$pid"
wait "$pid" 2>/dev/null || true
echo "# engine: deepscope bench --what infer --model $model --sizes $size --batch 32 --iters 20 --threads $threads"
if [ -x /usr/bin/time ]; then
	# CPU time per image of the whole bench (21 batches of 32, the
	# warm-up included), comparable with loadgen's server CPU per image.
	/usr/bin/time -f "%U %S" -o "$bin/time" "$bin/deepscope" bench --what infer --model "$model" --sizes "$size" --batch 32 --iters 20 --threads "$threads"
	awk '{ printf "engine cpu ms/img %.2f\n", ($1 + $2) * 1000 / (21 * 32) }' "$bin/time"
else
	"$bin/deepscope" bench --what infer --model "$model" --sizes "$size" --batch 32 --iters 20 --threads "$threads"
fi
