#!/usr/bin/env bash
# Installs homeops on this host from this checkout (or an unpacked release tarball). DESIGN.md §7.
#
#   ./install.sh [install] [--prefix DIR] [--with-systemd] [--with-cron] [--low-ports]
#                [--systemd-dir DIR] [--cron-dir DIR] [--config-dir DIR] [--state-dir DIR] [--user NAME]
#   ./install.sh uninstall [--purge] [--prefix DIR] [--systemd-dir DIR] [--cron-dir DIR]
#                [--config-dir DIR] [--state-dir DIR] [--user NAME]
#
#   --prefix DIR       npm global prefix: the package goes to DIR/lib/node_modules/homeops and
#                      the command to DIR/bin/homeops (default /usr/local)
#   --with-systemd     write homeops-ddns.service + homeops-ddns.timer (`homeops ddns update`
#                      every 5 minutes) and homeops.service (`homeops serve`), run by the system
#                      user of --user (created if missing, in the docker group), least privilege
#   --with-cron        write a cron entry running `homeops swarm reconcile` every 5 minutes (root)
#   --low-ports        let homeops.service listen below port 1024 (CAP_NET_BIND_SERVICE); without
#                      it, granted only when the configuration enables dns (port 53) or serves
#                      HTTP below 1024 at install time
#   --systemd-dir DIR  where the units go (default /etc/systemd/system)
#   --cron-dir DIR     where the cron entry goes (default /etc/cron.d)
#   --config-dir DIR   configuration directory (default /etc/homeops); an example config.yaml
#                      is written there only when there is none
#   --state-dir DIR    state directory of the units, removed by `uninstall --purge`
#                      (default /var/lib/homeops)
#   --user NAME        system user of the units (default homeops); `uninstall --purge` removes it
#                      when install.sh created it
#   --purge            uninstall: also remove the configuration and state directories
#
# Safe to run again: the package and the unit files are replaced, the configuration never.
set -Eeuo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REAL_SYSTEMD_DIR=/etc/systemd/system

ACTION=install
PREFIX=/usr/local
WITH_SYSTEMD=0
WITH_CRON=0
SYSTEMD_DIR=$REAL_SYSTEMD_DIR
CRON_DIR=/etc/cron.d
CONFIG_DIR=/etc/homeops
STATE_DIR=/var/lib/homeops
PURGE=0
SERVICE_USER=homeops
LOW_PORTS=auto
# The comment of a user install.sh created: `uninstall --purge` removes only such a user.
USER_COMMENT="homeops service (install.sh)"
UNITS=(homeops-ddns.service homeops-ddns.timer homeops.service)
CRON_FILE=homeops

say() { printf 'install.sh: %s\n' "$*"; }
STEP=0
STEPS=0
STARTED=$SECONDS
# One numbered line per step, with the time since the start: the user sees where it is and how long it takes.
step() {
  STEP=$((STEP + 1))
  printf 'install.sh: [%d/%d] %s (%ds)\n' "$STEP" "$STEPS" "$*" "$((SECONDS - STARTED))"
}

# quietly LABEL CMD...: runs a long command with its output kept aside, saying every 10 s that it is still
# working; on failure the last lines of its output are shown. npm's own chatter (funding, "added N packages")
# and warnings nobody can act on stay out of the way.
quietly() {
  local label=$1 log pid waited=0 code=0
  shift
  log=$(mktemp "${TMPDIR:-/tmp}/homeops-install-log.XXXXXX")
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if ((waited % 10 == 0)) && kill -0 "$pid" 2>/dev/null; then say "  … $label: ${waited}s"; fi
  done
  wait "$pid" || code=$?
  if ((code != 0)); then
    tail -n 40 "$log" | sed 's/^/  | /' >&2
    rm -f "$log"
    return "$code"
  fi
  rm -f "$log"
}
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}
trap 'printf "install.sh: error: command failed (exit %s, line %s): %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Whether systemd runs this host (PID 1): only then are units started and `systemctl` advice useful.
# HOMEOPS_INSTALL_SYSTEMD_RUN_DIR stands in for /run/systemd/system in tests.
systemd_booted() { [[ -d "${HOMEOPS_INSTALL_SYSTEMD_RUN_DIR:-/run/systemd/system}" ]]; }
systemctl_usable() { [[ "$SYSTEMD_DIR" == "$REAL_SYSTEMD_DIR" ]] && command -v systemctl >/dev/null 2>&1 && systemd_booted; }

