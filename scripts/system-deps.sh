#!/usr/bin/env bash
# Ensures the real programs the tests drive are present: the CNCF distribution
# registry, skopeo, containerd with runc, promtool and prometheus, podman, buildah, the Docker
# engine, kubectl (Debian's kubernetes-client; the chart test runs it against a discovery-only API
# server), Go with the libraries the chart test renders the Helm chart with (Sprig,
# sigs.k8s.io/yaml, gojsonschema), and Chromium (the admin pages' browser tests).
# Installs them with apt when running as root; otherwise names what is missing and stops.
set -euo pipefail
declare -A pkg_of=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [containerd]=containerd
  [ctr]=containerd
  [runc]=runc
  [promtool]=prometheus
  [prometheus]=prometheus
  [kubectl]=kubernetes-client
  [go]=golang-go
  [podman]=podman
  [buildah]=buildah
  [dockerd]=docker.io
  [chromium]=chromium
)
# Libraries, by a directory each package installs.
declare -A lib_of=(
  [/usr/share/gocode/src/github.com/Masterminds/sprig]=golang-github-masterminds-sprig-dev
  [/usr/share/gocode/src/sigs.k8s.io/yaml]=golang-k8s-sigs-yaml-dev
  [/usr/share/gocode/src/github.com/xeipuuv/gojsonschema]=golang-github-xeipuuv-gojsonschema-dev
)
missing=()
for bin in "${!pkg_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_of[$bin]}")
done
for dir in "${!lib_of[@]}"; do
  [ -d "$dir" ] || missing+=("${lib_of[$dir]}")
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
