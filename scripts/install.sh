#!/bin/sh
# Install the vpnkit executable for this machine from a release.
#
#   curl -fsSL https://github.com/<owner>/vpnkit/releases/latest/download/install.sh | sh
#   sh install.sh [--prefix DIR] [--version X.Y.Z] [--base-url URL|DIR] [--target TARGET]
#   sh install.sh --systemd [--unit-dir DIR] [--config-dir DIR] [--man-dir DIR]
#
# --systemd (Linux) also installs the vpnkit@.service template unit (written by the installed
# executable: `vpnkit config systemd`, ExecStart pointing at it) into --unit-dir (default
# /etc/systemd/system), creates --config-dir (default /etc/vpnkit, mode 0700) for NAME.toml
# files, writes the man page to --man-dir (default /usr/local/share/man/man1) and runs
# `systemctl daemon-reload` when systemd runs. Then: systemctl enable --now vpnkit@NAME
#
# Environment (the options win):
#   VPNKIT_PREFIX    where to install (default /usr/local/bin)
#   VPNKIT_VERSION   release to install, e.g. 0.2.0 (default: the latest)
#   VPNKIT_BASE_URL  where the release assets are: an http(s) URL, a file:// URL or a
#                    local folder (default: the GitHub release of VPNKIT_REPO)
#   VPNKIT_REPO      GitHub owner/name (default vpnkit/vpnkit)
#   VPNKIT_TARGET    skip detection: linux-x64, linux-x64-musl, linux-arm64,
#                    darwin-arm64, darwin-x64
#
# The asset is chosen from the release's SHA256SUMS by its "-<target>" suffix, and is
# installed only if its SHA-256 matches the one listed there.
set -eu

prefix=${VPNKIT_PREFIX:-/usr/local/bin}
version=${VPNKIT_VERSION:-}
base=${VPNKIT_BASE_URL:-}
target=${VPNKIT_TARGET:-}
repo=${VPNKIT_REPO:-vpnkit/vpnkit}
systemd=""
unitdir=/etc/systemd/system
confdir=/etc/vpnkit
mandir=/usr/local/share/man/man1

die() {
  echo "vpnkit install: $*" >&2
  exit 1
}

usage() {
  cat <<'USAGE'
usage: install.sh [--prefix DIR] [--version X.Y.Z] [--base-url URL|DIR] [--target TARGET]
                  [--systemd [--unit-dir DIR] [--config-dir DIR] [--man-dir DIR]]
Installs the vpnkit release executable for this machine after checking its SHA-256
against the release's SHA256SUMS. Environment: VPNKIT_PREFIX (default /usr/local/bin),
VPNKIT_VERSION (default: latest), VPNKIT_BASE_URL (URL, file:// URL or folder),
VPNKIT_REPO (GitHub owner/name), VPNKIT_TARGET (linux-x64, linux-x64-musl,
linux-arm64, darwin-arm64, darwin-x64).
--systemd also installs the vpnkit@.service template (default /etc/systemd/system),
/etc/vpnkit (mode 0700, one NAME.toml per tunnel) and the man page.
USAGE
}

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=$2; shift 2 ;;
    --version=*) version=${1#*=}; shift ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a URL or folder"; base=$2; shift 2 ;;
    --base-url=*) base=${1#*=}; shift ;;
    --target) [ $# -ge 2 ] || die "--target needs a target"; target=$2; shift 2 ;;
    --target=*) target=${1#*=}; shift ;;
    --systemd) systemd=1; shift ;;
    --unit-dir) [ $# -ge 2 ] || die "--unit-dir needs a folder"; unitdir=$2; shift 2 ;;
    --unit-dir=*) unitdir=${1#*=}; shift ;;
    --config-dir) [ $# -ge 2 ] || die "--config-dir needs a folder"; confdir=$2; shift 2 ;;
    --config-dir=*) confdir=${1#*=}; shift ;;
    --man-dir) [ $# -ge 2 ] || die "--man-dir needs a folder"; mandir=$2; shift 2 ;;
    --man-dir=*) mandir=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
version=${version#v}

# ---- which asset
detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no release for the $arch architecture (x86_64 and arm64 only); build from source: npm install && npm run build" ;;
  esac
  case $os in
    Linux)
      libc=""
      if ldd --version 2>&1 | grep -qi musl; then
        libc=-musl
      elif [ ! -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e /lib/ld-linux-aarch64.so.1 ] && ls /lib/ld-musl-* >/dev/null 2>&1; then
        libc=-musl
      fi
      [ "$libc$arch" = "-muslarm64" ] && die "no release for musl on arm64 (linux-x64-musl only); build from source: npm install && npm run build"
      echo "linux-$arch$libc"
      ;;
    Darwin)
      # an x86_64 shell under Rosetta on Apple silicon: install the native build
      if [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then arch=arm64; fi
      echo "darwin-$arch"
      ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      die "on Windows, download vpnkit-<version>-windows-x64.exe from the release page and check it against SHA256SUMS"
      ;;
    *) die "no release for $os; build from source: npm install && npm run build" ;;
  esac
}
[ -n "$target" ] || target=$(detect_target)
case $target in
  linux-x64 | linux-x64-musl | linux-arm64 | darwin-arm64 | darwin-x64 | windows-x64) ;;
  *) die "unknown target: $target" ;;
