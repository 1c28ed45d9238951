#!/usr/bin/env bash
# Install the Debian packages bgsub's set-up needs, only when missing.
#   tools/system-deps.sh venv    -> python3-venv (for `python3 -m venv`)
#   tools/system-deps.sh imagej  -> ImageJ 1.x + a JDK (for the ImageJ fidelity tests/benchmarks)
set -euo pipefail

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then echo sudo; return; fi
        echo "system-deps: '$*' is missing and I am not root; install it with apt-get" >&2
        exit 1
    fi
}

apt_install() {
    local sudo; sudo=$(need_root "$@")
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || true
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

case "${1:-}" in
    venv)
        python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
            || apt_install python3-venv ;;
    imagej)
        if [ -f /usr/share/java/ij.jar ] && command -v javac >/dev/null 2>&1; then exit 0; fi
        command -v apt-get >/dev/null 2>&1 || { echo "system-deps: no apt-get here" >&2; exit 1; }
        pkgs=(imagej)
        command -v javac >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
        apt_install "${pkgs[@]}" ;;
    *)
        echo "usage: tools/system-deps.sh venv|imagej" >&2; exit 2 ;;
esac
