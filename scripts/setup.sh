#!/usr/bin/env bash
# One command on a fresh Debian machine: the system packages the build and tests use, the npm
# dependencies and build (runtime with gcc, CLI with tsc), the samples, then a demo relink.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(gcc make binutils libc6-dev musl-tools busybox-static bash-static sash zsh-static strace tmux gdb iproute2 coreutils dnsmasq-base util-linux
      python3.11 libpython3.11-testsuite sqlite3 perl perl-modules-5.36 lua5.4 gawk
      slurm-wlm munge golang-go)

install_debs() {
  local missing=()
  for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install: ${missing[*]} (apt-get install, as root)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The dependencies a user of the packed tarball gets (package-lock.json's non-dev packages), put
# into npm's cache with their metadata: test/package/ installs the tarball as a user would, and
# with these cached that install makes no network request.
cache_runtime_dependencies() {
  local specs
  specs=$(node -e '
    const lock = require("./package-lock.json");
    const runtime = Object.entries(lock.packages).filter(([p, v]) => p.startsWith("node_modules/") && !v.dev);
    console.log(runtime.map(([p, v]) => `${p.replace(/^.*node_modules\//, "")}@${v.version}`).join(" "));')
  npm cache add $specs >/dev/null
}

install_debs
npm install --no-fund --no-audit
cache_runtime_dependencies
make -s -C samples
node scripts/demo.mjs
