#!/usr/bin/env bash
# The library's tests on targets unlike the x86-64 host, under qemu-user:
#
#   armv7-unknown-linux-gnueabihf  32-bit, little-endian: the word size of the
#       ESP32-C3 (riscv32imc), so the 32-bit masking loop and the portable
#       (non-SIMD) kernel really run, and every usize is 32 bits.
#   s390x-unknown-linux-gnu        64-bit, big-endian: the only byte-order
#       dependent code (the 64-bit masking words) and every to/from_be_bytes
#       of the frame header run on a big-endian machine.
#
# Each target runs the unit tests and all integration tests (doc tests cannot
# run cross), twice: the no_std core alone (--no-default-features) and the
# host build with the embedded-io adapters on top of the default features
# (a superset of plain `cargo test`). lwIP is left out: it needs a cross
# build of liblwip.
#
# Installs what it lacks (Debian's cross gcc + libc, qemu-user, the rustup
# targets), prints every command, stops at the first failure.
# Usage: scripts/cross-test.sh [TRIPLE...]   (default: both targets)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
run() { printf '+ %s\n' "$*"; "$@"; }
doing=setup
trap 'echo; echo "cross-test FAILED ($doing) at line $LINENO: $BASH_COMMAND" >&2' ERR

# triple | gcc/sysroot prefix | qemu | Debian packages
TABLE="
armv7-unknown-linux-gnueabihf|arm-linux-gnueabihf|qemu-arm|gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
s390x-unknown-linux-gnu|s390x-linux-gnu|qemu-s390x|gcc-s390x-linux-gnu libc6-dev-s390x-cross
"
if [ $# -eq 0 ]; then
  set -- armv7-unknown-linux-gnueabihf s390x-unknown-linux-gnu
fi

row() {
  local line
  line=$(printf '%s\n' "$TABLE" | grep "^$1|") || { echo "unknown target: $1" >&2; exit 2; }
  IFS='|' read -r TRIPLE PREFIX QEMU PKGS <<<"$line"
}

# What is missing, installed in one go.
missing=()
for t in "$@"; do
  row "$t"
  if ! { command -v "$QEMU" && command -v "$PREFIX-gcc" && [ -d "/usr/$PREFIX/lib" ]; } >/dev/null; then
    read -r -a pkgs <<<"$PKGS"
    missing+=("${pkgs[@]}")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user "${missing[@]}"
fi
installed=$(rustup target list --installed)
for t in "$@"; do
  grep -qx "$t" <<<"$installed" || run rustup target add "$t"
done

summary=()
for t in "$@"; do
  row "$t"
  var=CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$TRIPLE")
  run "$QEMU" --version
  for features in "--no-default-features --features server,client,sha1" "--features embedded-io,embedded-io-async"; do
    doing="cargo test --target $TRIPLE $features"
    log=target/cross-test.log
    mkdir -p target
    # shellcheck disable=SC2086
    run env "${var}_LINKER=$PREFIX-gcc" "${var}_RUNNER=$QEMU -L /usr/$PREFIX" \
      cargo test --target "$TRIPLE" $features --lib --tests 2>&1 | tee "$log"
    counts=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")
    summary+=("$TRIPLE $features -> $counts")
  done
done

printf '\n'
printf 'cross-test %s\n' "${summary[@]}"
