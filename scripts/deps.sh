#!/usr/bin/env bash
# Installs the Debian bookworm packages Nova needs to build, run and test.
# Quick no-op when everything is present. Usage: scripts/deps.sh [run|test]
set -euo pipefail
mode=${1:-run}
pkgs=(build-essential meson ninja-build pkg-config
      libmicrohttpd-dev libjansson-dev libssl-dev libsodium-dev libsqlite3-dev libpq-dev libhiredis-dev
      libcmocka-dev libcbor-dev libjpeg62-turbo-dev libopenblas-dev libfftw3-dev curl ca-certificates
      librabbitmq-dev libcurl4-openssl-dev libtesseract-dev tesseract-ocr-eng liblasso3-dev libxmlsec1-dev)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
    pkgs+=(postgresql-15 postgresql-client-15 redis-server redis-tools clang llvm libclang-rt-14-dev nodejs npm wrk faketime openssl clang-format git libjpeg-turbo-progs sqlite3 libyaml-dev chromium xxd
              rabbitmq-server python3-pil fonts-ocr-b fonts-dejavu-core)
fi
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"ok installed"*) ;; *) missing+=("$p") ;; esac
done
# Node/npm may come from elsewhere on a developer machine; only ask apt when absent.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    tmp=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
