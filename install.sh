#!/usr/bin/env bash
# Installs homeops on this host from this checkout (or an unpacked release tarball). DESIGN.md §7.
#
#   ./install.sh [install] [--prefix DIR] [--with-systemd] [--with-cron]
#                [--systemd-dir DIR] [--cron-dir DIR] [--config-dir DIR]
#   ./install.sh uninstall [--purge] [--prefix DIR] [--systemd-dir DIR] [--cron-dir DIR]
#                [--config-dir DIR] [--state-dir DIR]
#
#   --prefix DIR       npm global prefix: the package goes to DIR/lib/node_modules/homeops and
#                      the command to DIR/bin/homeops (default /usr/local)
#   --with-systemd     write homeops-ddns.service + homeops-ddns.timer (`homeops ddns update`
#                      every 5 minutes) and homeops.service (`homeops serve`)
#   --with-cron        write a cron entry running `homeops swarm reconcile` every 5 minutes
#   --systemd-dir DIR  where the units go (default /etc/systemd/system)
#   --cron-dir DIR     where the cron entry goes (default /etc/cron.d)
#   --config-dir DIR   configuration directory (default /etc/homeops); an example config.yaml
#                      is written there only when there is none
#   --state-dir DIR    state directory removed by `uninstall --purge` (default /var/lib/homeops)
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
UNITS=(homeops-ddns.service homeops-ddns.timer homeops.service)
CRON_FILE=homeops

say() { printf 'install.sh: %s\n' "$*"; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}
trap 'printf "install.sh: error: command failed (exit %s, line %s): %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

