#!/usr/bin/env bash
# .text / .rodata of the no_std examples for the ESP32-C3
# (riscv32imc-unknown-none-elf), release, fat LTO, one codegen unit,
# panic=abort, at opt-level "z" (and "s" for the two main builds). One
# line per build:
#   core_only both     both roles, the sha1 crate (examples/core_only.rs)
#   core_only server   the server role alone (feature `server`)
#   core_only client   the client role alone
#   ... stub-sha1      the same without the sha1 crate: the handshake's
#                      SHA-1 is the caller's (a chip's accelerator), here
#                      a stand-in that costs a call
#   firmware           examples/firmware.rs: the embedded-io adapter, both
#                      roles
#   embedded-websocket both / server
#                      core_only's job (same canned bytes, same frames
#                      written) through embedded-websocket 0.9.5 with the
#                      sha1/base64/httparse it pulls: benches/size-peer/
#                      (its own workspace and Cargo.lock), the server, and
#                      the client with feature `client`; `cargo run
#                      --release [--features client]` there checks the job
#                      on the host
# Stable toolchain, no -Zbuild-std: what a firmware crate gets by default.
#
# FLAGS=1 adds the firmware-side flags (needs the nightly toolchain with
# rust-src): core rebuilt with the image (-Zbuild-std=core), panics that
# abort without a message (panic = "immediate-abort"), and linker
# relaxation (-C target-feature=+relax: a call in 4 bytes instead of 8).
set -euo pipefail
cd "$(dirname "$0")/.."
target=riscv32imc-unknown-none-elf
build() { # opt name example features [flags: std | abort | relax]
  local opt=$1 name=$2 example=$3 features=$4 flags=${5:-std}
  local dir=target/size-$opt-${features//,/-}-$flags
  local cargo=(cargo) panic=abort rustflags=${RUSTFLAGS:-}
  case $flags in
    abort) cargo=(cargo +nightly -Zbuild-std=core -Zpanic-immediate-abort) panic=immediate-abort ;;
    relax) cargo=(cargo +nightly -Zbuild-std=core -Zpanic-immediate-abort) panic=immediate-abort
           rustflags="$rustflags -C target-feature=+relax" ;;
  esac
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_LTO=fat \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=$panic \
  CARGO_TARGET_DIR=$dir RUSTFLAGS="$rustflags" \
    "${cargo[@]}" build -q --release --no-default-features --features "$features" --target $target --example "$example" \
    2> >(grep -v -e "not stably supported" -e "unstable feature specified" -e "^ *|" -e "^ *= note" -e "^\s*$" -e "^warning: unknown and unstable" >&2)
  report $opt "$name" $dir/$target/release/examples/$example
}
build_peer() { # opt name features: benches/size-peer (embedded-websocket)
  local opt=$1 name=$2 features=$3
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_LTO=fat \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
  CARGO_TARGET_DIR=target/size-$opt-embedded-websocket-$features \
    cargo build -q --release --locked --manifest-path benches/size-peer/Cargo.toml --target $target --features "$features"
  report $opt "$name" target/size-$opt-embedded-websocket-$features/$target/release/sansws-size-peer
}
report() { # opt name elf
  local opt=$1 name=$2 elf=$3
  readelf -SW "$elf" | awk -v opt="$opt" -v name="$name" '
    { for (i = 1; i <= NF; i++) if ($i == ".text" || $i == ".rodata") sz[$i] = $(i + 4) }
    END { printf "opt-level=%s %-28s .text=%d .rodata=%d\n", opt, name, ("0x" sz[".text"]) + 0, ("0x" sz[".rodata"]) + 0 }'
}
for opt in z s; do
  build $opt "core_only both" core_only server,client,sha1
  build $opt "firmware" firmware embedded-io,server,client,sha1
done
build z "core_only server" core_only server,sha1
build z "core_only client" core_only client,sha1
build_peer z "embedded-websocket both" client
build_peer z "embedded-websocket server" ""
build z "core_only both stub-sha1" core_only server,client
build z "core_only server stub-sha1" core_only server
build z "core_only client stub-sha1" core_only client
if [ "${FLAGS:-0}" = 1 ]; then
  for spec in "both:server,client,sha1" "server:server,sha1" "firmware:embedded-io,server,client,sha1"; do
    what=${spec%%:*} features=${spec#*:} example=core_only
    [ "$what" = firmware ] && example=firmware
    build z "$what +immediate-abort" $example "$features" abort
    build z "$what +immediate-abort +relax" $example "$features" relax
  done
fi