usage() {
  sed -n '4,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# --- arguments ----------------------------------------------------------------

abs_dir() { # makes a directory argument absolute, without requiring it to exist
  local d=$1
  [[ -n "$d" ]] || die "an empty directory was given"
  [[ "$d" == /* ]] || d="$PWD/$d"
  d="${d%/}"
  printf '%s' "${d:-/}"
}

parse_args() {
  if [[ $# -gt 0 && "$1" != -* ]]; then
    case "$1" in
      install | uninstall) ACTION=$1 ;;
      help) ACTION=help ;;
      *) die "unknown action '$1' (install or uninstall; --help for usage)" ;;
    esac
    shift
  fi
  while [[ $# -gt 0 ]]; do
    local arg=$1 value=""
    if [[ "$arg" == --*=* ]]; then
      value=${arg#*=}
      arg=${arg%%=*}
      set -- "$arg" "$value" "${@:2}"
    fi
    case "$arg" in
      --prefix | --systemd-dir | --cron-dir | --config-dir | --state-dir)
        [[ $# -ge 2 ]] || die "$arg needs a directory"
        value=$(abs_dir "$2")
        case "$arg" in
          --prefix) PREFIX=$value ;;
          --systemd-dir) SYSTEMD_DIR=$value ;;
          --cron-dir) CRON_DIR=$value ;;
          --config-dir) CONFIG_DIR=$value ;;
          --state-dir) STATE_DIR=$value ;;
        esac
        shift 2
        ;;
      --with-systemd)
        WITH_SYSTEMD=1
        shift
        ;;
      --with-cron)
        WITH_CRON=1
        shift
        ;;
      --low-ports)
        LOW_PORTS=yes
        shift
        ;;
      --user)
        [[ $# -ge 2 && "$2" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user needs a user name (lower case, up to 32 characters)"
        SERVICE_USER=$2
        shift 2
        ;;
      --purge)
        PURGE=1
        shift
        ;;
      -h | --help)
        ACTION=help
        shift
        ;;
      *) die "unknown option '$arg' (--help for usage)" ;;
    esac
  done
  if [[ "$ACTION" == install && "$PURGE" == 1 ]]; then die "--purge is an option of 'uninstall'"; fi
}

# --- checks -------------------------------------------------------------------

check_node() {
  local version major
  command -v node >/dev/null 2>&1 ||
    die "Node.js 20 or newer is required and 'node' is not on PATH; install Node.js 20 LTS (https://nodejs.org or your distribution), then run ./install.sh again"
  version=$(node -p 'process.versions.node')
  major=${version%%.*}
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 20)); then
    die "Node.js 20 or newer is required, found $version ($(command -v node)); install Node.js 20 LTS, then run ./install.sh again"
  fi
  command -v npm >/dev/null 2>&1 || die "npm is required (it comes with Node.js) and is not on PATH"
  say "Node.js $version, npm $(npm --version 2>/dev/null)"
}

check_writable() { # DIR WHAT: DIR or its nearest existing parent must be writable
  local d=$1
  while [[ ! -e "$d" && "$d" != / ]]; do d=$(dirname "$d"); done
  [[ -w "$d" ]] || die "cannot write $1 ($2): run as root (sudo ./install.sh …) or choose another directory"
}

# --- install ------------------------------------------------------------------

needs_build() { [[ ! -d "$SRC/dist" || ! -f "$SRC/oclif.manifest.json" ]]; }

# A checkout without dist/ is built once, here; the installed tree gets production dependencies only.
# Build dependencies come without install scripts (cpu-features and ssh2 compile optional native code
# homeops does not need; protobufjs only prints a notice), except the ones package.json approves in
# allowScripts (better-sqlite3: its binary is reused by the install below).
build_checkout() {
  [[ -f "$SRC/tsconfig.build.json" ]] || die "$SRC has no dist/ and no sources to build it from"
  if [[ ! -x "$SRC/node_modules/.bin/tsc" || ! -x "$SRC/node_modules/.bin/oclif" ]]; then
    step "npm ci in $SRC (build dependencies, once)"
    quietly "npm ci" bash -c "cd '$SRC' && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error" ||
      die "npm ci failed in $SRC"
    build_approved_native_modules "$SRC"
  fi
  step "npm run build (TypeScript, command manifest, native DNS answerer)"
  # OCLIF_SKIP_NEW_VERSION_CHECK: the oclif build tool would otherwise ask the registry for a newer oclif.
  quietly "build" bash -c "cd '$SRC' && OCLIF_SKIP_NEW_VERSION_CHECK=true npm run build" || die "npm run build failed in $SRC"
}

# better-sqlite3 compiles SQLite when no prebuilt binary can be downloaded (several minutes).
# When the checkout already holds a binary for this Node ABI, offer it to prebuild-install
# as a local prebuild; it loads it to check it, and compiles as usual if it does not fit.
offer_local_prebuilds() {
  local dir=$1 pkg="$SRC/node_modules/better-sqlite3" version name
  [[ -f "$pkg/build/Release/better_sqlite3.node" && -f "$pkg/package.json" ]] || return 0
  version=$(node -p "require(process.argv[1]).version" "$pkg/package.json" 2>/dev/null) || return 0
  name="better-sqlite3-v${version}-node-v$(node -p process.versions.modules)-$(node -p process.platform)-$(node -p process.arch).tar.gz"
  mkdir -p "$dir"
  tar -C "$pkg" -czf "$dir/$name" build/Release/better_sqlite3.node 2>/dev/null || return 0
  export npm_config_better_sqlite3_local_prebuilds="$dir"
  say "offering the checkout's better-sqlite3 $version binary as a local prebuild"
}

build_approved_native_modules() { # PACKAGE_DIR
  local dir=$1 name
  for name in $(node -e '
    const pkg = require(process.argv[1] + "/package.json")
    for (const [name, ok] of Object.entries(pkg.allowScripts ?? {})) if (ok === true) console.log(name)
  ' "$dir"); do
    [[ -f "$dir/node_modules/$name/package.json" ]] || continue
    quietly "install script of $name" bash -c "cd '$dir' && npm rebuild --no-audit --no-fund --loglevel=error '$name'" ||
      die "npm rebuild $name failed in $dir"
  done
}

# The package goes where `npm install --global` would put it ($PREFIX/lib/node_modules/homeops, the
# command a link in $PREFIX/bin), but installed with `npm ci --omit=dev` from the checkout's lock file:
# the exact versions that were tested, no dependency resolution, production dependencies only.
install_package() {
  local tmp tarball target="$PREFIX/lib/node_modules/homeops" staging
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/homeops-install.XXXXXX")
  staging="$PREFIX/lib/node_modules/.homeops-staging"
  # shellcheck disable=SC2064 # expand now: the trap runs after this function returned
  trap "rm -rf '$tmp' '$staging'" EXIT
  step "packing $SRC (dist/, the command manifest, the native addon)"
  tarball=$(cd "$SRC" && npm pack --ignore-scripts --silent --pack-destination "$tmp" 2>/dev/null | tail -n1)
  [[ -n "$tarball" && -f "$tmp/$tarball" ]] || die "npm pack failed in $SRC"
  offer_local_prebuilds "$tmp/prebuilds"
  step "installing production dependencies into $target"
  rm -rf "$staging"
  mkdir -p "$staging" "$PREFIX/bin"
  tar -xzf "$tmp/$tarball" -C "$staging" --strip-components=1 --no-same-owner
  local lock=""
  if [[ -f "$SRC/npm-shrinkwrap.json" ]]; then
    lock=npm-shrinkwrap.json
  elif [[ -f "$SRC/package-lock.json" ]]; then lock=package-lock.json; fi
  if [[ -n "$lock" ]]; then
    cp "$SRC/$lock" "$staging/$lock"
    quietly "npm ci --omit=dev" bash -c "cd '$staging' && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error" ||
      die "npm ci --omit=dev failed in $staging (see its output above)"
  else
    quietly "npm install --omit=dev" bash -c "cd '$staging' && npm install --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error" ||
      die "npm install --omit=dev failed in $staging (see its output above)"
  fi
  # Install scripts run only for the packages package.json approves in allowScripts (what npm 12
  # enforces): better-sqlite3 needs its binary; ssh2 and cpu-features have pure-JS fallbacks.
  build_approved_native_modules "$staging"
  rm -f "$staging/$lock"
  rm -rf "$target"
  mv "$staging" "$target"
  # bin/homeops.cjs: the package's command (CommonJS, the cheapest start for the ddns timer run).
  ln -sfn ../lib/node_modules/homeops/bin/homeops.cjs "$PREFIX/bin/homeops"
  chmod 0755 "$target/bin/homeops.cjs" "$target/bin/run.js"
  "$PREFIX/bin/homeops" --version >/dev/null 2>&1 || die "$PREFIX/bin/homeops --version does not run"
  say "installed $("$PREFIX/bin/homeops" --version 2>/dev/null | head -n1) as $PREFIX/bin/homeops"
}

# write_file PATH MODE: content from stdin; says whether it changed.
write_file() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "$(dirname "$path")/.homeops.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    say "unchanged $path"
  else
    mv -f "$tmp" "$path"
    say "wrote $path"
  fi
}

# --- the service user and its directories ------------------------------------------

service_group() { id -gn "$SERVICE_USER" 2>/dev/null || printf '%s' "$SERVICE_USER"; }

# A system user without a login or a home of its own, in the docker group: the Docker socket is
# what homeops manages (and root-equivalent: see "Units and least privilege" in docs/security.md).
ensure_service_user() {
  local nologin=/usr/sbin/nologin
  [[ -x "$nologin" ]] || nologin=/bin/false
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "service user $SERVICE_USER exists"
  else
    [[ $EUID -eq 0 ]] || die "creating the service user $SERVICE_USER needs root: run sudo ./install.sh … (or create it: useradd --system --user-group --home-dir $STATE_DIR --shell $nologin $SERVICE_USER)"
    command -v useradd >/dev/null 2>&1 || die "useradd is missing: create the system user $SERVICE_USER, then run ./install.sh again"
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$nologin" \
      --comment "$USER_COMMENT" "$SERVICE_USER" || die "useradd $SERVICE_USER failed"
    say "created the system user $SERVICE_USER"
  fi
  if getent group docker >/dev/null 2>&1; then
    if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx docker; then
      [[ $EUID -eq 0 ]] || die "adding $SERVICE_USER to the docker group needs root"
      usermod -aG docker "$SERVICE_USER" || die "usermod -aG docker $SERVICE_USER failed"
      say "added $SERVICE_USER to the docker group"
    fi
  else
    say "note: no 'docker' group on this host (yet): add $SERVICE_USER to it once Docker is installed (usermod -aG docker $SERVICE_USER)"
  fi
}

# The state directory belongs to the service user. A state directory of an earlier, root-run
# install is handed over whole; the database is created now so that a root run (cron, sudo)
# never creates it first as root's (SQLite itself gives its -wal/-shm the database's owner).
prepare_state_dir() {
  local group owner
  group=$(service_group)
  if [[ ! -d "$STATE_DIR" ]]; then
    install -d -m 0750 -o "$SERVICE_USER" -g "$group" "$STATE_DIR"
    say "created $STATE_DIR (owner $SERVICE_USER)"
  else
    owner=$(stat -c %U "$STATE_DIR")
    if [[ "$owner" != "$SERVICE_USER" ]]; then
      chown -R --no-dereference "$SERVICE_USER:$group" "$STATE_DIR"
      chmod 0750 "$STATE_DIR"
      say "handed $STATE_DIR over to $SERVICE_USER (was $owner's)"
    fi
  fi
  if [[ ! -e "$STATE_DIR/homeops.db" ]]; then
    install -m 0600 -o "$SERVICE_USER" -g "$group" /dev/null "$STATE_DIR/homeops.db"
  fi
}

# The service reads the configuration through its group; install.sh never changes its content.
share_config_with_service() {
  local group file
  group=$(service_group)
  chgrp "$group" "$CONFIG_DIR" && chmod 0750 "$CONFIG_DIR"
  for file in "$CONFIG_DIR/config.yaml" "$CONFIG_DIR/config.yml"; do
    [[ -f "$file" ]] || continue
    if [[ "$(stat -c %g "$file")" == 0 ]]; then chgrp "$group" "$file"; fi
    if [[ "$(stat -c %G "$file")" != "$group" ]] || (((8#$(stat -c %a "$file") & 8#040) == 0)); then
      say "warning: $SERVICE_USER cannot read $file: chgrp $group $file && chmod g+r $file"
    fi
  done
}

# Whether homeops.service must bind a port below 1024: --low-ports, else what the configuration
# asks for now (dns enabled: port 53 unless set higher; serve.listen below 1024).
wants_low_ports() {
  [[ "$LOW_PORTS" == yes ]] && return 0
  local shown
  shown=$(env -i PATH="$PATH" HOME=/nonexistent "$PREFIX/bin/homeops" config show --json \
    --config "$CONFIG_DIR/config.yaml" 2>/dev/null) || {
    say "note: could not read $CONFIG_DIR/config.yaml; homeops.service gets no low ports (--low-ports to grant them)"
    return 1
  }
  node -e '
    const {config} = JSON.parse(process.argv[1])
    const port = (listen) => Number(/:(\d+)$/.exec(String(listen ?? ""))?.[1] ?? 65535)
    const dns = config.dns ?? {}
    const dnsLow = dns.enabled === true && (dns.port === undefined || (dns.port > 0 && dns.port < 1024))
    process.exit(dnsLow || port(config.serve?.listen) < 1024 ? 0 : 1)
  ' "$shown"
}

# --- units ---------------------------------------------------------------------------

# Where a unit finds its files: a non-root homeops defaults to paths under its home, so both are
# always given.
unit_environment() {
  printf 'Environment=HOMEOPS_CONFIG=%s/config.yaml\n' "$CONFIG_DIR"
  printf 'Environment=HOMEOPS_DB_PATH=%s/homeops.db\n' "$STATE_DIR"
}

# Writable: the state directory only (ProtectSystem=strict makes the rest read-only). systemd
# creates it with the right owner when it lies under /var/lib (StateDirectory=).
unit_directories() {
  if [[ "$STATE_DIR" == /var/lib/?* ]]; then
    printf 'StateDirectory=%s\nStateDirectoryMode=0750\n' "${STATE_DIR#/var/lib/}"
  fi
  printf 'ReadWritePaths=%s\n' "$STATE_DIR"
  if [[ "$CONFIG_DIR" == /etc/?* ]]; then
    printf 'ConfigurationDirectory=%s\nConfigurationDirectoryMode=0750\n' "${CONFIG_DIR#/etc/}"
  fi
}

# What a careful distribution package ships (systemd.exec(5)); test/integration/install.test.ts
# checks every unit with `systemd-analyze security --offline=yes`.
hardening() {
  cat <<EOF
User=$SERVICE_USER
Group=$(service_group)
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
PrivateMounts=yes
PrivateIPC=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
RemoveIPC=yes
LockPersonality=yes
KeyringMode=private
# MemoryDenyWriteExecute= stays off: V8 (node) makes its JIT code pages executable with
# mprotect and aborts when that is refused (checked under PR_SET_MDWE, the same rule).
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
# node raises its soft open-file limit itself with setrlimit, which @resources refuses.
LimitNOFILE=65536
$(unit_directories)
EOF
}

# None, or only CAP_NET_BIND_SERVICE for dns on port 53 / HTTP below 1024.
capabilities() {
  if [[ "$1" == low ]]; then
    printf '%s\n' '# DNS on port 53 (or HTTP below 1024): this one capability, nothing else.' \
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'AmbientCapabilities=CAP_NET_BIND_SERVICE'
  else
    printf '%s\n' '# No capability. To listen below 1024 (dns on port 53): ./install.sh --with-systemd --low-ports' \
      'CapabilityBoundingSet=' 'AmbientCapabilities='
  fi
}

install_systemd() {
  local bin="$PREFIX/bin/homeops" groups_line="SupplementaryGroups=docker" ports=none
  check_writable "$SYSTEMD_DIR" "systemd units"
  mkdir -p "$SYSTEMD_DIR"
  ensure_service_user
  prepare_state_dir
  share_config_with_service
  if ! getent group docker >/dev/null 2>&1; then
    groups_line="# SupplementaryGroups=docker (no docker group on this host when installed)"
    say "note: no 'docker' group here; homeops.service is written without SupplementaryGroups=docker"
  fi
  if wants_low_ports; then
    ports=low
    say "homeops.service may listen below port 1024 (CAP_NET_BIND_SERVICE)"
  fi

  write_file "$SYSTEMD_DIR/homeops-ddns.service" 0644 <<EOF
# Installed by homeops install.sh. Started by homeops-ddns.timer.
[Unit]
Description=homeops: update dynamic DNS records once
Documentation=https://github.com/homeops/homeops/blob/main/docs/ddns.md
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$bin ddns update
$(unit_environment)
# Secrets can come from systemd credentials instead of the config file, e.g.:
# LoadCredential=INFOMANIAK_DDNS_PASSWORD:$CONFIG_DIR/ddns-password
TimeoutStartSec=5min
$(hardening)
$(capabilities none)
# The provider and the IP echo services only (AF_NETLINK: node lists interfaces at start).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
EOF

  write_file "$SYSTEMD_DIR/homeops-ddns.timer" 0644 <<EOF
# Installed by homeops install.sh. Enable with: systemctl enable --now homeops-ddns.timer
[Unit]
Description=homeops: update dynamic DNS records every 5 minutes
Documentation=https://github.com/homeops/homeops/blob/main/docs/ddns.md

[Timer]
OnCalendar=*:0/5
OnBootSec=1min
Persistent=true
RandomizedDelaySec=30s
AccuracySec=1s
Unit=homeops-ddns.service

[Install]
WantedBy=timers.target
EOF

  write_file "$SYSTEMD_DIR/homeops.service" 0644 <<EOF
# Installed by homeops install.sh. Runs every mode enabled in the configuration, with the web UI.
# Enable with: systemctl enable --now homeops.service
# Runs as $SERVICE_USER with the least privilege it needs: see "Units and least privilege" in
# docs/security.md for what each line allows and how to widen it in a drop-in (systemctl edit homeops).
[Unit]
Description=homeops: long-running modes and web UI (homeops serve)
Documentation=https://github.com/homeops/homeops/blob/main/docs/serve.md
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=notify
# READY/STOPPING/WATCHDOG are sent by a helper process (systemd-notify or python3), not by node itself.
NotifyAccess=all
ExecStart=$bin serve
# SIGHUP re-reads the configuration and restarts only the modes whose section changed.
ExecReload=/bin/kill -HUP \$MAINPID
$(unit_environment)
# LoadCredential=HOMEOPS_API_KEY:$CONFIG_DIR/api-key
Restart=on-failure
RestartSec=5s
# READY comes after every mode's first start attempt (each may take up to 30 s).
TimeoutStartSec=90s
TimeoutStopSec=20s
WatchdogSec=60s
# The Docker socket: what homeops watches and updates.
$groups_line
$(hardening)
$(capabilities "$ports")
# AF_NETLINK: the interface list (dns.hostIp's default address).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
EOF

  if systemctl_usable; then
    say "systemctl daemon-reload"
    systemctl daemon-reload || say "warning: systemctl daemon-reload failed"
  fi
  if systemd_booted; then
    say "next: edit $CONFIG_DIR/config.yaml, then: systemctl enable --now homeops-ddns.timer (and/or homeops.service)"
  else
    without_systemd_advice
  fi
}

# PID 1 is not systemd (a container, OpenRC, runit, WSL without systemd): units written here would never
# run, and `systemctl enable` would only leave links behind. Say what works instead.
without_systemd_advice() {
  local bin="$PREFIX/bin/homeops" env_prefix
  env_prefix=$(cron_env_prefix)
  say "this host does not run systemd (no /run/systemd/system): systemd units cannot run here"
  say "instead, run these from cron (./install.sh --with-cron writes them to $CRON_DIR/$CRON_FILE):"
  printf '    */5 * * * * root %s%s ddns update 2>&1 | logger -t homeops-ddns\n' "$env_prefix" "$bin"
  printf '    */5 * * * * root %s%s swarm reconcile 2>&1 | logger -t homeops-swarm\n' "$env_prefix" "$bin"
  say "and start '$bin serve' (the long-running modes) from your init system or process supervisor"
}

cron_env_prefix() {
  local env_prefix=""
  if [[ "$CONFIG_DIR" != /etc/homeops ]]; then env_prefix+="HOMEOPS_CONFIG=$CONFIG_DIR/config.yaml "; fi
  if [[ "$STATE_DIR" != /var/lib/homeops ]]; then env_prefix+="HOMEOPS_DB_PATH=$STATE_DIR/homeops.db "; fi
  printf '%s' "$env_prefix"
}

install_cron() {
  check_writable "$CRON_DIR" "cron entry"
  mkdir -p "$CRON_DIR"
  local env_prefix ddns_line=""
  env_prefix=$(cron_env_prefix)
  # Without a running systemd (or without the units) the ddns timer cannot run: cron updates the records.
  if ! systemd_booted || ((!WITH_SYSTEMD)); then
    ddns_line="*/5 * * * * root ${env_prefix}$PREFIX/bin/homeops ddns update 2>&1 | logger -t homeops-ddns"
  fi
  write_file "$CRON_DIR/$CRON_FILE" 0644 <<EOF
# Installed by homeops install.sh: reconcile the Docker Swarm stacks of the watched git
# repositories every 5 minutes. Output goes to syslog (tag homeops-swarm). A run that finds
# another still running exits 5 at once.
# As root, unlike the units: a reconcile writes binding contents and reads secrets under each
# repository's nfs.path, wherever on the host (or NFS) the repository puts it, with the owners its
# services need; no fixed list of writable paths can be given in advance.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
*/5 * * * * root ${env_prefix}$PREFIX/bin/homeops swarm reconcile 2>&1 | logger -t homeops-swarm
${ddns_line}
EOF
}

example_config() {
  cat <<'EOF'
# homeops configuration (written by install.sh as an example; it is never overwritten).
# Every key is optional and has an environment-variable override; secrets also accept
# *_FILE variables and systemd credentials ($CREDENTIALS_DIRECTORY).
# Check it with: homeops config validate    Show it (secrets masked): homeops config show

log:
  level: info

# ddns:
#   # Infomaniak, like the original tool (or INFOMANIAK_DDNS_* variables):
#   hostname: home.example.com
#   username: ddns-user
#   # password: prefer LoadCredential=INFOMANIAK_DDNS_PASSWORD:/etc/homeops/ddns-password
#   ipv6: false

# images:
#   enabled: false

# monitor:
#   enabled: false

# swarm:
#   enabled: false

# dns:
#   enabled: false

# serve:
#   listen: 127.0.0.1:8080
EOF
}

install_config() {
  check_writable "$CONFIG_DIR" "configuration directory"
  if [[ ! -d "$CONFIG_DIR" ]]; then
    mkdir -p "$CONFIG_DIR"
    chmod 0750 "$CONFIG_DIR"
    say "created $CONFIG_DIR"
  fi
  if [[ -e "$CONFIG_DIR/config.yaml" || -e "$CONFIG_DIR/config.yml" ]]; then
    say "kept the existing configuration in $CONFIG_DIR"
  else
    example_config | write_file "$CONFIG_DIR/config.yaml" 0640
  fi
}

do_install() {
  STEPS=$((3 + WITH_SYSTEMD + WITH_CRON))
  if needs_build; then STEPS=$((STEPS + 1)); fi
  if needs_build && [[ ! -x "$SRC/node_modules/.bin/tsc" || ! -x "$SRC/node_modules/.bin/oclif" ]]; then STEPS=$((STEPS + 1)); fi
  check_node
  check_writable "$PREFIX" "install prefix"
  if needs_build; then build_checkout; fi
  install_package
  step "configuration in $CONFIG_DIR"
  install_config
  if ((WITH_SYSTEMD)); then
    step "systemd units in $SYSTEMD_DIR"
    install_systemd
  fi
  if ((WITH_CRON)); then
    step "cron entry in $CRON_DIR"
    install_cron
  fi
  if ((!WITH_SYSTEMD && !WITH_CRON)) && ! systemd_booted; then without_systemd_advice; fi
  local extra=""
  if ((WITH_SYSTEMD)); then extra+=", systemd units in $SYSTEMD_DIR"; fi
  if ((WITH_CRON)); then extra+=", cron entry $CRON_DIR/$CRON_FILE"; fi
  say "done in $((SECONDS - STARTED))s: $PREFIX/bin/homeops$extra, configuration in $CONFIG_DIR"
}

# --- uninstall ----------------------------------------------------------------

safe_rm_dir() { # refuses the obviously wrong
  local d=$1
  case "$d" in
    "" | / | /etc | /var | /var/lib | /usr | /usr/local | /home | /root | /tmp) die "refusing to remove '$d'" ;;
  esac
  if [[ -e "$d" ]]; then
    rm -rf -- "$d"
    say "removed $d"
  fi
}

# Only a user install.sh created (its comment says so): never one the administrator made.
remove_service_user() {
  local comment
  id -u "$SERVICE_USER" >/dev/null 2>&1 || return 0
  comment=$(getent passwd "$SERVICE_USER" | cut -d: -f5)
  if [[ "$comment" != "$USER_COMMENT" ]]; then
    say "kept the user $SERVICE_USER (not created by install.sh)"
    return 0
  fi
  userdel "$SERVICE_USER" || die "userdel $SERVICE_USER failed"
  say "removed the system user $SERVICE_USER"
}

# rmdir DIR and its parents up to (not including) STOP while they are empty: what install.sh created and
# nothing else put there goes, a directory holding anything else stays.
remove_empty_dirs() { # DIR STOP
  local d=$1
  while [[ -d "$d" && "$d" != "$2" && "$d" != / ]]; do
    rmdir -- "$d" 2>/dev/null || return 0
    d=$(dirname "$d")
  done
}

do_uninstall() {
  local unit removed=0 link
  if systemctl_usable; then
    for unit in "${UNITS[@]}"; do
      if [[ -f "$SYSTEMD_DIR/$unit" ]]; then
        say "systemctl disable --now $unit"
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
      fi
    done
  fi
  # Links `systemctl enable` made (also one run on a host without systemd, which only writes the links).
  for link in "$SYSTEMD_DIR"/*.wants/homeops*; do
    [[ -L "$link" ]] || continue
    case "$(basename "$link")" in
      homeops-ddns.service | homeops-ddns.timer | homeops.service)
        rm -f "$link"
        say "removed the link $link"
        remove_empty_dirs "$(dirname "$link")" "$SYSTEMD_DIR"
        ;;
    esac
  done
  for unit in "${UNITS[@]}"; do
    if [[ -f "$SYSTEMD_DIR/$unit" ]]; then
      rm -f "$SYSTEMD_DIR/$unit"
      say "removed $SYSTEMD_DIR/$unit"
      removed=1
    fi
  done
  if ((removed)) && systemctl_usable; then
    systemctl daemon-reload || true
  fi
  if [[ -f "$CRON_DIR/$CRON_FILE" ]]; then
    rm -f "$CRON_DIR/$CRON_FILE"
    say "removed $CRON_DIR/$CRON_FILE"
  fi

  if [[ -d "$PREFIX/lib/node_modules/homeops" ]]; then
    rm -rf -- "$PREFIX/lib/node_modules/homeops" "$PREFIX/lib/node_modules/.homeops-staging"
    say "removed $PREFIX/lib/node_modules/homeops"
  else
    say "no homeops package in $PREFIX/lib/node_modules"
  fi
  # The command's link (never a file that is not ours).
  if [[ -L "$PREFIX/bin/homeops" ]]; then
    case "$(readlink "$PREFIX/bin/homeops")" in
      *node_modules/homeops/*)
        rm -f "$PREFIX/bin/homeops"
        say "removed the link $PREFIX/bin/homeops"
        ;;
    esac
  fi
  # Empty directories left: npm's global folder; the prefix itself only when it is not a system one.
  case "$PREFIX" in
    /usr | /usr/local | /opt | /)
      remove_empty_dirs "$PREFIX/lib/node_modules" "$PREFIX/lib"
      ;;
    *)
      remove_empty_dirs "$PREFIX/lib/node_modules" "$(dirname "$PREFIX")"
      remove_empty_dirs "$PREFIX/bin" "$(dirname "$PREFIX")"
      ;;
  esac

  if ((PURGE)); then
    safe_rm_dir "$CONFIG_DIR"
    safe_rm_dir "$STATE_DIR"
    remove_service_user
    # Directories given on the command line (a staging root, tests) go when empty; the system's never.
    [[ "$SYSTEMD_DIR" == "$REAL_SYSTEMD_DIR" ]] || remove_empty_dirs "$SYSTEMD_DIR" "$(dirname "$SYSTEMD_DIR")"
    [[ "$CRON_DIR" == /etc/cron.d ]] || remove_empty_dirs "$CRON_DIR" "$(dirname "$CRON_DIR")"
  else
    [[ -d "$CONFIG_DIR" ]] && say "kept $CONFIG_DIR (use --purge to remove it and $STATE_DIR)"
  fi
  say "uninstalled"
}

main() {
  parse_args "$@"
  case "$ACTION" in
    help) usage ;;
    install) do_install ;;
    uninstall) do_uninstall ;;
  esac
}

main "$@"
