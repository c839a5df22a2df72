#!/usr/bin/env bash
# Beyond the single-node test environment (issue 21), called by scripts/testenv.sh:
#
#   scripts/testenv-nodes.sh start-cluster N   N dockerd (Debian's engine) in network namespaces, one Swarm
#   scripts/testenv-nodes.sh stop-cluster
#   scripts/testenv-nodes.sh status-cluster
#   scripts/testenv-nodes.sh stop-node I | start-node I   a node going away and coming back
#   scripts/testenv-nodes.sh start-engine      Debian unstable's docker.io (28.x) from a debootstrap root
#   scripts/testenv-nodes.sh stop-engine
#   scripts/testenv-nodes.sh status-engine
#
# Both need the single-node environment running (its env.json: the registries they pull from).
#
# Isolation from the host and from the single-node environment: every dockerd runs in its own network
# namespace (homeops-mn-N, homeops-mn-e28) with its own UTS namespace (node names), data-root, exec-root,
# socket and containerd namespace. The cluster's namespaces are wired to a bridge that lives in a hub
# namespace (homeops-mn-hub) on 10.231.0.0/24: nothing is added to the host's network namespace, so the
# engines' iptables rules, docker0 and overlay (VXLAN) devices stay inside their namespaces. The registries
# (127.0.0.1 on the host) reach each namespace's loopback through socat over a unix socket.
#
# Environment: HOMEOPS_TESTENV_DIR (the single-node environment, default /tmp/homeops-testenv),
# HOMEOPS_TESTENV_NODES_DIR (default /tmp/homeops-mn), HOMEOPS_TESTENV_ENGINE_DIR (default /tmp/homeops-e28),
# HOMEOPS_TESTENV_CACHE (the debootstrap root cache, default /var/cache/homeops-testenv),
# HOMEOPS_TESTENV_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -Eeuo pipefail

BASE_DIR="${HOMEOPS_TESTENV_DIR:-/tmp/homeops-testenv}"
BASE_DIR="${BASE_DIR%/}"
CDIR="${HOMEOPS_TESTENV_NODES_DIR:-/tmp/homeops-mn}"
CDIR="${CDIR%/}"
EDIR="${HOMEOPS_TESTENV_ENGINE_DIR:-/tmp/homeops-e28}"
EDIR="${EDIR%/}"
CACHE="${HOMEOPS_TESTENV_CACHE:-/var/cache/homeops-testenv}"
MIRROR="${HOMEOPS_TESTENV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SID_ROOT="$CACHE/sid-root"
NS_PREFIX=homeops-mn
HUB_NS="$NS_PREFIX-hub"
E_NS="$NS_PREFIX-e28"
SUBNET_PREFIX=10.231.0
ADDR_POOL=10.240.0.0/16

unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
# testenv.sh holds its lock on fd 9: the daemons started here must never inherit it (they would hold
# the single-node environment's lock for their whole life).
exec 9>&-

