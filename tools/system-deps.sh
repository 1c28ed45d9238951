#!/usr/bin/env bash
# Install the Debian packages bgsub's set-up needs, only when missing.
#   tools/system-deps.sh venv    -> python3-venv (for `python3 -m venv`)
#   tools/system-deps.sh imagej  -> ImageJ 1.53t (Debian's jar) + a JDK, for the ImageJ fidelity
#                                   tests/benchmarks; with that JDK they also compile ImageJ
#                                   1.54t's BackgroundSubtracter from ../shared/imagej-1.54t
#                                   into build/imagej-1.54t (nothing to install for it)
#   tools/system-deps.sh napari  -> Xvfb, Mesa's software OpenGL and Qt's X11 libraries
#                                   (for the napari plugin's tests, tests/napari)
set -euo pipefail

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then echo sudo; return; fi
        echo "system-deps: '$*' is missing and I am not root; install it with apt-get" >&2
        exit 1
    fi
}

# What Qt 6's xcb platform, napari's OpenGL canvas and a virtual screen load.
NAPARI_PKGS=(xvfb libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libfontconfig1 fonts-dejavu-core
    libdbus-1-3 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0
    libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1)

missing_pkgs() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed \
            || echo "$pkg"
    done
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
        pkgs=(libij-java)
        command -v javac >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
        apt_install "${pkgs[@]}" ;;
    napari)
        command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: no dpkg here" >&2; exit 1; }
        mapfile -t pkgs < <(missing_pkgs "${NAPARI_PKGS[@]}")
        [ "${#pkgs[@]}" -eq 0 ] && exit 0
        command -v apt-get >/dev/null 2>&1 || { echo "system-deps: no apt-get here" >&2; exit 1; }
        echo "system-deps: installing ${pkgs[*]}" >&2
        apt_install "${pkgs[@]}" ;;
    *)
        echo "usage: tools/system-deps.sh venv|imagej|napari" >&2; exit 2 ;;
esac
