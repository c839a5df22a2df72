#!/usr/bin/env bash
# The real components the integration and e2e tests run against
# (docs/architecture.md "Tests run against real components"):
# a private dockerd in swarm mode, test images imported from static busybox,
# and two OCI registries on loopback (A without auth, B with htpasswd auth).
#
#   scripts/testenv.sh install          apt-get install the system packages (root)
#   scripts/testenv.sh start [--reuse] [--nodes N] [--engine 28]
#                                       (re)start the environment, write env.json/env.sh; --nodes N also
#                                       starts an N-node Swarm, --engine 28 Debian unstable's Docker 28.x
#                                       (scripts/testenv-nodes.sh; with --reuse, a healthy one is reused)
#   scripts/testenv.sh stop [--nodes|--engine]
#                                       stop everything and remove the runtime files (or only the cluster /
#                                       only the 28.x engine)
#   scripts/testenv.sh status           show what runs (exit 0 only when all is healthy)
#
# Environment: HOMEOPS_TESTENV_DIR (default /tmp/homeops-testenv; keep it short, unix
# socket paths are limited to 108 bytes), HOMEOPS_TESTENV_REGISTRY_PORT (5801),
# HOMEOPS_TESTENV_AUTH_REGISTRY_PORT (5802), HOMEOPS_TESTENV_SWARM_PORT (2377),
# HOMEOPS_TESTENV_STORAGE_DRIVER (dockerd's choice when unset).
#
# Every server listens on 127.0.0.1 only. Processes are stopped only by the pids this
# script recorded (pidfiles), never by name.
set -Eeuo pipefail

DIR="${HOMEOPS_TESTENV_DIR:-/tmp/homeops-testenv}"
REG_PORT="${HOMEOPS_TESTENV_REGISTRY_PORT:-5801}"
AUTH_PORT="${HOMEOPS_TESTENV_AUTH_REGISTRY_PORT:-5802}"
SWARM_PORT="${HOMEOPS_TESTENV_SWARM_PORT:-2377}"
REG_HOST="127.0.0.1:${REG_PORT}"
AUTH_HOST="127.0.0.1:${AUTH_PORT}"
AUTH_USER=homeops

APP_REPO=hotest/app
OTHER_REPO=hotest/other
APP_TAGS=(1.0.0 1.0.1 1.1.0 2.0.0 latest 1.0.0-alpine 1.1.0-alpine)
OTHER_TAGS=(1.0.0)
AUTH_APP_TAGS=(1.0.0 2.0.0)
APPLETS=(sh ash sleep echo cat ls httpd nc wget true false env id ps printf test mkdir rm touch grep date hostname kill
  uname head tail sed awk wc ip ifconfig ping nslookup)

# g++, make, python3: node-gyp builds the native DNS answerer (npm run build).
# mosquitto, python3-aiosmtpd: the real MQTT broker and SMTP sink the notifier tests send to.
# docker-compose: compose-file updates of images (test/integration/images/compose.test.ts).
# ddclient, time: the ddns benchmark measures ddclient's CPU and memory beside homeops (scripts/bench/ddns.mjs).
# systemd: systemd-analyze scores the units install.sh writes (test/integration/install.test.ts).
# debootstrap, socat, util-linux: the 28.x engine and the multi-node Swarm (scripts/testenv-nodes.sh).
PACKAGES=(docker.io docker-registry busybox-static bind9-dnsutils dnsperf apache2-utils dnsmasq-base chromium git iproute2
  ca-certificates g++ make python3 systemd mosquitto python3-aiosmtpd docker-compose
  ddclient time debootstrap socat util-linux)

SOCK="$DIR/docker.sock"
DATA="$DIR/data"
EXEC="$DIR/x" # exec-root: containerd's socket lives below it, keep it short
LOGS="$DIR/log"
DOCKER_CONFIG_DIR="$DIR/docker-config"
DOCKERD_PID="$DIR/dockerd.pid"
REG_PID="$DIR/registry.pid"
AUTH_PID="$DIR/auth-registry.pid"
ENV_JSON="$DIR/env.json"
ENV_SH="$DIR/env.sh"
CONTAINERD_NS=moby
# Everything stop removes (logs and the lock file stay).
RUNTIME_PATHS=("$DATA" "$EXEC" "$DIR/registry" "$DIR/auth-registry" "$DIR/images" "$DOCKER_CONFIG_DIR" "$DIR/registry.yml"
  "$DIR/auth-registry.yml" "$DIR/htpasswd" "$ENV_JSON" "$ENV_SH" "$SOCK" "$DOCKERD_PID" "$REG_PID" "$AUTH_PID")

