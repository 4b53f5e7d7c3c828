#!/usr/bin/env bash
# Ensures the real programs the tests drive are present: the CNCF distribution
# registry, skopeo, containerd with runc, and promtool. Installs them with apt
# when running as root; otherwise names what is missing and stops.
set -euo pipefail
declare -A pkg_of=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [containerd]=containerd
  [ctr]=containerd
  [runc]=runc
  [promtool]=prometheus
)
missing=()
for bin in "${!pkg_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_of[$bin]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
readarray -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "shoal tests need these Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
