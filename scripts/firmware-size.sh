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
# Stable toolchain, no -Zbuild-std: what a firmware crate gets by default.
set -euo pipefail
cd "$(dirname "$0")/.."
target=riscv32imc-unknown-none-elf
build() { # opt name example features
  local opt=$1 name=$2 example=$3 features=$4
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_LTO=fat \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
  CARGO_TARGET_DIR=target/size-$opt-${features//,/-} \
    cargo build -q --release --no-default-features --features "$features" --target $target --example "$example"
  local elf=target/size-$opt-${features//,/-}/$target/release/examples/$example
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
build z "core_only both stub-sha1" core_only server,client
build z "core_only server stub-sha1" core_only server
build z "core_only client stub-sha1" core_only client
