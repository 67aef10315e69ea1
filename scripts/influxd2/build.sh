#!/usr/bin/env bash
# Builds a real InfluxDB 2.x server (influxd) from its released Go module, cached by version.
#
#   scripts/influxd2/build.sh      prints the path of the influxd binary as its last stdout line
#
# Warm: when $cache/influxd exists and `influxd version` reports $INFLUXD2_VERSION, the script
# prints its path and exits at once. Cold (about 5 to 10 minutes on 2 cores, see below):
#
#   1. reads influxdb's own go.mod (from the Go module proxy, checked against the sum database)
#      and makes a wrapper module that requires influxdb $INFLUXD2_VERSION with the same replace
#      directives (a `replace` makes a plain `go install ...@version` refuse), then checks that
#      every module in the build is at the version influxdb's go.mod selects;
#   2. takes the Flux module version that go.mod selects, copies its libflux/ and stdlib/ into
#      a scratch dir and builds the Rust library libflux there with
#      `cargo build --release --locked -p flux --no-default-features --features cffi`;
#   3. writes a flux.pc for that libflux.a (the fields influxdata's pkg-config wrapper writes)
#      and builds github.com/influxdata/influxdb/v2/cmd/influxd with cgo and the system
#      pkg-config restricted to that flux.pc (PKG_CONFIG_LIBDIR);
#   4. checks the binary (`influxd version`, and `go version -m` naming influxdb and flux at
#      their versions), copies it into the cache (write, then mv), removes the scratch dir.
#
# The one departure from upstream's build is a build setting, not a code change: libflux's Cargo
# feature `strict` (on by default) is left off. All it does is put
# `#![deny(warnings, missing_docs)]` on the flux and flux-core crates; flux pins Rust 1.72
# (rust-toolchain.toml), and newer Rust reports new lints in the released code
# (mismatched_lifetime_syntaxes, dead_code, unused_*), which deny(warnings) makes errors.
# They stay warnings here (counted in the log). The `cffi` feature, the C API that Go links
# against, stays on as in the default. The rust-toolchain.toml is not copied, so the machine's
# default Rust toolchain builds libflux (RUSTUP_TOOLCHAIN is honoured). influxdata's pkg-config
# wrapper (a plain `cargo build --release` with default features) is not used.
# Go build settings follow upstream's Linux release build (scripts/ci/build.sh): tags
# sqlite_foreign_keys,sqlite_json,noasm, `-s -w`, main.version set; without the `assets` tag
# (no embedded web UI, which needs a JavaScript build) and without static_build (musl): the
# binary links glibc dynamically; libflux is linked statically all the same. main.commit is
# left "none": the module zip does not carry the git commit.
#
# Environment (all optional):
#   RDR_INFLUXD2_CACHE   dir holding the binary  [${XDG_CACHE_HOME:-$HOME/.cache}/rdr/influxd-$INFLUXD2_VERSION]
#   TMPDIR               where the scratch dir goes (needs ~1 GiB while cargo runs)
#   GOMODCACHE GOCACHE GOPROXY CARGO_HOME RUSTUP_TOOLCHAIN   used as usual
set -euo pipefail

INFLUXD2_VERSION=v2.7.12
INFLUXD2_MODULE=github.com/influxdata/influxdb/v2
INFLUXD2_PKG=$INFLUXD2_MODULE/cmd/influxd
INFLUXD2_TAGS=sqlite_foreign_keys,sqlite_json,noasm
FLUX_MODULE=github.com/influxdata/flux

CACHE=${RDR_INFLUXD2_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/rdr/influxd-$INFLUXD2_VERSION}
BIN=$CACHE/influxd

log() { printf '[influxd2] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

version_ok() { # version_ok PATH: PATH runs and `PATH version` reports $INFLUXD2_VERSION
  [ -x "$1" ] || return 1
  local out
  out=$("$1" version 2>/dev/null) || return 1
  case "$out" in "InfluxDB $INFLUXD2_VERSION "*) return 0 ;; *) return 1 ;; esac
}

# ---------------------------------------------------------------- warm path
if version_ok "$BIN"; then
  echo "$BIN"
  exit 0
fi