export DOCKER_HOST="unix://$SOCK"
export DOCKER_CONFIG="$DOCKER_CONFIG_DIR"
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

STEP="(none)"
say() { printf 'testenv: %s\n' "$*"; }
step() {
  STEP="$*"
  say "$*"
}
die() {
  printf 'testenv: FAILED at step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}
on_err() {
  printf 'testenv: FAILED at step "%s": command exited %s (line %s): %s\n' "$STEP" "$1" "$2" "$3" >&2
  exit "$1"
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

usage() {
  grep '^#   scripts/testenv.sh' "$0" | sed 's/^# *//'
}

check_dir() {
  [[ "$DIR" =~ ^/[A-Za-z0-9._/-]+$ && "$DIR" != "/" ]] ||
    die "HOMEOPS_TESTENV_DIR must be an absolute path of [A-Za-z0-9._/-] (got '$DIR')"
  DIR="${DIR%/}"
  # containerd's socket: $EXEC/containerd/containerd.sock, limit 107 bytes
  ((${#DIR} <= 60)) || die "HOMEOPS_TESTENV_DIR is too long (${#DIR} > 60 characters; unix socket paths are limited)"
}

# --- processes ---------------------------------------------------------------

read_pid() {
  local f=$1 p=""
  [[ -f "$f" ]] && p=$(head -c 32 "$f" 2>/dev/null | tr -dc '0-9')
  printf '%s' "$p"
}

# Alive and not a zombie.
pid_alive() {
  local p=$1 st
  [[ "$p" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$p/stat" ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# Alive and its command line mentions our directory, so a recycled pid is never touched.
pid_ours() {
  local p=$1
  pid_alive "$p" || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$DIR/"
}

# wait_gone PID SECONDS: 0 when the pid is gone within the time.
wait_gone() {
  local p=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    pid_alive "$p" || return 0
    sleep 0.1
  done
  ! pid_alive "$p"
}

# stop_pid NAME PID SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name=$1 p=$2 secs=$3
  say "stopping $name (pid $p): SIGTERM, waiting up to ${secs}s"
  kill -TERM "$p" 2>/dev/null || true
  if ! wait_gone "$p" "$secs"; then
    say "$name (pid $p) still running after ${secs}s: SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
    wait_gone "$p" 5 || say "warning: $name (pid $p) did not exit after SIGKILL"
  fi
}

# stop_pidfile NAME PIDFILE SECONDS
stop_pidfile() {
  local name=$1 f=$2 secs=$3 p
  p=$(read_pid "$f")
  if [[ -n "$p" ]]; then
    if pid_ours "$p"; then
      stop_pid "$name" "$p" "$secs"
    else
      say "$name: not running (stale pidfile $f, pid $p)"
    fi
  fi
  rm -f "$f"
}

# --- probes ------------------------------------------------------------------

# http_status HOST PORT PATH: prints the HTTP status code, or nothing when nobody answers.
http_status() {
  # shellcheck disable=SC2016 # the inner script expands its own positional parameters
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$2" "$0" "$1" >&3
    IFS=" " read -r _ code _ <&3 && printf "%s" "$code"
  ' "$1" "$2" "$3" 2>/dev/null || true
}

docker_ok() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }
swarm_state() { timeout 10 docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

healthy() {
  local p
  [[ -f "$ENV_JSON" ]] || return 1
  grep -qF "\"$REG_HOST\"" "$ENV_JSON" && grep -qF "\"$AUTH_HOST\"" "$ENV_JSON" || return 1
  p=$(read_pid "$DOCKERD_PID") && pid_ours "$p" || return 1
  p=$(read_pid "$REG_PID") && pid_ours "$p" || return 1
  p=$(read_pid "$AUTH_PID") && pid_ours "$p" || return 1
  docker_ok || return 1
  [[ "$(swarm_state)" == active ]] || return 1
  [[ "$(http_status 127.0.0.1 "$REG_PORT" /v2/)" == 200 ]] || return 1
  [[ "$(http_status 127.0.0.1 "$AUTH_PORT" /v2/)" == 401 ]] || return 1
}

need_tools() {
  local missing=() t
  for t in dockerd docker docker-registry htpasswd node setsid flock timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [[ -x /bin/busybox ]] || missing+=("/bin/busybox (busybox-static)")
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}; run 'scripts/testenv.sh install' as root first"
  if ldd /bin/busybox >/dev/null 2>&1; then
    die "/bin/busybox is dynamically linked; install busybox-static (scripts/testenv.sh install)"
  fi
}

lock() {
  mkdir -p "$DIR"
  if [[ -w "$DIR/.lock" ]] || [[ ! -e "$DIR/.lock" && -w "$DIR" ]]; then
    exec 9>>"$DIR/.lock"
  else
    exec 9<"$DIR/.lock" # another user's environment: flock works on a read-only descriptor too
  fi
  flock -w 180 9 || die "another testenv.sh holds $DIR/.lock for over 180s"
}

tail_log() {
  [[ -f "$1" ]] || return 0
  printf -- '--- last lines of %s ---\n' "$1" >&2
  tail -n "${2:-30}" "$1" >&2 || true
  printf -- '---\n' >&2
}

# --- install -----------------------------------------------------------------

cmd_install() {
  local missing=() p
  step "checking system packages: ${PACKAGES[*]}"
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    say "all packages are installed"
    return 0
  fi
  say "missing packages: ${missing[*]}"
  if ((EUID != 0)); then
    die "installing packages needs root; run 'sudo scripts/testenv.sh install' or 'sudo apt-get install ${missing[*]}'"
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages by hand: ${missing[*]}"
  step "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
  step "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" || die "apt-get install failed"
  say "packages installed"
}

# --- stop --------------------------------------------------------------------

umount_below() {
  local mounts m
  mounts=$(awk -v d="$DIR/" 'index($2, d) == 1 { print length($2) " " $2 }' /proc/self/mounts | sort -rn | cut -d' ' -f2-)
  [[ -n "$mounts" ]] || return 0
  say "unmounting $(wc -l <<<"$mounts") leftover mount(s) below $DIR"
  while IFS= read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
  done <<<"$mounts"
}

do_stop() {
  local p f cids c runc_root

  p=$(read_pid "$DOCKERD_PID")
  if [[ -n "$p" ]] && pid_ours "$p" && docker_ok; then
    step "leaving swarm and removing containers"
    timeout 30 docker swarm leave --force >/dev/null 2>&1 || true
    cids=$(timeout 15 docker ps -aq 2>/dev/null || true)
    if [[ -n "$cids" ]]; then
      # shellcheck disable=SC2086
      timeout 60 docker rm -f $cids >/dev/null 2>&1 || say "warning: could not remove every container"
    fi
  fi

  step "stopping registries"
  stop_pidfile "registry A" "$REG_PID" 20
  stop_pidfile "registry B" "$AUTH_PID" 20

  step "stopping dockerd"
  stop_pidfile dockerd "$DOCKERD_PID" 20
  # dockerd's managed containerd normally exits with it; make sure.
  stop_pidfile containerd "$EXEC/containerd/containerd.pid" 10

  # Containers left behind by a killed daemon: delete them through runc's own state,
  # then stop the shims that were serving our containerd socket.
  for runc_root in "$EXEC"/runtime-runc/*; do
    if [[ ! -d "$runc_root" ]] || ! command -v runc >/dev/null 2>&1; then continue; fi
    cids=$(timeout 10 runc --root "$runc_root" list -q 2>/dev/null || true)
    for c in $cids; do
      say "removing leftover container $c (runc --root $runc_root)"
      timeout 20 runc --root "$runc_root" delete --force "$c" >/dev/null 2>&1 || true
    done
  done
  for f in $(grep -alF -- "$EXEC/containerd/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    p=${f#/proc/}
    p=${p%/cmdline}
    if [[ "$p" != "$$" && "$p" != "$BASHPID" ]] && pid_alive "$p"; then stop_pid "leftover containerd shim" "$p" 5; fi
  done

  step "removing runtime files in $DIR"
  umount_below
  rm -rf --one-file-system "${RUNTIME_PATHS[@]}" || die "could not remove runtime files below $DIR"
}

NODES_SH="$(dirname "${BASH_SOURCE[0]}")/testenv-nodes.sh"

cmd_stop() {
  check_dir
  case "${1:-}" in
    --nodes)
      bash "$NODES_SH" stop-cluster
      return 0
      ;;
    --engine)
      bash "$NODES_SH" stop-engine
      return 0
      ;;
    "") ;;
    *) die "unknown option for stop: $1" ;;
  esac
  bash "$NODES_SH" stop-cluster || say "warning: stopping the multi-node cluster failed"
  bash "$NODES_SH" stop-engine || say "warning: stopping the 28.x engine failed"
  if [[ ! -d "$DIR" ]]; then
    say "nothing to stop ($DIR does not exist)"
    return 0
  fi
  ((EUID == 0)) || die "stop needs root (the environment runs a dockerd as root)"
  lock
  do_stop
  say "stopped"
}

# --- start -------------------------------------------------------------------

write_registry_config() { # FILE PORT STORAGE [HTPASSWD]
  local secret
  secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  {
    printf 'version: 0.1\n'
    printf 'log:\n  level: warn\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$3"
    printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
    printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$2" "$secret"
    if [[ -n "${4:-}" ]]; then
      printf 'auth:\n  htpasswd:\n    realm: homeops-test\n    path: %s\n' "$4"
    fi
  } >"$1"
}

# start_registry NAME CONFIG PIDFILE PORT EXPECTED_STATUS
start_registry() {
  local name=$1 cfg=$2 pidfile=$3 port=$4 want=$5 log p i code=""
  log="$LOGS/$(basename "$cfg" .yml).log"
  code=$(http_status 127.0.0.1 "$port" /v2/)
  if [[ -n "$code" ]]; then
    ss -ltnp "sport = :$port" >&2 2>/dev/null || true
    die "port 127.0.0.1:$port is already in use by another process (see above); stop it or set the port variable"
  fi
  : >"$log"
  setsid docker-registry serve "$cfg" </dev/null >>"$log" 2>&1 9>&- &
  p=$!
  printf '%s\n' "$p" >"$pidfile"
  for ((i = 0; i < 100; i++)); do
    code=$(http_status 127.0.0.1 "$port" /v2/)
    [[ "$code" == "$want" ]] && break
    pid_alive "$p" || break
    sleep 0.1
  done
  if [[ "$code" != "$want" ]]; then
    tail_log "$log"
    die "$name did not answer GET /v2/ with $want on 127.0.0.1:$port within 10s (got '${code:-no answer}')"
  fi
}

make_rootfs() {
  local root="$DIR/images/rootfs" a
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www"
  cp /bin/busybox "$root/bin/busybox"
  for a in "${APPLETS[@]}"; do ln -s busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
}

# import_image REF VERSION: a one-layer image whose /VERSION (and /www/index.html) holds VERSION.
import_image() {
  local ref=$1 version=$2 root="$DIR/images/rootfs"
  printf '%s\n' "$version" >"$root/VERSION"
  printf '%s\n' "$version" >"$root/www/index.html"
  tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . |
    timeout 60 docker import \
      -c 'CMD ["/bin/sleep","3600"]' \
      -c 'ENV PATH=/bin' \
      -c "LABEL org.opencontainers.image.version=$version" \
      -m "homeops test image $ref" - "$ref" >/dev/null ||
    die "docker import of $ref failed"
}

# push_all REGISTRY_HOST REPO TAG...: pushes, prints "TAG DIGEST" lines.
push_tags() {
  local host=$1 repo=$2 out tag line
  shift 2
  for tag in "$@"; do
    timeout 30 docker tag "$repo:$tag" "$host/$repo:$tag" || die "docker tag $host/$repo:$tag failed"
  done
  for tag in "$@"; do
    out=$(timeout 120 docker push "$host/$repo:$tag" 2>&1) || {
      printf '%s\n' "$out" >&2
      die "docker push $host/$repo:$tag failed"
    }
    line=$(grep -oE "digest: sha256:[0-9a-f]{64}" <<<"$out" | tail -n1 | cut -d' ' -f2)
    [[ -n "$line" ]] || die "docker push $host/$repo:$tag printed no digest"
    printf '%s %s\n' "$tag" "$line"
  done
}

write_env() { # PASSWORD DIGEST_LINES (the rest comes in T_* variables)
  HOMEOPS_ENV_PASSWORD=$1 HOMEOPS_ENV_DIGESTS=$2 HOMEOPS_ENV_DOCKER_PID=$(read_pid "$DOCKERD_PID") \
    node --input-type=module - <<'EOF' || die "could not write $ENV_JSON"
import {writeFileSync} from 'node:fs'
const e = process.env
const digests = Object.fromEntries(
  e.HOMEOPS_ENV_DIGESTS.trim()
    .split('\n')
    .map((l) => l.split(' ')),
)
const env = {
  dir: e.T_DIR,
  dockerHost: e.DOCKER_HOST,
  dockerSocket: e.T_SOCK,
  dockerPid: Number(e.HOMEOPS_ENV_DOCKER_PID),
  registry: {host: e.T_REG_HOST, url: `http://${e.T_REG_HOST}`},
  authRegistry: {
    host: e.T_AUTH_HOST,
    url: `http://${e.T_AUTH_HOST}`,
    username: e.T_AUTH_USER,
    password: e.HOMEOPS_ENV_PASSWORD,
  },
  dockerConfigDir: e.DOCKER_CONFIG,
  images: {
    app: e.T_APP_REPO,
    tags: e.T_APP_TAGS.split(' '),
    other: e.T_OTHER_REPO,
    otherTags: e.T_OTHER_TAGS.split(' '),
    authTags: e.T_AUTH_TAGS.split(' '),
    digests,
  },
  startedAt: new Date().toISOString(),
}
writeFileSync(e.T_ENV_JSON, JSON.stringify(env, null, 2) + '\n', {mode: 0o600})
const q = (s) => `'${String(s).replaceAll("'", "'\\''")}'`
const vars = {
  HOMEOPS_TESTENV_DIR: env.dir,
  DOCKER_HOST: env.dockerHost,
  DOCKER_CONFIG: env.dockerConfigDir,
  HOMEOPS_TEST_REGISTRY: env.registry.host,
  HOMEOPS_TEST_AUTH_REGISTRY: env.authRegistry.host,
  HOMEOPS_TEST_AUTH_REGISTRY_USERNAME: env.authRegistry.username,
  HOMEOPS_TEST_AUTH_REGISTRY_PASSWORD: env.authRegistry.password,
}
const lines = Object.entries(vars).map(([k, v]) => `export ${k}=${q(v)}\n`)
writeFileSync(e.T_ENV_SH, lines.join(''), {mode: 0o600})
EOF
}

start_failed() {
  local rc=$?
  trap - EXIT ERR
  ((rc == 0)) && return 0
  set +e
  say "start failed (exit $rc): stopping what it started; logs stay in $LOGS" >&2
  do_stop >&2
  exit "$rc"
}

cmd_start() {
  local reuse=0 nodes="" engine=""
  while (($#)); do
    case "$1" in
      --reuse) reuse=1 ;;
      --nodes)
        nodes=${2:-}
        shift
        [[ "$nodes" =~ ^[2-5]$ ]] || die "--nodes takes 2 to 5"
        ;;
      --engine)
        engine=${2:-}
        shift
        [[ "$engine" == 28 ]] || die "--engine takes 28 (Debian unstable's docker.io)"
        ;;
      *) die "unknown option for start: $1" ;;
    esac
    shift
  done
  start_base "$reuse"
  if [[ -n "$nodes" ]]; then
    if ((reuse)) && bash "$NODES_SH" status-cluster >/dev/null 2>&1 9>&- &&
      [[ "$(grep -c '"role"' "${HOMEOPS_TESTENV_NODES_DIR:-/tmp/homeops-mn}/env.json")" == "$nodes" ]]; then
      say "reusing the running $nodes-node cluster"
    else
      STEP="multi-node cluster"
      bash "$NODES_SH" start-cluster "$nodes" 9>&- || die "the $nodes-node cluster did not start (see above)"
    fi
  fi
  if [[ -n "$engine" ]]; then
    if ((reuse)) && bash "$NODES_SH" status-engine >/dev/null 2>&1 9>&-; then
      say "reusing the running 28.x engine"
    else
      STEP="28.x engine"
      bash "$NODES_SH" start-engine 9>&- || die "the 28.x engine did not start (see above)"
    fi
  fi
}

start_base() {
  local reuse=$1 t0 p i password digests="" storage_args=() tag
  check_dir
  t0=$(date +%s.%N)
  step "checking tools"
  need_tools
  lock

  if ((reuse)); then
    step "checking for a running environment to reuse in $DIR"
    # A loaded machine can make one probe slow; a restart would break every test using the daemon.
    local ok=0
    for ((i = 1; i <= 3; i++)); do
      if healthy; then
        ok=1
        break
      fi
      if ((i == 3)) || [[ ! -f "$ENV_JSON" ]] || ! pid_ours "$(read_pid "$DOCKERD_PID")"; then break; fi
      say "health check $i of 3 failed; checking again in 2s"
      sleep 2
    done
    if ((ok)); then
      say "reusing the running environment in $DIR (dockerd pid $(read_pid "$DOCKERD_PID"), registries $REG_HOST and $AUTH_HOST)"
      return 0
    fi
    say "no healthy environment to reuse; starting a new one"
  fi
  ((EUID == 0)) || die "start needs root (it runs a private dockerd); run it as root or with sudo"

  step "stopping any previous environment in $DIR"
  do_stop

  # From here on a failure (or a signal) stops what this start started; the logs stay in $LOGS.
  trap start_failed EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  step "starting dockerd (socket $SOCK, log $LOGS/dockerd.log)"
  mkdir -p "$DATA" "$EXEC" "$LOGS" "$DOCKER_CONFIG_DIR" "$DIR/registry" "$DIR/auth-registry" "$DIR/images"
  chmod 700 "$DOCKER_CONFIG_DIR"
  : >"$LOGS/dockerd.log"
  if [[ -n "${HOMEOPS_TESTENV_STORAGE_DRIVER:-}" ]]; then storage_args=(--storage-driver "$HOMEOPS_TESTENV_STORAGE_DRIVER"); fi
  setsid dockerd \
    --data-root "$DATA" \
    --exec-root "$EXEC" \
    --pidfile "$DOCKERD_PID" \
    -H "unix://$SOCK" \
    --containerd-namespace "$CONTAINERD_NS" \
    --containerd-plugins-namespace "$CONTAINERD_NS-plugins" \
    --shutdown-timeout 5 \
    --log-level warn \
    "${storage_args[@]}" \
    </dev/null >>"$LOGS/dockerd.log" 2>&1 9>&- &
  p=$!

  # Work that does not need dockerd runs while it boots.
  step "preparing the test image root filesystem (static busybox)"
  make_rootfs

  step "generating the password of registry B"
  password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
  ((${#password} >= 16)) || die "could not generate a password"
  printf '%s\n' "$password" | htpasswd -niB "$AUTH_USER" >"$DIR/htpasswd" 2>/dev/null || die "htpasswd failed"
  chmod 600 "$DIR/htpasswd"

  step "starting registry A (no auth) on $REG_HOST"
  write_registry_config "$DIR/registry.yml" "$REG_PORT" "$DIR/registry"
  start_registry "registry A" "$DIR/registry.yml" "$REG_PID" "$REG_PORT" 200

  step "starting registry B (htpasswd auth, user $AUTH_USER) on $AUTH_HOST"
  write_registry_config "$DIR/auth-registry.yml" "$AUTH_PORT" "$DIR/auth-registry" "$DIR/htpasswd"
  start_registry "registry B" "$DIR/auth-registry.yml" "$AUTH_PID" "$AUTH_PORT" 401

  step "waiting for dockerd (up to 60s)"
  for ((i = 0; i < 240; i++)); do
    pid_alive "$p" || break
    [[ -S "$SOCK" ]] && docker_ok && break
    sleep 0.25
  done
  if ! pid_alive "$p" || ! docker_ok; then
    tail_log "$LOGS/dockerd.log" 40
    pid_alive "$p" && die "dockerd (pid $p) did not answer on $SOCK within 60s"
    die "dockerd exited during start-up (see its log above)"
  fi
  [[ "$(read_pid "$DOCKERD_PID")" == "$p" ]] || printf '%s\n' "$p" >"$DOCKERD_PID"

  step "initialising swarm mode (advertise and listen on 127.0.0.1:$SWARM_PORT)"
  if [[ "$(swarm_state)" != active ]]; then
    timeout 60 docker swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$SWARM_PORT" >/dev/null 2>"$LOGS/swarm-init.log" || {
      tail_log "$LOGS/swarm-init.log"
      die "docker swarm init failed"
    }
  fi

  step "importing test images: $APP_REPO:{${APP_TAGS[*]}} $OTHER_REPO:{${OTHER_TAGS[*]}}"
  for tag in "${APP_TAGS[@]}"; do
    if [[ "$tag" == latest ]]; then import_image "$APP_REPO:$tag" "2.0.0"; else import_image "$APP_REPO:$tag" "$tag"; fi
  done
  for tag in "${OTHER_TAGS[@]}"; do import_image "$OTHER_REPO:$tag" "other-$tag"; done

  step "pushing test images to registry A ($REG_HOST)"
  digests=$(push_tags "$REG_HOST" "$APP_REPO" "${APP_TAGS[@]}")
  push_tags "$REG_HOST" "$OTHER_REPO" "${OTHER_TAGS[@]}" >/dev/null

  step "logging in to registry B as $AUTH_USER (DOCKER_CONFIG=$DOCKER_CONFIG_DIR)"
  printf '%s' "$password" | timeout 30 docker login "$AUTH_HOST" -u "$AUTH_USER" --password-stdin >/dev/null 2>&1 ||
    die "docker login $AUTH_HOST failed"

  step "pushing $APP_REPO:{${AUTH_APP_TAGS[*]}} to registry B ($AUTH_HOST)"
  push_tags "$AUTH_HOST" "$APP_REPO" "${AUTH_APP_TAGS[@]}" >/dev/null

  step "writing $ENV_JSON and $ENV_SH"
  T_DIR="$DIR" T_SOCK="$SOCK" T_REG_HOST="$REG_HOST" T_AUTH_HOST="$AUTH_HOST" T_AUTH_USER="$AUTH_USER" \
    T_APP_REPO="$APP_REPO" T_OTHER_REPO="$OTHER_REPO" T_APP_TAGS="${APP_TAGS[*]}" T_OTHER_TAGS="${OTHER_TAGS[*]}" \
    T_AUTH_TAGS="${AUTH_APP_TAGS[*]}" T_ENV_JSON="$ENV_JSON" T_ENV_SH="$ENV_SH" \
    write_env "$password" "$digests"

  trap - EXIT TERM INT
  say "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: DOCKER_HOST=$DOCKER_HOST, registries $REG_HOST (no auth) and $AUTH_HOST (auth), env in $ENV_JSON"
}

# --- status ------------------------------------------------------------------

cmd_status() {
  local ok=0 p code state
  check_dir
  say "directory: $DIR"
  p=$(read_pid "$DOCKERD_PID")
  if [[ -n "$p" ]] && pid_ours "$p"; then
    if docker_ok; then
      state=$(swarm_state)
      say "dockerd: running (pid $p, $DOCKER_HOST, swarm $state, $(timeout 10 docker images -q 2>/dev/null | sort -u | wc -l) images, $(timeout 10 docker ps -q 2>/dev/null | wc -l) running containers)"
      [[ "$state" == active ]] || ok=1
    else
      say "dockerd: pid $p alive but not answering on $SOCK"
      ok=1
    fi
  else
    say "dockerd: not running"
    ok=1
  fi
  p=$(read_pid "$REG_PID")
  code=$(http_status 127.0.0.1 "$REG_PORT" /v2/)
  if [[ -n "$p" ]] && pid_ours "$p"; then say "registry A: running (pid $p, http://$REG_HOST, GET /v2/ -> ${code:-no answer})"; else say "registry A: not running"; fi
  [[ "$code" == 200 ]] || ok=1
  p=$(read_pid "$AUTH_PID")
  code=$(http_status 127.0.0.1 "$AUTH_PORT" /v2/)
  if [[ -n "$p" ]] && pid_ours "$p"; then say "registry B: running (pid $p, http://$AUTH_HOST, auth, GET /v2/ -> ${code:-no answer})"; else say "registry B: not running"; fi
  [[ "$code" == 401 ]] || ok=1
  if [[ -f "$ENV_JSON" ]]; then say "env: $ENV_JSON, $ENV_SH"; else
    say "env: $ENV_JSON missing"
    ok=1
  fi
  if [[ -f "${HOMEOPS_TESTENV_NODES_DIR:-/tmp/homeops-mn}/env.json" ]]; then bash "$NODES_SH" status-cluster || ok=1; fi
  if [[ -f "${HOMEOPS_TESTENV_ENGINE_DIR:-/tmp/homeops-e28}/env.json" ]]; then bash "$NODES_SH" status-engine || ok=1; fi
  if ((ok == 0)); then say "status: up"; else say "status: not (fully) running"; fi
  return "$ok"
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" || exit 1 ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
