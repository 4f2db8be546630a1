#!/usr/bin/env bash
# .text / .rodata of the no_std examples for the ESP32-C3
# (riscv32imc-unknown-none-elf), release, fat LTO, one codegen unit,
# panic=abort, at opt-level "s" and "z". Prints one line per build.
set -euo pipefail
cd "$(dirname "$0")/.."
target=riscv32imc-unknown-none-elf
for opt in s z; do
  for spec in "core_only:" "firmware:--features embedded-io"; do
    name=${spec%%:*}
    features=${spec#*:}
    # shellcheck disable=SC2086
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
    CARGO_TARGET_DIR=target/size-$opt \
      cargo build -q --release --no-default-features $features --target $target --example "$name"
    elf=target/size-$opt/$target/release/examples/$name
    readelf -SW "$elf" | awk -v opt="$opt" -v name="$name" '
      { for (i = 1; i <= NF; i++) if ($i == ".text" || $i == ".rodata") sz[$i] = $(i + 4) }
      END { printf "opt-level=%s %-10s .text=%d .rodata=%d\n", opt, name, ("0x" sz[".text"]) + 0, ("0x" sz[".rodata"]) + 0 }'
  done
done
