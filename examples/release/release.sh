#!/usr/bin/env bash
# release.sh: a CI release step with Flagpole. Deploy the build with the new
# code path dark, switch its flag on and wait until every connected service
# instance has applied the change, check health, and switch the flag off
# again (without a redeploy) if the check fails.
#
# Usage: release.sh FLAG [ENVIRONMENT]
#
# Environment:
#   FLAGPOLE_ADDR, FLAGPOLE_TOKEN  server and CI token (scope ci) for the CLI
#   FLAGPOLE         the flagpole binary (default: flagpole on PATH)
#   DEPLOY_CMD       deploys the build (default: a simulated deploy)
#   HEALTH_CMD       exits 0 when the release is healthy, e.g.
#                    'curl -fsS https://checkout.internal/healthz'
#   HEALTH_RETRIES   checks before giving up (default 5)
#   HEALTH_INTERVAL  seconds between checks (default 5)
#   WAIT             how long every instance may take to apply (default 2m)
#
# Exit status: 0 released; 1 rolled back (or rollback failed: see output), or
# the check failed for a flag that was already enabled before the script ran
# (left enabled: the script only undoes what it did).
set -euo pipefail

flag=${1:?usage: release.sh FLAG [ENVIRONMENT]}
env=${2:-production}
flagpole=${FLAGPOLE:-flagpole}
deploy_cmd=${DEPLOY_CMD:-}
health_cmd=${HEALTH_CMD:-true}
retries=${HEALTH_RETRIES:-5}
interval=${HEALTH_INTERVAL:-5}
wait=${WAIT:-2m}

step() { printf '==> %s\n' "$*"; }

# was_on is set when the flag was already enabled before this run: then a
# failed check is reported, but the flag is left as this script found it.
was_on=

rollback() {
	if [[ -n $was_on ]]; then
		echo "release.sh: $flag was enabled in $env before this release: not disabling it" >&2
		exit 1
	fi
	step "rolling back: disabling $flag in $env"
	if ! "$flagpole" flag disable "$flag" --env "$env" --wait="$wait"; then
		echo "release.sh: ROLLBACK INCOMPLETE: check 'flagpole clients --env $env'" >&2
	fi
	exit 1
}

# 1. Deploy. The new code ships dark: the flag is still off in $env.
step "deploying (flag $flag stays off in $env)"
if [[ -n $deploy_cmd ]]; then
	bash -c "$deploy_cmd"
else
	echo "simulated deploy of build ${BUILD_ID:-local}"
fi

# 2. Release: enable the flag and wait until every connected instance has it.
#    Exit code 4 means some instances did not apply it in time: roll back
#    rather than run a release that only part of the fleet serves.
step "releasing: enabling $flag in $env"
set +e
out=$("$flagpole" flag enable "$flag" --env "$env" --wait="$wait")
rc=$?
set -e
printf '%s\n' "$out"
if [[ $out == *"already enabled"* ]]; then was_on=1; fi
case $rc in
0) ;;
4) echo "release.sh: not every instance applied $flag within $wait" >&2; rollback ;;
3) echo "release.sh: $flag changed concurrently; not releasing" >&2; exit 1 ;;
*) echo "release.sh: could not enable $flag (exit $rc)" >&2; exit 1 ;;
esac

# 3. Verify: the health check must pass within the retries.
for ((i = 1; i <= retries; i++)); do
	step "health check $i/$retries"
	if bash -c "$health_cmd"; then
		step "released $flag in $env"
		exit 0
	fi
	if ((i < retries)); then sleep "$interval"; fi
done
echo "release.sh: health check failed $retries time(s)" >&2
rollback