# ---------------------------------------------------------------- tools
APT_UPDATED=
apt_install() { # apt_install PKG... : apt-get install, running apt-get update once
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: install $* by hand"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
command -v go >/dev/null 2>&1 || die "go is needed (influxdb $INFLUXD2_VERSION wants Go >= 1.23)"
command -v cargo >/dev/null 2>&1 || die "cargo is needed to build libflux (Rust; Debian's is too old, use rustup)"
PKG_CONFIG_BIN=$(command -v pkg-config)
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=1 CC=${CC:-gcc}

# ---------------------------------------------------------------- lock, scratch
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build.lock; waiting for it"
  flock 9
fi
if version_ok "$BIN"; then echo "$BIN"; exit 0; fi # the build we waited for made it

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/rdr-influxd2-build.XXXXXX")
cleanup() { chmod -R u+w "$SCRATCH" 2>/dev/null || true; rm -rf "$SCRATCH"; }
trap cleanup EXIT
t0=$(now)
log "building influxd $INFLUXD2_VERSION in $SCRATCH ($(go env GOVERSION), $(rustc --version 2>/dev/null || echo 'rustc ?'))"

show_tail() { log "last lines of $1:"; tail -n "${2:-40}" "$1" >&2; }

# ---------------------------------------------------------------- 1. wrapper module
# influxdb's own go.mod and go.sum, alone in a dir: the reference build list and replaces.
mkdir -p "$SCRATCH/ref" "$SCRATCH/wrap"
log "go mod download $INFLUXD2_MODULE@$INFLUXD2_VERSION"
json=$(cd "$SCRATCH" && go mod download -json "$INFLUXD2_MODULE@$INFLUXD2_VERSION") \
  || die "go mod download $INFLUXD2_MODULE@$INFLUXD2_VERSION failed: $json"
gomod=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
srcdir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -f "$gomod" ] && [ -f "$srcdir/go.sum" ] || die "no go.mod/go.sum for $INFLUXD2_MODULE@$INFLUXD2_VERSION in: $json"
cp "$gomod" "$SCRATCH/ref/go.mod"
cp "$srcdir/go.sum" "$SCRATCH/ref/go.sum"
chmod u+w "$SCRATCH/ref/go.mod" "$SCRATCH/ref/go.sum"
listfmt='{{if not .Main}}{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}{{end}}'
(cd "$SCRATCH/ref" && go list -mod=readonly -m -f "$listfmt" all) >"$SCRATCH/ref.list" 2>"$SCRATCH/ref.err" \
  || { show_tail "$SCRATCH/ref.err"; die "go list -m all on influxdb's go.mod failed"; }
