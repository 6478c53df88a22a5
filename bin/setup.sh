#!/usr/bin/env bash
# Installs what xdpc needs on Debian 12 (run as root): the system libraries and tools
# (libbpf1, libxdp1, clang for the C twins, bpftool, iproute2, skopeo and umoci for the
# OCI image tests, chromium for the playground's headless-browser test), the npm packages,
# and bpffs at /sys/fs/bpf. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libbpf1 libbpf-dev libxdp1 libxdp-dev clang llvm bpftool xdp-tools iproute2 linux-libc-dev skopeo umoci chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "xdpc setup: missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "xdpc setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then mount -t bpf bpf /sys/fs/bpf || echo "xdpc setup: could not mount bpffs at /sys/fs/bpf" >&2; fi
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm run --silent build
fi
