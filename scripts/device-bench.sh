#!/usr/bin/env bash
# The core on a 32-bit RISC-V core: builds benches/device for
# riscv32imc-unknown-none-elf (the ESP32-C3's ISA, no atomics) and runs it
# in qemu-system-riscv32 (machine virt, semihosting). The program asserts
# every result (RFC 6455 examples, both handshakes, decoding, masking, the
# close handshake, through sansws and through embedded-websocket) and
# prints instructions retired and peak stack side by side; a wrong result
# makes QEMU exit non-zero, and so this script. Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/../benches/device"

if ! command -v qemu-system-riscv32 >/dev/null 2>&1; then
  echo "qemu-system-riscv32 not found: install Debian's qemu-system-misc (apt-get install qemu-system-misc)" >&2
  exit 1
fi

# The target, rustflags (link.x) and build settings are in
# benches/device/.cargo/config.toml and Cargo.toml (opt-level "s", fat
# LTO, one codegen unit, panic=abort).
cargo build --release
elf=${CARGO_TARGET_DIR:-target}/riscv32imc-unknown-none-elf/release/sansws-device

# -icount shift=0: minstret counts instructions (without it, QEMU's
# minstret follows the host clock). Semihosting writes to stderr: merge it.
rc=0
timeout 120 qemu-system-riscv32 -machine virt -m 64M -icount shift=0 -nographic \
  -bios none -semihosting-config enable=on,target=native -kernel "$elf" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "device bench FAILED: qemu-system-riscv32 exited $rc (124: timed out)" >&2
  exit 1
fi
