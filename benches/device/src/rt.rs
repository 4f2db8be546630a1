//! The smallest runtime for qemu-system-riscv32 `virt` with `-bios none`:
//! `_start` (stack pointer, .bss zeroed, .data copied), a trap handler,
//! semihosting output and exit, a panic handler that reports and fails,
//! the instructions-retired counter, and stack painting.

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};

global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    .option push
    .option norelax
    la sp, _stack_top
    .option pop
    la t0, _trap
    csrw mtvec, t0
    la t0, _sbss
    la t1, _ebss
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  la t0, _sdata
    la t1, _edata
    la t2, _sidata
3:  bgeu t0, t1, 4f
    lw t3, 0(t2)
    sw t3, 0(t0)
    addi t0, t0, 4
    addi t2, t2, 4
    j 3b
4:  call device_main
5:  j 5b

    .section .text.trap, "ax"
    .balign 4
_trap:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call device_trap

    # The semihosting call: these three instructions, uncompressed, in one
    # page (RISC-V semihosting spec).
    .section .text.semihost, "ax"
    .balign 16
    .global semihost_call
semihost_call:
    .option push
    .option norvc
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    .option pop
    ret
"#
);

unsafe extern "C" {
    fn semihost_call(op: usize, arg: usize) -> usize;
    static mut _stack_bottom: u32;
    static mut _stack_top: u32;
}

const SYS_WRITE0: usize = 0x04;
const SYS_EXIT: usize = 0x18;
/// ADP_Stopped_ApplicationExit: QEMU exits 0.
const EXIT_OK: usize = 0x20026;
/// ADP_Stopped_RunTimeErrorUnknown: QEMU exits 1.
const EXIT_FAIL: usize = 0x20023;

/// Writes a NUL-terminated string to the host's stdout.
fn write0(s: &[u8]) {
    debug_assert_eq!(s.last(), Some(&0));
    // SAFETY: SYS_WRITE0 reads the string up to its NUL.
    unsafe { semihost_call(SYS_WRITE0, s.as_ptr() as usize) };
}

/// Ends the program: QEMU exits 0 if `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    // SAFETY: SYS_EXIT takes the reason code in a1 on 32-bit targets.
    unsafe { semihost_call(SYS_EXIT, if ok { EXIT_OK } else { EXIT_FAIL }) };
    // Not reached under QEMU; without semihosting, park the hart.
    loop {
        // SAFETY: waits for an interrupt, none of which is enabled.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

/// Line-buffered output through semihosting.
pub struct Out {
    buf: [u8; 256],
    len: usize,
}

impl Out {
    pub const fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }

    pub fn flush(&mut self) {
        if self.len > 0 {
            self.buf[self.len] = 0;
            write0(&self.buf[..=self.len]);
            self.len = 0;
        }
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Keep one byte for the NUL.
            if self.len == self.buf.len() - 1 {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

/// `println!` through semihosting.
#[macro_export]
macro_rules! println {
    () => {
        $crate::println!("")
    };
    ($($arg:tt)*) => {{
        let mut out = $crate::rt::Out::new();
        let _ = core::fmt::Write::write_fmt(&mut out, format_args!($($arg)*));
        let _ = core::fmt::Write::write_str(&mut out, "\n");
        out.flush();
    }};
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = Out::new();
    let _ = writeln!(out, "FAILED: {info}");
    out.flush();
    exit(false)
}

#[unsafe(no_mangle)]
extern "C" fn device_trap(mcause: usize, mepc: usize, mtval: usize) -> ! {
    let mut out = Out::new();
    let _ = writeln!(
        out,
        "FAILED: trap mcause={mcause:#x} mepc={mepc:#x} mtval={mtval:#x}"
    );
    out.flush();
    exit(false)
}

/// Instructions retired (the 64-bit `minstret`, read as its two halves).
#[inline(always)]
pub fn instret() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        // SAFETY: reading counters has no side effect.
        unsafe {
            asm!(
                "csrr {0}, minstreth",
                "csrr {1}, minstret",
                "csrr {2}, minstreth",
                out(reg) hi, out(reg) lo, out(reg) hi2,
                options(nomem, nostack)
            )
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

const PAINT: u32 = 0xdead_beef;
/// Left unpainted just below the caller's stack pointer (the painter's own
/// frame lives there).
const MARGIN: usize = 64;

fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register.
    unsafe { asm!("mv {0}, sp", out(reg) sp, options(nomem, nostack)) };
    sp
}

/// Paints the free stack (everything below the current stack pointer less
/// a margin); returns the stack pointer, the base the peak is measured from.
#[inline(never)]
pub fn paint_stack() -> usize {
    let sp = stack_pointer();
    let bottom = &raw mut _stack_bottom as usize;
    let mut p = bottom;
    while p < sp - MARGIN {
        // SAFETY: [bottom, sp - MARGIN) is stack nobody uses now.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    sp
}

/// Bytes of stack used below `base` since [`paint_stack`]: from `base` down
/// to the lowest word no longer holding the paint.
#[inline(never)]
pub fn stack_peak(base: usize) -> usize {
    let bottom = &raw mut _stack_bottom as usize;
    let mut p = bottom;
    // SAFETY: reads the stack region below the live frames.
    while p < base && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    assert!(p > bottom, "the stack overflowed its 64 KiB");
    base - p
}

/// The stack's size, from the linker script.
pub fn stack_size() -> usize {
    &raw mut _stack_top as usize - &raw mut _stack_bottom as usize
}