esac

# ---- where from
if [ -z "$base" ]; then
  if [ -n "$version" ]; then
    base="https://github.com/$repo/releases/download/v$version"
  else
    base="https://github.com/$repo/releases/latest/download"
  fi
fi
base=${base%/}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpnkit-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fetch() { # fetch NAME DEST
  case $base in
    http://* | https://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$base/$1" || die "cannot download $base/$1"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$base/$1" || die "cannot download $base/$1"
      else
        die "need curl or wget to download $base/$1"
      fi
      ;;
    file://*) cp "${base#file://}/$1" "$2" 2>/dev/null || die "cannot read ${base#file://}/$1" ;;
    *://*) die "unsupported URL: $base (http, https, file or a folder)" ;;
    *) cp "$base/$1" "$2" 2>/dev/null || die "cannot read $base/$1" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | sed 's/.*= *//'
  else
    die "need sha256sum, shasum or openssl to verify the download"
  fi
}

fetch SHA256SUMS "$tmp/SHA256SUMS"
suffix=""
[ "${target#windows}" = "$target" ] || suffix=.exe
if [ -n "$version" ]; then
  want="vpnkit-$version-$target$suffix"
  line=$(awk -v n="$want" '{ f = $2; sub(/^\*/, "", f) } f == n { print $1, f; exit }' "$tmp/SHA256SUMS")
else
  line=$(awk -v s="-$target$suffix" '{ f = $2; sub(/^\*/, "", f) } f ~ /^vpnkit-/ && substr(f, length(f) - length(s) + 1) == s { print $1, f; exit }' "$tmp/SHA256SUMS")
fi
[ -n "$line" ] || die "no $target asset${version:+ for version $version} in $base/SHA256SUMS"
expected=${line%% *}
asset=${line#* }

echo "vpnkit install: $asset ($target) from $base"
fetch "$asset" "$tmp/$asset"
actual=$(sha256 "$tmp/$asset")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual; refusing to install (retry, or report it if it persists)"
fi

# ---- install (copy next to the destination, then rename: never a half-written vpnkit)
dest="$prefix/vpnkit$suffix"
mkdir -p "$prefix" 2>/dev/null || die "cannot create $prefix (run with sudo, or choose another folder with --prefix \$HOME/.local/bin)"
cp "$tmp/$asset" "$prefix/.vpnkit.$$" 2>/dev/null || die "cannot write to $prefix (run with sudo, or choose another folder with --prefix \$HOME/.local/bin)"
chmod 755 "$prefix/.vpnkit.$$"
mv -f "$prefix/.vpnkit.$$" "$dest" || { rm -f "$prefix/.vpnkit.$$"; die "cannot install $dest"; }
echo "vpnkit install: installed $dest (sha256 $actual)"
if [ "$target" = linux-x64-musl ] && ! ls /usr/lib/libstdc++.so.6 /lib/libstdc++.so.6 >/dev/null 2>&1; then
  echo "vpnkit install: note: the musl build needs libstdc++ (Alpine: apk add libstdc++)"
fi
case ":$PATH:" in
  *":$prefix:"*) ;;
  *) echo "vpnkit install: note: $prefix is not in PATH" ;;
esac

# ---- systemd service (--systemd)
if [ -n "$systemd" ]; then
  case $target in linux-*) ;; *) die "--systemd is for Linux" ;; esac
  mkdir -p "$unitdir" || die "cannot create $unitdir"
  "$dest" config systemd --exec "$dest" > "$unitdir/.vpnkit@.service.$$" || { rm -f "$unitdir/.vpnkit@.service.$$"; die "cannot write the unit to $unitdir"; }
  chmod 644 "$unitdir/.vpnkit@.service.$$"
  mv -f "$unitdir/.vpnkit@.service.$$" "$unitdir/vpnkit@.service"
  echo "vpnkit install: installed $unitdir/vpnkit@.service"
  (umask 077 && mkdir -p "$confdir") || die "cannot create $confdir"
  chmod 700 "$confdir"
  if mkdir -p "$mandir" 2>/dev/null && "$dest" man > "$mandir/vpnkit.1" 2>/dev/null; then
    echo "vpnkit install: installed $mandir/vpnkit.1"
  else
    echo "vpnkit install: note: could not write the man page to $mandir"
  fi
  if [ "$unitdir" = /etc/systemd/system ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload || echo "vpnkit install: note: systemctl daemon-reload failed"
  fi
  echo "vpnkit install: next: vpnkit config example --server > $confdir/NAME.toml (edit it, chmod 600), then systemctl enable --now vpnkit@NAME"
fi
