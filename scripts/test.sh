#!/usr/bin/env bash
# Everything, from a fresh clone (docs/architecture.md "Tests run against real components"): system packages,
# npm ci, build, lint, typecheck, the test environment, every vitest project, and a last line
# `N passed, N failed, N skipped`.
# Exit status non-zero when any step or test failed. What .ci/run runs.
# HOMEOPS_TESTENV_REUSE=1: reuse a running test environment and leave it running.
# Beside the single-node environment (Debian's Docker 20.10) it starts Debian unstable's Docker 28.x (vitest
# project engine28: the Docker-facing integration tests again) and a three-node Swarm (project multinode);
# those two projects run in a vitest of their own beside the main one. HOMEOPS_TEST_ENGINE28=0 /
# HOMEOPS_TEST_NODES=0 leave one out on a developer machine (the run says so). Each part's time is printed
# at the end.
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

export HOMEOPS_TEST_ENGINE28="${HOMEOPS_TEST_ENGINE28:-1}"
export HOMEOPS_TEST_NODES="${HOMEOPS_TEST_NODES:-3}"
extra=()
if [[ "$HOMEOPS_TEST_ENGINE28" == 1 ]]; then
  extra+=(--engine 28)
else
  printf 'test.sh: the Docker 28.x project (engine28) is OFF (HOMEOPS_TEST_ENGINE28=%s)\n' "$HOMEOPS_TEST_ENGINE28"
fi
if [[ "$HOMEOPS_TEST_NODES" == 3 ]]; then
  extra+=(--nodes 3)
else
  printf 'test.sh: the three-node Swarm project (multinode) is OFF (HOMEOPS_TEST_NODES=%s)\n' "$HOMEOPS_TEST_NODES"
fi
if ((${#extra[@]})); then
  step "start the 28.x engine and the three-node Swarm (scripts/testenv.sh start --reuse ${extra[*]})"
  t=$SECONDS
  # Fails loudly: the projects that need them were asked for.
  bash scripts/testenv.sh start --reuse "${extra[@]}"
  timings+=("extra environments: $((SECONDS - t))s")
fi

step "vitest run (unit, integration, e2e and the projects turned on above)"
rm -f test-results/vitest.json test-results/vitest-beside.json test-results/beside.log
mkdir -p test-results
reports=(test-results/vitest.json)
beside=()
if [[ "$HOMEOPS_TEST_ENGINE28" == 1 ]]; then beside+=(--project engine28); fi
if [[ "$HOMEOPS_TEST_NODES" == 3 ]]; then beside+=(--project multinode); fi
vitest_rc=0
beside_pid=""
t=$SECONDS
if ((${#beside[@]})); then
  # The projects of the other daemons (the 28.x engine, the three-node Swarm) in a vitest of their own,
  # beside the rest: they mostly wait for Swarm, and within one vitest they would queue behind the
  # integration project's single worker. Their output is printed once the main run ends.
  npx vitest run "${beside[@]}" --outputFile.json=test-results/vitest-beside.json >test-results/beside.log 2>&1 &
  beside_pid=$!
  reports+=(test-results/vitest-beside.json)
fi
HOMEOPS_TEST_ENGINE28=0 HOMEOPS_TEST_NODES=0 npx vitest run || vitest_rc=$?
timings+=("vitest: $((SECONDS - t))s")
if [[ -n "$beside_pid" ]]; then
  beside_rc=0
  wait "$beside_pid" || beside_rc=$?
  step "vitest run ${beside[*]} (ran beside the run above; exit $beside_rc)"
  cat test-results/beside.log
  timings+=("vitest beside it done: $((SECONDS - t))s")
  if ((beside_rc != 0 && vitest_rc == 0)); then vitest_rc=$beside_rc; fi
fi

if ((!reuse)); then
  step "stop the test environment"
  trap - EXIT
  bash scripts/testenv.sh stop || printf 'test.sh: warning: scripts/testenv.sh stop failed\n' >&2
fi

printf '\ntimings: %s\n' "${timings[*]/%/;}"

# The last line of the output is the summary.
step "summary ($((SECONDS - started))s, vitest exit $vitest_rc)"
summary_rc=0
node scripts/summarize-tests.mjs "${reports[@]}" || summary_rc=$?
if ((vitest_rc != 0 || summary_rc != 0)); then exit 1; fi
