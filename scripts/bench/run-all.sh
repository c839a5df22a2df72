#!/usr/bin/env bash
# Runs every benchmark in scripts/bench (*.mjs with node, *.sh with bash, except this file), one
# after another, each limited to 15 minutes. Exit 1 when any of them failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

failed=()
ran=0
for bench in scripts/bench/*.mjs scripts/bench/*.sh; do
  [[ -f "$bench" && "$(basename "$bench")" != run-all.sh ]] || continue
  ran=$((ran + 1))
  printf '\n===== %s =====\n' "$bench"
  case "$bench" in
    *.mjs) timeout 900 node "$bench" ;;
    *.sh) timeout 900 bash "$bench" ;;
  esac
  rc=$?
  if ((rc != 0)); then
    printf 'bench: %s failed (exit %s)\n' "$bench" "$rc"
    failed+=("$bench")
  fi
done

printf '\n===== benchmarks: %s run, %s failed =====\n' "$ran" "${#failed[@]}"
for bench in "${failed[@]}"; do printf '  failed: %s\n' "$bench"; done
((${#failed[@]} == 0))
