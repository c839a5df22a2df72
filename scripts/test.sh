#!/usr/bin/env bash
# Everything, from a fresh clone (DESIGN.md §6): system packages, npm ci, build, lint, typecheck,
# the test environment, every vitest project, and a last line `N passed, N failed, N skipped`.
# Exit status non-zero when any step or test failed. What .ci/run runs.
# HOMEOPS_TESTENV_REUSE=1: reuse a running test environment and leave it running.
# The Docker 28.x engine matrix (vitest project engine28) and the three-node Swarm (project multinode) are
# opt-in while their suites are being completed: HOMEOPS_TEST_ENGINE28=1 / HOMEOPS_TEST_NODES=3 turn them on
# (the run says so either way). Each part's time is printed at the end.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STEP="(none)"
step() {
  STEP="$*"
  printf '\n===== %s =====\n' "$*"
}
trap 'printf "\ntest.sh: FAILED at step \"%s\" (exit %s)\n" "$STEP" "$?" >&2' ERR

started=$SECONDS
timings=()

step "system packages (scripts/testenv.sh install)"
bash scripts/testenv.sh install

step "npm ci"
npm ci --no-audit --no-fund

step "npm run build"
# The tests and benchmarks measure the native DNS answerer: a failed addon build is an error here.
HOMEOPS_REQUIRE_NATIVE=1 npm run build

step "npm run lint"
npm run lint

step "npm run typecheck"
npm run typecheck

reuse=0
if [[ "${HOMEOPS_TESTENV_REUSE:-}" == 1 ]]; then reuse=1; fi
if ((reuse)); then
  # For a developer machine: use (or start) the running environment and leave it running.
  step "start or reuse the test environment (scripts/testenv.sh start --reuse)"
  bash scripts/testenv.sh start --reuse
else
  step "start the test environment (scripts/testenv.sh start)"
  trap 'printf "\n===== stop the test environment =====\n"; bash scripts/testenv.sh stop || true' EXIT
  t=$SECONDS
  bash scripts/testenv.sh start
  timings+=("test environment: $((SECONDS - t))s")
fi

export HOMEOPS_TEST_ENGINE28="${HOMEOPS_TEST_ENGINE28:-0}"
export HOMEOPS_TEST_NODES="${HOMEOPS_TEST_NODES:-0}"
extra=()
if [[ "$HOMEOPS_TEST_ENGINE28" == 1 ]]; then
  extra+=(--engine 28)
else
  printf 'test.sh: the Docker 28.x project (engine28) is off; HOMEOPS_TEST_ENGINE28=1 runs it\n'
fi
if [[ "$HOMEOPS_TEST_NODES" == 3 ]]; then
  extra+=(--nodes 3)
else
  printf 'test.sh: the three-node Swarm project (multinode) is off; HOMEOPS_TEST_NODES=3 runs it\n'
fi
if ((${#extra[@]})); then
  step "start the 28.x engine and the three-node Swarm (scripts/testenv.sh start --reuse ${extra[*]})"
  t=$SECONDS
  # Fails loudly: the projects that need them were asked for.
  bash scripts/testenv.sh start --reuse "${extra[@]}"
  timings+=("extra environments: $((SECONDS - t))s")
fi

step "vitest run (unit, integration, e2e and the projects turned on above)"
rm -f test-results/vitest.json
vitest_rc=0
t=$SECONDS
npx vitest run || vitest_rc=$?
timings+=("vitest: $((SECONDS - t))s")

if ((!reuse)); then
  step "stop the test environment"
  trap - EXIT
  bash scripts/testenv.sh stop || printf 'test.sh: warning: scripts/testenv.sh stop failed\n' >&2
fi

printf '\ntimings: %s\n' "${timings[*]/%/;}"

# The last line of the output is the summary.
step "summary ($((SECONDS - started))s, vitest exit $vitest_rc)"
summary_rc=0
node scripts/summarize-tests.mjs test-results/vitest.json || summary_rc=$?
if ((vitest_rc != 0 || summary_rc != 0)); then exit 1; fi
