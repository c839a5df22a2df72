#!/usr/bin/env bash
# Prepares a Docker build context from this checkout's build, for `docker build --build-arg PREBUILT=1`:
# no npm registry needed inside the build (offline hosts, CI, the project's own tests).
#
#   npm run build && deploy/prebuilt-context.sh /tmp/homeops-ctx
#   docker build --build-arg PREBUILT=1 -t homeops /tmp/homeops-ctx
#
# Copies bin/, dist/ (or $HOMEOPS_DIST), src/web/, the native DNS addon, package files, the Dockerfile and deploy/, then node_modules/ pruned to
# production dependencies (npm prune --omit=dev --offline: the packages are already on disk).
set -Eeuo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: deploy/prebuilt-context.sh DIR}"
dist="${HOMEOPS_DIST:-$root/dist}" # another build's dist/ (same sources)
[[ -f "$dist/commands/serve.js" ]] || { echo "$dist is not a build: run npm run build first" >&2; exit 1; }
[[ -d "$root/node_modules" ]] || { echo "node_modules/ is missing: run npm ci first" >&2; exit 1; }
mkdir -p "$out/src" "$out/deploy"
cp -a "$dist" "$out/dist"
cp -a "$root/bin" "$root/package.json" "$root/package-lock.json" "$root/Dockerfile" "$out/"
[[ -f "$root/oclif.manifest.json" ]] && cp "$root/oclif.manifest.json" "$out/"
cp -a "$root/src/web" "$out/src/web"
# The native DNS answerer, when this checkout built it (dns serve falls back to JavaScript without it).
addon="$root/native/build/Release/homeops_dns.node"
if [[ -f "$addon" ]]; then mkdir -p "$out/native/build/Release" && cp "$addon" "$out/native/build/Release/"; fi
cp -a "$root/deploy/." "$out/deploy/"
cp -a "$root/node_modules" "$out/node_modules"
(cd "$out" && npm prune --omit=dev --no-audit --no-fund --offline --loglevel=error >/dev/null)
printf 'node_modules/.cache\n' > "$out/.dockerignore"
echo "$out"
