#!/usr/bin/env bash
# demo.sh: a guarded release from start to end on one machine. It starts
# `flagpole serve` on a temporary database, creates the flag new-checkout,
# runs INSTANCES instances of the checkout service (guarded-shop) whose new
# flow fails FAULT of its requests, and starts a release plan guarded by the
# service's HTTP errors with --wait: the plan rolls itself back (exit 5) and
# the evidence is printed. Then the service is restarted with the fault
# fixed and the same release completes (exit 0).
#
# Usage: demo.sh
#
# Environment (defaults in brackets):
#   FLAGPOLE      the flagpole binary [flagpole on PATH]
#   SHOP          the guarded-shop binary [guarded-shop on PATH]
#   INSTANCES     service instances [5]
#   RPS           requests per second per instance [50]
#   FAULT         share of the new flow's requests that fail [0.3]
#   BASE_ERRORS   share of every request that fails, in both flows [0.01]
#   STEPS         the plan's steps [10,50,100]
#   HOLD          each step's hold [20s]
#   MIN_SAMPLES   exposures per variant before the guard decides [300]
#   GUARD         the guard [http.server.error<=1.5x]; by latency:
#                 'mean(http.server.request.duration)<=1.2x,+0.05'
#   TRACK_INTERVAL  how often the SDKs send signals [the SDK's default, 2s]
#
# Exit status: 0 when the faulty release was rolled back and the fixed one
# completed, 1 otherwise.
set -euo pipefail

flagpole=${FLAGPOLE:-flagpole}
shop=${SHOP:-guarded-shop}
instances=${INSTANCES:-5}
rps=${RPS:-50}
fault=${FAULT:-0.3}
base_errors=${BASE_ERRORS:-0.01}
steps=${STEPS:-10,50,100}
hold=${HOLD:-20s}
min_samples=${MIN_SAMPLES:-300}
guard=${GUARD:-'http.server.error<=1.5x'}
track_interval=${TRACK_INTERVAL:-0}

step() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

export FLAGPOLE_ADMIN_TOKEN="demo-admin-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FLAGPOLE_TOKEN=$FLAGPOLE_ADMIN_TOKEN

step "starting flagpole serve"
"$flagpole" serve --db "$work/flagpole.db" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
	--log-format json 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 300); do # up to 30 s: a loaded CI machine is slow to start it
	addr=$(sed -n 's/.*"msg":"flagpole serving".*"grpc":"\([^"]*\)".*/\1/p' "$work/server.log")
	[[ -n $addr ]] && break
	sleep 0.1
done
if [[ -z ${addr:-} ]]; then
	echo "demo.sh: flagpole serve did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
fi
export FLAGPOLE_ADDR=$addr
echo "gRPC at $addr"

"$flagpole" flag create new-checkout --type boolean --description "New checkout flow" >/dev/null
sdk_token=$("$flagpole" token create guarded-shop --scope sdk --env production)

# start_shop FAULT: runs the instances and waits until all are connected.
start_shop() {
	FLAGPOLE_TOKEN=$sdk_token "$shop" --server "$addr" --instances "$instances" --rps "$rps" \
		--fault "$1" --base-errors "$base_errors" --track-interval "$track_interval" \
		>>"$work/shop.out" 2>>"$work/shop.log" &
	shop_pid=$!
	pids+=("$shop_pid")
	for _ in $(seq 300); do
		if [[ $("$flagpole" clients --env production -o json | grep -c '"instanceId"') -ge $instances ]]; then
			return
		fi
		sleep 0.1
	done
	echo "demo.sh: the instances did not connect:" >&2
	cat "$work/shop.log" >&2
	exit 1
}

stop_shop() {
	kill -INT "$shop_pid"
	wait "$shop_pid" || true
	cat "$work/shop.out"
	: >"$work/shop.out"
}

# release: starts the plan and waits for its end; prints the exit code.
release() {
	local code=0
	"$flagpole" release start new-checkout --env production --steps "$steps" --hold "$hold" \
		--guard "$guard" --min-samples "$min_samples" --wait >&2 || code=$?
	echo "$code"
}

step "act 1: the new flow fails $fault of its requests; $instances instances at $rps requests/s each"
start_shop "$fault"
step "flagpole release start new-checkout --env production --steps $steps --hold $hold --guard '$guard' --min-samples $min_samples --wait"
code=$(release)
step "release start exited $code (5: rolled back by its guard)"
"$flagpole" release status new-checkout --env production
"$flagpole" audit --flag new-checkout --env production
stop_shop
if [[ $code != 5 ]]; then
	echo "demo.sh: the faulty release was not rolled back (exit $code)" >&2
	exit 1
fi

step "act 2: the fault is fixed and the service redeployed; the same release again"
start_shop 0
code=$(release)
step "release start exited $code (0: completed)"
"$flagpole" release status new-checkout --env production
stop_shop
if [[ $code != 0 ]]; then
	echo "demo.sh: the fixed release did not complete (exit $code)" >&2
	exit 1
fi
step "done: the faulty release rolled itself back, the fixed one completed"