usage() {
  sed -n '4,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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

build_if_needed() {
  if [[ -d "$SRC/dist" && -f "$SRC/oclif.manifest.json" ]]; then return 0; fi
  [[ -f "$SRC/tsconfig.build.json" ]] || die "$SRC has no dist/ and no sources to build it from"
  say "dist/ is missing: building ($SRC)"
  if [[ ! -x "$SRC/node_modules/.bin/tsc" || ! -x "$SRC/node_modules/.bin/oclif" ]]; then
    say "npm ci (build dependencies)"
    (cd "$SRC" && npm ci --no-audit --no-fund) || die "npm ci failed in $SRC"
  fi
  say "npm run build"
  (cd "$SRC" && npm run build) || die "npm run build failed in $SRC"
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
    say "running the install script of $name"
    (cd "$dir" && npm rebuild --no-audit --no-fund --loglevel=error "$name") || die "npm rebuild $name failed in $dir"
  done
}

install_package() {
  local tmp tarball
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/homeops-install.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap runs after this function returned
  trap "rm -rf '$tmp'" EXIT
  say "packing $SRC"
  tarball=$(cd "$SRC" && npm pack --ignore-scripts --silent --pack-destination "$tmp" 2>/dev/null | tail -n1)
  [[ -n "$tarball" && -f "$tmp/$tarball" ]] || die "npm pack failed in $SRC"
  offer_local_prebuilds "$tmp/prebuilds"
  say "installing $tarball into $PREFIX (production dependencies)"
  # Install scripts run only for the packages package.json approves in allowScripts (what npm 12
  # enforces): better-sqlite3 needs its binary; ssh2 and cpu-features have pure-JS fallbacks.
  npm install --global --prefix "$PREFIX" --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error \
    --ignore-scripts "$tmp/$tarball" || die "npm install --global --prefix $PREFIX failed (see npm's output above)"
  build_approved_native_modules "$PREFIX/lib/node_modules/homeops"
  [[ -x "$PREFIX/bin/homeops" ]] || die "$PREFIX/bin/homeops was not created"
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

config_env_line() { # units need HOMEOPS_CONFIG only when the configuration is not in its default place
  if [[ "$CONFIG_DIR" != /etc/homeops ]]; then printf 'Environment=HOMEOPS_CONFIG=%s/config.yaml\n' "$CONFIG_DIR"; fi
}

hardening() {
  cat <<'EOF'
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
StateDirectory=homeops
StateDirectoryMode=0750
ReadWritePaths=/var/lib/homeops
UMask=0027
EOF
}

install_systemd() {
  local bin="$PREFIX/bin/homeops" groups_line="SupplementaryGroups=docker"
  check_writable "$SYSTEMD_DIR" "systemd units"
  mkdir -p "$SYSTEMD_DIR"
  if ! getent group docker >/dev/null 2>&1; then
    groups_line="# SupplementaryGroups=docker (no docker group on this host when installed)"
    say "note: no 'docker' group here; homeops.service is written without SupplementaryGroups=docker"
  fi

  write_file "$SYSTEMD_DIR/homeops-ddns.service" 0644 <<EOF
# Installed by homeops install.sh. Started by homeops-ddns.timer.
[Unit]
Description=homeops: update dynamic DNS records once
Documentation=https://github.com/homeops/homeops#ddns
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$bin ddns update
$(config_env_line)
# Secrets can come from systemd credentials instead of the config file, e.g.:
# LoadCredential=INFOMANIAK_DDNS_PASSWORD:$CONFIG_DIR/ddns-password
TimeoutStartSec=5min
$(hardening)
CapabilityBoundingSet=
ProcSubset=pid
PrivateIPC=yes
EOF

  write_file "$SYSTEMD_DIR/homeops-ddns.timer" 0644 <<EOF
# Installed by homeops install.sh. Enable with: systemctl enable --now homeops-ddns.timer
[Unit]
Description=homeops: update dynamic DNS records every 5 minutes
Documentation=https://github.com/homeops/homeops#ddns

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
[Unit]
Description=homeops: long-running modes and web UI (homeops serve)
Documentation=https://github.com/homeops/homeops#serve
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=notify
# READY/STOPPING/WATCHDOG are sent by a helper process (systemd-notify or python3), not by node itself.
NotifyAccess=all
ExecStart=$bin serve
# SIGHUP re-reads the configuration and restarts only the modes whose section changed.
ExecReload=/bin/kill -HUP \$MAINPID
$(config_env_line)
# LoadCredential=HOMEOPS_API_KEY:$CONFIG_DIR/api-key
Restart=on-failure
RestartSec=5s
# READY comes after every mode's first start attempt (each may take up to 30 s).
TimeoutStartSec=90s
TimeoutStopSec=20s
WatchdogSec=60s
$groups_line
$(hardening)
EOF

  if [[ "$SYSTEMD_DIR" == "$REAL_SYSTEMD_DIR" ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    say "systemctl daemon-reload"
    systemctl daemon-reload || say "warning: systemctl daemon-reload failed"
  fi
  say "next: edit $CONFIG_DIR/config.yaml, then: systemctl enable --now homeops-ddns.timer (and/or homeops.service)"
}

install_cron() {
  check_writable "$CRON_DIR" "cron entry"
  mkdir -p "$CRON_DIR"
  local env_prefix=""
  if [[ "$CONFIG_DIR" != /etc/homeops ]]; then env_prefix="HOMEOPS_CONFIG=$CONFIG_DIR/config.yaml "; fi
  write_file "$CRON_DIR/$CRON_FILE" 0644 <<EOF
# Installed by homeops install.sh: reconcile the Docker Swarm stacks of the watched git
# repositories every 5 minutes. Output goes to syslog (tag homeops-swarm). A run that finds
# another still running exits 5 at once.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
*/5 * * * * root ${env_prefix}$PREFIX/bin/homeops swarm reconcile 2>&1 | logger -t homeops-swarm
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
  check_node
  check_writable "$PREFIX" "install prefix"
  build_if_needed
  install_package
  install_config
  if ((WITH_SYSTEMD)); then install_systemd; fi
  if ((WITH_CRON)); then install_cron; fi
  local extra=""
  if ((WITH_SYSTEMD)); then extra+=", systemd units in $SYSTEMD_DIR"; fi
  if ((WITH_CRON)); then extra+=", cron entry $CRON_DIR/$CRON_FILE"; fi
  say "done: $PREFIX/bin/homeops$extra, configuration in $CONFIG_DIR"
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

do_uninstall() {
  local unit removed=0
  if [[ "$SYSTEMD_DIR" == "$REAL_SYSTEMD_DIR" ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    for unit in "${UNITS[@]}"; do
      if [[ -f "$SYSTEMD_DIR/$unit" ]]; then
        say "systemctl disable --now $unit"
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
      fi
    done
  fi
  for unit in "${UNITS[@]}"; do
    if [[ -f "$SYSTEMD_DIR/$unit" ]]; then
      rm -f "$SYSTEMD_DIR/$unit"
      say "removed $SYSTEMD_DIR/$unit"
      removed=1
    fi
  done
  if ((removed)) && [[ "$SYSTEMD_DIR" == "$REAL_SYSTEMD_DIR" ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload || true
  fi
  if [[ -f "$CRON_DIR/$CRON_FILE" ]]; then
    rm -f "$CRON_DIR/$CRON_FILE"
    say "removed $CRON_DIR/$CRON_FILE"
  fi

  if [[ -d "$PREFIX/lib/node_modules/homeops" ]]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to uninstall the package from $PREFIX"
    say "npm uninstall --global --prefix $PREFIX homeops"
    npm uninstall --global --prefix "$PREFIX" --no-audit --no-fund --loglevel=error homeops ||
      die "npm uninstall failed"
  else
    say "no homeops package in $PREFIX/lib/node_modules"
  fi
  # The link npm made, if npm left it (never a file that is not ours).
  if [[ -L "$PREFIX/bin/homeops" ]]; then
    case "$(readlink "$PREFIX/bin/homeops")" in
      *node_modules/homeops/*)
        rm -f "$PREFIX/bin/homeops"
        say "removed the link $PREFIX/bin/homeops"
        ;;
    esac
  fi

  if ((PURGE)); then
    safe_rm_dir "$CONFIG_DIR"
    safe_rm_dir "$STATE_DIR"
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