goversion=$(cd "$SCRATCH/ref" && go list -mod=readonly -m -f '{{.GoVersion}}')
replaces=()
while read -r old new; do
  [ -n "$old" ] || continue
  case "$new" in .*|/*) die "influxdb's go.mod replaces $old with a local path ($new): cannot wrap it" ;; esac
  replaces+=("-replace=$old=$new")
done < <(cd "$SCRATCH/ref" && go list -mod=readonly -m \
  -f '{{with .Replace}}{{$.Path}}@{{$.Version}} {{.Path}}{{with .Version}}@{{.}}{{end}}{{end}}' all)

cd "$SCRATCH/wrap"
go mod init local/rdr-influxd2-build >/dev/null 2>&1
go mod edit -go="$goversion" ${replaces[@]+"${replaces[@]}"}
cp "$SCRATCH/ref/go.sum" go.sum
log "wrapper module: go $goversion, ${#replaces[@]} replace(s) copied: ${replaces[*]:-none}"
go get "$INFLUXD2_MODULE@$INFLUXD2_VERSION" >"$SCRATCH/get.log" 2>&1 \
  || { show_tail "$SCRATCH/get.log"; die "go get $INFLUXD2_MODULE@$INFLUXD2_VERSION failed"; }
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

# Every module that supplies a package to influxd must be at the version (and replacement)
# that influxdb's own go.mod selects.
go list -tags "$INFLUXD2_TAGS" -deps -f "{{with .Module}}$listfmt{{end}}" "$INFLUXD2_PKG" 2>"$SCRATCH/deps.err" \
  | sort -u >"$SCRATCH/wrap.list" || { show_tail "$SCRATCH/deps.err"; die "go list -deps $INFLUXD2_PKG failed"; }
grep -v "^$INFLUXD2_MODULE $INFLUXD2_VERSION\$" "$SCRATCH/wrap.list" | grep -v '^$' >"$SCRATCH/wrap.deps" || true
if off=$(grep -vxFf "$SCRATCH/ref.list" "$SCRATCH/wrap.deps"); then
  die "the wrapper selects modules other than influxdb's go.mod does: $off"
fi
log "build list: $(wc -l <"$SCRATCH/wrap.deps") modules, all at the versions influxdb $INFLUXD2_VERSION's go.mod selects"

# ---------------------------------------------------------------- 2. libflux
flux_ver=$(go list -m -f '{{.Version}}{{with .Replace}} replaced{{end}}' "$FLUX_MODULE")
case "$flux_ver" in v[0-9]*[0-9]) ;; *) die "unexpected $FLUX_MODULE in the build list: '$flux_ver'" ;; esac
flux_src=$(go list -m -f '{{.Dir}}' "$FLUX_MODULE")
if [ ! -d "$flux_src/libflux" ]; then
  go mod download "$FLUX_MODULE@$flux_ver"
  flux_src=$(go list -m -f '{{.Dir}}' "$FLUX_MODULE")
fi
[ -d "$flux_src/libflux" ] && [ -d "$flux_src/stdlib" ] || die "no libflux/ or stdlib/ in $FLUX_MODULE@$flux_ver ($flux_src)"
# libflux goes to a fixed place under the cache, not the scratch dir: Go's build cache keeps a
# cgo package's link flags (-L<libdir>), so an influxd link after an interrupted build would
# otherwise name a scratch dir that is gone ("cannot find -lflux"). A libflux.a already there is
# reused.
FLUXDIR=$CACHE/flux-$flux_ver
if [ -s "$FLUXDIR/lib/libflux.a" ] && [ -s "$FLUXDIR/pkgconfig/flux.pc" ]; then
  log "libflux.a of flux $flux_ver from $FLUXDIR"
else
  mkdir -p "$SCRATCH/flux"
  # libflux/flux/build.rs compiles ../../stdlib (the Flux standard library's .flux sources).
  cp -r "$flux_src/libflux" "$flux_src/stdlib" "$SCRATCH/flux/"
  chmod -R u+w "$SCRATCH/flux"

  log "cargo build libflux of flux $flux_ver (Cargo.lock, --locked; feature 'strict' off); ~1.5 min on 2 cores"
  t1=$(now)
  (cd "$SCRATCH/flux/libflux" &&
    CARGO_TARGET_DIR="$SCRATCH/cargo-target" cargo build --release --locked \
      -p flux --no-default-features --features cffi) >"$SCRATCH/cargo.log" 2>&1 \
    || { show_tail "$SCRATCH/cargo.log" 60; die "cargo build of libflux failed"; }
  lib=$SCRATCH/cargo-target/release/libflux.a
  [ -s "$lib" ] || { show_tail "$SCRATCH/cargo.log"; die "cargo build made no $lib"; }
  log "libflux.a built in $(( $(now) - t1 ))s ($(grep -c '^   Compiling' "$SCRATCH/cargo.log") crates, $(grep -c '^warning' "$SCRATCH/cargo.log") warning lines)"

  # Only the static archive goes into the lib dir, so -lflux cannot pick up libflux.so.
  tmpdir=$CACHE/.flux.tmp.$$
  rm -rf "$tmpdir"
  mkdir -p "$tmpdir/pkgconfig" "$tmpdir/lib"
  cp "$lib" "$tmpdir/lib/libflux.a"
  if [ -d "$SCRATCH/flux/libflux/include" ]; then cp -r "$SCRATCH/flux/libflux/include" "$tmpdir/include"; else mkdir -p "$tmpdir/include"; fi
  rm -rf "$SCRATCH/cargo-target" # ~0.4 GiB, not needed any more
  cat >"$tmpdir/pkgconfig/flux.pc" <<EOF
prefix=$FLUXDIR
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: Flux
Version: ${flux_ver#v}
Description: Library for the InfluxData Flux engine
Libs: -L\${libdir} -lflux -ldl -lm
Cflags: -I\${includedir}
EOF
  rm -rf "$FLUXDIR"
  mv "$tmpdir" "$FLUXDIR"
fi

# ---------------------------------------------------------------- 3. influxd
log "go build $INFLUXD2_PKG (tags $INFLUXD2_TAGS); ~2 to 6 min on 2 cores, depending on the Go build cache"
t1=$(now)
# A Go build cache of its own: Go keys a cgo package by pkg-config's name, not by what it printed,
# so a shared cache could hold flux's package linked against another libflux dir.
GOCACHE="$CACHE/go-build" PKG_CONFIG="$PKG_CONFIG_BIN" PKG_CONFIG_LIBDIR="$FLUXDIR/pkgconfig" PKG_CONFIG_PATH= \
  go build -tags "$INFLUXD2_TAGS" \
    -ldflags "-s -w -X main.version=$INFLUXD2_VERSION -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -o "$SCRATCH/influxd" "$INFLUXD2_PKG" >"$SCRATCH/go-build.log" 2>&1 \
  || { show_tail "$SCRATCH/go-build.log" 60; die "go build of influxd failed"; }
log "influxd built in $(( $(now) - t1 ))s"

# ---------------------------------------------------------------- 4. check, cache
version_ok "$SCRATCH/influxd" \
  || die "the built influxd does not report $INFLUXD2_VERSION: $("$SCRATCH/influxd" version 2>&1 || true)"
info=$(go version -m "$SCRATCH/influxd")
for want in "$INFLUXD2_MODULE $INFLUXD2_VERSION" "$FLUX_MODULE $flux_ver"; do
  printf '%s\n' "$info" | grep -qE "^[[:space:]]+(mod|dep)[[:space:]]+${want% *}[[:space:]]+${want#* }[[:space:]]+h1:" \
    || die "the built influxd's build info does not name '$want h1:...'"
done
tmp=$CACHE/.influxd.tmp.$$
cp "$SCRATCH/influxd" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$BIN"
log "$("$BIN" version) at $BIN, built in $(( $(now) - t0 ))s"
echo "$BIN"