STEP="(none)"
say() { printf 'testenv-nodes: %s\n' "$*"; }
step() {
  STEP="$*"
  say "$*"
}
die() {
  printf 'testenv-nodes: FAILED at step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}
trap 'printf "testenv-nodes: FAILED at step \"%s\": command exited %s (line %s): %s\n" "$STEP" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

check_path() { # NAME PATH
  [[ "$2" =~ ^/[A-Za-z0-9._/-]+$ && "$2" != / ]] || die "$1 must be an absolute path of [A-Za-z0-9._/-] (got '$2')"
  ((${#2} <= 50)) || die "$1 is too long (${#2} > 50 characters; unix socket paths are limited)"
}

read_pid() {
  local p=""
  [[ -f "$1" ]] && p=$(head -c 32 "$1" 2>/dev/null | tr -dc '0-9')
  printf '%s' "$p"
}

pid_alive() {
  local st
  [[ "$1" =~ ^[0-9]+$ && -r "/proc/$1/stat" ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# Alive and its command line mentions MARK, so a recycled pid is never touched.
pid_ours() { # PID MARK
  pid_alive "$1" || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

stop_pid() { # NAME PID SECONDS
  local i
  kill -TERM "$2" 2>/dev/null || true
  for ((i = 0; i < $3 * 10; i++)); do
    pid_alive "$2" || return 0
    sleep 0.1
  done
  say "$1 (pid $2) still running after $3s: SIGKILL"
  kill -KILL "$2" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$2" || return 0
    sleep 0.1
  done
  say "warning: $1 (pid $2) did not exit"
}

stop_pidfile() { # NAME PIDFILE MARK SECONDS
  local p
  p=$(read_pid "$2")
  if [[ -n "$p" ]] && pid_ours "$p" "$3"; then stop_pid "$1" "$p" "$4"; fi
  rm -f "$2"
}

# Processes whose command line holds MARK (containerd shims outlive a killed dockerd).
stop_marked() { # NAME MARK
  local f p
  for f in $(grep -alF -- "$2" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    p=${f#/proc/}
    p=${p%/cmdline}
    if [[ "$p" != "$$" && "$p" != "$BASHPID" ]] && pid_ours "$p" "$2"; then stop_pid "$1" "$p" 5; fi
  done
}

tail_log() {
  [[ -f "$1" ]] || return 0
  printf -- '--- last lines of %s ---\n' "$1" >&2
  tail -n "${2:-30}" "$1" >&2 || true
  printf -- '---\n' >&2
}

base_env() { # KEY: a value of the single-node environment's env.json
  node -e 'const e=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const v=process.argv[2].split(".").reduce((o,k)=>o?.[k],e);if(v===undefined)process.exit(1);process.stdout.write(Array.isArray(v)?v.join(" "):String(v))' \
    "$BASE_DIR/env.json" "$1"
}

need_base() {
  [[ -f "$BASE_DIR/env.json" ]] ||
    die "the single-node environment is not running ($BASE_DIR/env.json missing); start it with scripts/testenv.sh start"
  local t
  for t in ip unshare socat dockerd docker node chroot; do
    command -v "$t" >/dev/null 2>&1 || die "missing: $t; run 'scripts/testenv.sh install' as root"
  done
  ((EUID == 0)) || die "needs root (it runs dockerd in network namespaces)"
}

# The cgroup mounts of the host: `ip netns exec` remounts /sys, which hides them from the engine.
cgroup_mounts() {
  awk '$2 ~ "^/sys/fs/cgroup" { print $3, $4, $1, $2 }' /proc/self/mounts
}

# A shell prologue, run inside `ip netns exec`, that puts the host's cgroup mounts back under /sys.
# shellcheck disable=SC2016 # expanded by the inner shell
CGROUP_PROLOGUE='
while read -r fstype opts src mp; do
  mkdir -p "$mp" 2>/dev/null || true
  mount -t "$fstype" -o "$opts" "$src" "$mp" || { echo "cannot mount $fstype on $mp" >&2; exit 1; }
done <"$HOMEOPS_TESTENV_CGROUPS"
'

# The registries of the single-node environment on the loopback of namespace NS (socat via a unix socket).
forward_registries() { # NS DIR
  local ns=$1 dir=$2 port pidf
  mkdir -p "$dir/fwd"
  for port in "$REG_PORT" "$AUTH_PORT"; do
    pidf="$dir/fwd/host-$port.pid"
    if ! pid_ours "$(read_pid "$pidf")" "$dir/"; then
      setsid socat "UNIX-LISTEN:$dir/fwd/$port.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port" </dev/null \
        >>"$dir/log/socat.log" 2>&1 &
      printf '%s\n' "$!" >"$pidf"
    fi
    setsid ip netns exec "$ns" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$dir/fwd/$port.sock" \
      </dev/null >>"$dir/log/socat.log" 2>&1 &
    printf '%s\n' "$!" >"$dir/fwd/$ns-$port.pid"
  done
}

stop_forwarders() { # DIR
  local f
  for f in "$1"/fwd/*.pid; do
    [[ -f "$f" ]] || continue
    stop_pidfile "forwarder $(basename "$f" .pid)" "$f" "$1/" 5
  done
}

wait_docker() { # HOST PID LOG
  local i
  for ((i = 0; i < 240; i++)); do
    pid_alive "$2" || break
    timeout 10 docker -H "$1" info --format '{{.ServerVersion}}' >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  tail_log "$3" 40
  pid_alive "$2" && die "dockerd (pid $2) did not answer on $1 within 60s"
  die "dockerd exited during start-up (see its log above)"
}

# Pulls the test images from registry A and tags them as the single-node environment has them.
pull_images() { # DOCKER_HOST
  local tag app other
  app=$(base_env images.app)
  other=$(base_env images.other)
  for tag in $(base_env images.tags); do
    timeout 120 docker -H "$1" pull -q "$REG_HOST/$app:$tag" >/dev/null || die "docker pull $REG_HOST/$app:$tag on $1 failed"
    docker -H "$1" tag "$REG_HOST/$app:$tag" "$app:$tag"
  done
  for tag in $(base_env images.otherTags); do
    timeout 120 docker -H "$1" pull -q "$REG_HOST/$other:$tag" >/dev/null || die "docker pull $REG_HOST/$other:$tag on $1 failed"
    docker -H "$1" tag "$REG_HOST/$other:$tag" "$other:$tag"
  done
}

# --- the multi-node cluster ----------------------------------------------------

node_sock() { printf '%s/n%s/docker.sock' "$CDIR" "$1"; }

# Starts node I's dockerd in its namespace (the namespace and its cgroup list exist); sets LAUNCHED.
launch_node() {
  local i=$1
  mkdir -p "$CDIR/n$i/data" "$CDIR/n$i/x"
  : >>"$CDIR/log/node-$i.log"
  # shellcheck disable=SC2016
  HOMEOPS_TESTENV_CGROUPS="$CDIR/cgroups" setsid ip netns exec "$NS_PREFIX-$i" unshare --uts -- sh -c \
    "$CGROUP_PROLOGUE"'hostname "$0" && exec "$@"' "$NS_PREFIX-$i" \
    dockerd \
    --data-root "$CDIR/n$i/data" \
    --exec-root "$CDIR/n$i/x" \
    --pidfile "$CDIR/n$i/dockerd.pid" \
    -H "unix://$(node_sock "$i")" \
    --containerd-namespace "$NS_PREFIX-$i" \
    --containerd-plugins-namespace "$NS_PREFIX-$i-plugins" \
    --bip "10.232.$i.1/24" \
    --shutdown-timeout 5 \
    --log-level warn \
    </dev/null >>"$CDIR/log/node-$i.log" 2>&1 &
  LAUNCHED=$!
}

# A node going away and coming back (the tests of a worker lost during a reconcile).
cmd_stop_node() {
  local i=${1:-} p
  [[ "$i" =~ ^[0-9]+$ && -d "$CDIR/n$i" ]] || die "no node '$i' in $CDIR"
  p=$(read_pid "$CDIR/n$i/dockerd.pid")
  [[ -n "$p" ]] && pid_ours "$p" "$CDIR/" || die "node $i is not running"
  step "stopping dockerd of node $i (pid $p)"
  stop_pid "dockerd of node $i" "$p" 20
  stop_marked "containerd shim of node $i" "$CDIR/n$i/x/"
}

cmd_start_node() {
  local i=${1:-} host
  [[ "$i" =~ ^[0-9]+$ && -d "$CDIR/n$i" ]] || die "no node '$i' in $CDIR"
  host="unix://$(node_sock "$i")"
  if pid_ours "$(read_pid "$CDIR/n$i/dockerd.pid")" "$CDIR/"; then
    say "node $i is already running"
    return 0
  fi
  step "starting dockerd of node $i again"
  launch_node "$i"
  wait_docker "$host" "$LAUNCHED" "$CDIR/log/node-$i.log"
  printf '%s\n' "$LAUNCHED" >"$CDIR/n$i/dockerd.pid"
}

cluster_down() {
  local i p n host
  for n in "$CDIR"/n[0-9]*; do
    [[ -d "$n" ]] || continue
    i=${n##*/n}
    host="unix://$(node_sock "$i")"
    p=$(read_pid "$n/dockerd.pid")
    if [[ -n "$p" ]] && pid_ours "$p" "$CDIR/"; then
      cids=$(timeout 15 docker -H "$host" ps -aq 2>/dev/null || true)
      # shellcheck disable=SC2086
      [[ -z "$cids" ]] || timeout 60 docker -H "$host" rm -f $cids >/dev/null 2>&1 || true
      stop_pid "dockerd of node $i" "$p" 20
    fi
    rm -f "$n/dockerd.pid"
    stop_marked "containerd shim of node $i" "$n/x/"
  done
  stop_forwarders "$CDIR"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NS_PREFIX-([0-9]+|hub)$" || true); do
    ip netns del "$ns" 2>/dev/null || say "warning: could not delete network namespace $ns"
  done
}

cmd_stop_cluster() {
  check_path HOMEOPS_TESTENV_NODES_DIR "$CDIR"
  [[ -d "$CDIR" ]] || return 0
  step "stopping the multi-node cluster in $CDIR"
  cluster_down
  rm -rf --one-file-system "$CDIR"/n[0-9]* "$CDIR/fwd" "$CDIR/env.json" "$CDIR/cgroups" "$CDIR/shared" 2>/dev/null ||
    say "warning: could not remove every file below $CDIR"
}

cmd_start_cluster() {
  local n=${1:-3} i t0 p host addr token_w token_m hosts=() pids=()
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 2 && n <= 5)) || die "--nodes takes 2 to 5 (got '$n')"
  check_path HOMEOPS_TESTENV_NODES_DIR "$CDIR"
  need_base
  t0=$(date +%s.%N)
  REG_HOST=$(base_env registry.host)
  REG_PORT=${REG_HOST##*:}
  AUTH_PORT=$(base_env authRegistry.host)
  AUTH_PORT=${AUTH_PORT##*:}

  step "stopping any previous cluster in $CDIR"
  cmd_stop_cluster
  trap 'rc=$?; trap - EXIT; if ((rc)); then say "start failed: stopping the cluster (logs stay in $CDIR/log)" >&2; cluster_down >&2; fi' EXIT
  mkdir -p "$CDIR/log" "$CDIR/shared" "$CDIR/fwd"
  chmod 755 "$CDIR/shared"
  cgroup_mounts >"$CDIR/cgroups"

  step "network: namespace $HUB_NS with a bridge, $n node namespaces on $SUBNET_PREFIX.0/24"
  ip netns add "$HUB_NS"
  ip -n "$HUB_NS" link set lo up
  ip -n "$HUB_NS" link add br0 type bridge
  ip -n "$HUB_NS" link set br0 up
  for ((i = 1; i <= n; i++)); do
    ip netns add "$NS_PREFIX-$i"
    ip -n "$NS_PREFIX-$i" link set lo up
    ip -n "$HUB_NS" link add "n$i" type veth peer name eth0 netns "$NS_PREFIX-$i"
    ip -n "$HUB_NS" link set "n$i" master br0 up
    ip -n "$NS_PREFIX-$i" addr add "$SUBNET_PREFIX.$((10 + i))/24" dev eth0
    ip -n "$NS_PREFIX-$i" link set eth0 up
  done

  step "starting $n dockerd (logs $CDIR/log/node-N.log)"
  for ((i = 1; i <= n; i++)); do
    launch_node "$i"
    pids[i]=$LAUNCHED
    hosts[i]="unix://$(node_sock "$i")"
    forward_registries "$NS_PREFIX-$i" "$CDIR"
  done
  for ((i = 1; i <= n; i++)); do
    wait_docker "${hosts[i]}" "${pids[i]}" "$CDIR/log/node-$i.log"
    printf '%s\n' "${pids[i]}" >"$CDIR/n$i/dockerd.pid"
  done

  step "swarm: node 1 manager ($SUBNET_PREFIX.11), nodes 2-$n workers joined with the worker token"
  timeout 60 docker -H "${hosts[1]}" swarm init --advertise-addr "$SUBNET_PREFIX.11" --listen-addr "$SUBNET_PREFIX.11:2377" \
    --default-addr-pool "$ADDR_POOL" >/dev/null
  token_w=$(timeout 20 docker -H "${hosts[1]}" swarm join-token -q worker)
  token_m=$(timeout 20 docker -H "${hosts[1]}" swarm join-token -q manager)
  [[ -n "$token_w" && -n "$token_m" ]] || die "no join tokens"
  for ((i = 2; i <= n; i++)); do
    addr="$SUBNET_PREFIX.$((10 + i))"
    timeout 60 docker -H "${hosts[i]}" swarm join --token "$token_w" --advertise-addr "$addr" --listen-addr "$addr:2377" \
      "$SUBNET_PREFIX.11:2377" >/dev/null
  done
  for ((i = 0; i < 120; i++)); do
    [[ "$(timeout 10 docker -H "${hosts[1]}" node ls --filter role=worker --format '{{.Status}}' | grep -c '^Ready$')" == $((n - 1)) ]] && break
    sleep 0.5
  done
  ((i < 120)) || die "the workers did not become Ready within 60s"

  step "pulling the test images from registry A on every node"
  for ((i = 1; i <= n; i++)); do
    pull_images "${hosts[i]}" >"$CDIR/log/pull-$i.log" 2>&1 &
    pids[i]=$!
  done
  for ((i = 1; i <= n; i++)); do
    wait "${pids[i]}" || {
      tail_log "$CDIR/log/pull-$i.log"
      die "pulling the test images on node $i failed"
    }
  done

  step "checking overlay networking (VXLAN) between nodes"
  check_overlay "${hosts[1]}" "$n"

  step "writing $CDIR/env.json"
  N="$n" CDIR="$CDIR" BASE="$BASE_DIR/env.json" NS_PREFIX="$NS_PREFIX" SUBNET_PREFIX="$SUBNET_PREFIX" \
    node --input-type=module - <<'EOF'
import {readFileSync, writeFileSync} from 'node:fs'
const e = process.env
const base = JSON.parse(readFileSync(e.BASE, 'utf8'))
const nodes = []
for (let i = 1; i <= Number(e.N); i++) {
  const socket = `${e.CDIR}/n${i}/docker.sock`
  nodes.push({
    name: `${e.NS_PREFIX}-${i}`,
    role: i === 1 ? 'manager' : 'worker',
    address: `${e.SUBNET_PREFIX}.${10 + i}`,
    netns: `${e.NS_PREFIX}-${i}`,
    dockerHost: `unix://${socket}`,
    dockerSocket: socket,
    dockerPid: Number(readFileSync(`${e.CDIR}/n${i}/dockerd.pid`, 'utf8').trim()),
  })
}
const env = {
  dir: e.CDIR,
  // The manager, so the cluster's env.json is also a TestEnv (test/support/testenv.ts) of the Swarm.
  dockerHost: nodes[0].dockerHost,
  dockerSocket: nodes[0].dockerSocket,
  dockerPid: nodes[0].dockerPid,
  nodes,
  sharedDir: `${e.CDIR}/shared`,
  registry: base.registry,
  authRegistry: base.authRegistry,
  dockerConfigDir: base.dockerConfigDir,
  images: base.images,
  startedAt: new Date().toISOString(),
}
writeFileSync(`${e.CDIR}/env.json`, JSON.stringify(env, null, 2) + '\n', {mode: 0o600})
EOF
  trap - EXIT
  say "cluster of $n nodes ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: manager ${hosts[1]}, env in $CDIR/env.json"
}

# A global service on an attachable overlay network; a task on node 1 fetches the page of a task on
# every other node by its overlay address: that traffic crosses the VXLAN tunnel between namespaces.
check_overlay() { # MANAGER_HOST N
  local m=$1 n=$2 name=hotest-mn-overlay ips ip ok i
  timeout 30 docker -H "$m" network create -d overlay --attachable "$name" >/dev/null
  timeout 60 docker -H "$m" service create -d -q --name "$name" --mode global --network "$name" \
    --endpoint-mode dnsrr "$REG_HOST/$(base_env images.app):1.0.0" httpd -f -p 8080 -h /www >/dev/null
  for ((i = 0; i < 120; i++)); do
    [[ "$(timeout 10 docker -H "$m" service ps "$name" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" == "$n" ]] && break
    sleep 0.5
  done
  if ((i == 120)); then
    timeout 10 docker -H "$m" service ps --no-trunc "$name" >&2 || true
    die "the overlay check service did not run on all $n nodes within 60s"
  fi
  ok=0
  local cid
  cid=$(timeout 10 docker -H "$m" ps -q --filter "label=com.docker.swarm.service.name=$name" | head -n1)
  ips=$(timeout 10 docker -H "$m" network inspect "$name" -v --format '{{range $k, $v := .Services}}{{range $v.Tasks}}{{.EndpointIP}} {{end}}{{end}}')
  for ip in $ips; do
    # busybox-static's wget crashes in these images; nc speaks the HTTP request itself.
    if timeout 20 docker -H "$m" exec "$cid" sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 $ip 8080" 2>/dev/null |
      grep -qx '1.0.0'; then ok=$((ok + 1)); fi
  done
  timeout 30 docker -H "$m" service rm "$name" >/dev/null || true
  for ((i = 0; i < 40; i++)); do
    timeout 10 docker -H "$m" network rm "$name" >/dev/null 2>&1 && break
    sleep 0.5
  done
  ((ok == n)) || die "overlay networking: a task on node 1 reached $ok of $n tasks (addresses: $ips)"
}

cmd_status_cluster() {
  local rc=0 n i p host
  if [[ ! -f "$CDIR/env.json" ]]; then
    say "cluster: not running ($CDIR/env.json missing)"
    return 1
  fi
  for n in "$CDIR"/n[0-9]*; do
    i=${n##*/n}
    host="unix://$(node_sock "$i")"
    p=$(read_pid "$n/dockerd.pid")
    if [[ -n "$p" ]] && pid_ours "$p" "$CDIR/" && timeout 10 docker -H "$host" info >/dev/null 2>&1; then
      say "node $i: running (pid $p, $host, swarm $(timeout 10 docker -H "$host" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'))"
    else
      say "node $i: not running"
      rc=1
    fi
  done
  return "$rc"
}

# --- the current engine (Debian unstable's docker.io) -----------------------------

ensure_sid_root() {
  if [[ -x "$SID_ROOT/usr/sbin/dockerd" ]]; then return 0; fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing; run 'scripts/testenv.sh install' as root"
  step "debootstrap of Debian unstable with docker.io into $SID_ROOT (once; cached)"
  mkdir -p "$CACHE"
  rm -rf --one-file-system "$SID_ROOT.partial"
  timeout 1200 debootstrap --variant=minbase --include=docker.io,iptables,ca-certificates sid "$SID_ROOT.partial" "$MIRROR" \
    >"$EDIR/log/debootstrap.log" 2>&1 || {
    tail_log "$EDIR/log/debootstrap.log"
    die "debootstrap failed"
  }
  mv "$SID_ROOT.partial" "$SID_ROOT"
}

engine_down() {
  local p host="unix://$EDIR/run/docker.sock" cids
  p=$(read_pid "$EDIR/dockerd.pid")
  if [[ -n "$p" ]] && pid_ours "$p" "$E_NS-plugins"; then
    cids=$(timeout 15 docker -H "$host" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z "$cids" ]] || timeout 60 docker -H "$host" rm -f $cids >/dev/null 2>&1 || true
    stop_pid "dockerd 28" "$p" 20
  fi
  rm -f "$EDIR/dockerd.pid"
  stop_marked "containerd shim of the 28.x engine" "-namespace $E_NS "
  stop_forwarders "$EDIR"
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$E_NS"; then ip netns del "$E_NS" || true; fi
}

cmd_stop_engine() {
  check_path HOMEOPS_TESTENV_ENGINE_DIR "$EDIR"
  [[ -d "$EDIR" ]] || return 0
  step "stopping the 28.x engine in $EDIR"
  engine_down
  rm -rf --one-file-system "$EDIR/data" "$EDIR/run" "$EDIR/fwd" "$EDIR/root" "$EDIR/env.json" "$EDIR/cgroups" 2>/dev/null ||
    say "warning: could not remove every file below $EDIR"
}

cmd_start_engine() {
  local t0 p host version
  check_path HOMEOPS_TESTENV_ENGINE_DIR "$EDIR"
  need_base
  command -v debootstrap >/dev/null 2>&1 || [[ -x "$SID_ROOT/usr/sbin/dockerd" ]] ||
    die "debootstrap is missing; run 'scripts/testenv.sh install' as root"
  t0=$(date +%s.%N)
  REG_HOST=$(base_env registry.host)
  REG_PORT=${REG_HOST##*:}
  AUTH_PORT=$(base_env authRegistry.host)
  AUTH_PORT=${AUTH_PORT##*:}
  cmd_stop_engine
  trap 'rc=$?; trap - EXIT; if ((rc)); then say "start failed: stopping the 28.x engine (logs stay in $EDIR/log)" >&2; engine_down >&2; fi' EXIT
  mkdir -p "$EDIR/log" "$EDIR/data" "$EDIR/run" "$EDIR/root"
  ensure_sid_root
  cgroup_mounts >"$EDIR/cgroups"

  step "starting dockerd $(chroot "$SID_ROOT" dockerd --version | cut -d, -f1) with $SID_ROOT as its root, namespace $E_NS"
  ip netns add "$E_NS"
  ip -n "$E_NS" link set lo up
  : >"$EDIR/log/dockerd.log"
  # A private mount namespace: the cached root is bound (only tmpfs and our folders are written), its
  # /var/lib/docker and /run/homeops come from $EDIR (the socket is reachable from the host), and the host's
  # /tmp is bound in so bind-mount sources the tests create there exist for this engine as for a host one
  # (what is mounted below /tmp after the engine started is not seen: the 20.10-only faults tests do that).
  # shellcheck disable=SC2016
  HOMEOPS_TESTENV_CGROUPS="$EDIR/cgroups" R="$EDIR/root" SID="$SID_ROOT" E="$EDIR" setsid ip netns exec "$E_NS" \
    unshare --uts --mount --propagation private -- sh -c "$CGROUP_PROLOGUE"'
      set -e
      hostname homeops-e28
      mount --bind "$SID" "$R"
      mount -t proc proc "$R/proc"
      mount --rbind /sys "$R/sys"
      mount --rbind /dev "$R/dev"
      mount -t tmpfs -o mode=755 tmpfs "$R/run"
      mount --rbind /tmp "$R/tmp"
      mkdir -p "$R/run/homeops" "$R/var/lib/docker"
      mount --bind "$E/run" "$R/run/homeops"
      mount --bind "$E/data" "$R/var/lib/docker"
      # pivot_root, not chroot: runc pivots each container root only when "/" is a mount root; in a chroot it
      # falls back to moving mounts, and `docker exec` (and healthchecks) would then land in the host root.
      cd "$R"
      pivot_root . mnt
      umount -l /mnt
      exec "$@"' dockerd-28 \
    dockerd -H unix:///run/homeops/docker.sock --pidfile /run/homeops/dockerd.pid \
    --containerd-namespace "$E_NS" --containerd-plugins-namespace "$E_NS-plugins" \
    --bip 10.233.0.1/24 --shutdown-timeout 5 --log-level warn \
    </dev/null >>"$EDIR/log/dockerd.log" 2>&1 &
  p=$!
  printf '%s\n' "$p" >"$EDIR/dockerd.pid"
  forward_registries "$E_NS" "$EDIR"
  host="unix://$EDIR/run/docker.sock"
  wait_docker "$host" "$p" "$EDIR/log/dockerd.log"
  # The pid that answers is dockerd itself (sh exec'd into it).
  pid_ours "$p" "$E_NS-plugins" || die "pid $p is not the 28.x dockerd"

  step "swarm mode on the 28.x engine"
  timeout 60 docker -H "$host" swarm init --advertise-addr 127.0.0.1 --default-addr-pool "$ADDR_POOL" >/dev/null

  step "pulling the test images from registry A"
  pull_images "$host" >"$EDIR/log/pull.log" 2>&1 || {
    tail_log "$EDIR/log/pull.log"
    die "pulling the test images failed"
  }
  # Registry B's login for the CLI: the single-node environment's DOCKER_CONFIG is reused as it is.

  step "writing $EDIR/env.json"
  version=$(timeout 10 docker -H "$host" version --format '{{.Server.Version}}')
  E="$EDIR" BASE="$BASE_DIR/env.json" HOST="$host" PID="$p" VERSION="$version" node --input-type=module - <<'EOF'
import {readFileSync, writeFileSync} from 'node:fs'
const e = process.env
const base = JSON.parse(readFileSync(e.BASE, 'utf8'))
const env = {
  ...base,
  dir: e.E,
  dockerHost: e.HOST,
  dockerSocket: e.HOST.slice('unix://'.length),
  dockerPid: Number(e.PID),
  engineVersion: e.VERSION,
  startedAt: new Date().toISOString(),
}
writeFileSync(`${e.E}/env.json`, JSON.stringify(env, null, 2) + '\n', {mode: 0o600})
EOF
  trap - EXIT
  say "engine $version ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: DOCKER_HOST=$host, env in $EDIR/env.json"
}

cmd_status_engine() {
  local p host="unix://$EDIR/run/docker.sock"
  p=$(read_pid "$EDIR/dockerd.pid")
  if [[ -n "$p" ]] && pid_ours "$p" "$E_NS-plugins" && [[ -f "$EDIR/env.json" ]]; then
    say "engine: running (pid $p, $host, $(timeout 10 docker -H "$host" version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null || echo 'not answering'))"
    return 0
  fi
  say "engine 28.x: not running"
  return 1
}

case "${1:-}" in
  start-cluster) cmd_start_cluster "${2:-3}" ;;
  stop-cluster) cmd_stop_cluster ;;
  stop-node) cmd_stop_node "${2:-}" ;;
  start-node) cmd_start_node "${2:-}" ;;
  status-cluster) cmd_status_cluster ;;
  start-engine) cmd_start_engine ;;
  stop-engine) cmd_stop_engine ;;
  status-engine) cmd_status_engine ;;
  *)
    grep '^#   scripts/testenv-nodes.sh' "$0" | sed 's/^# *//' >&2
    exit 2
    ;;
esac
