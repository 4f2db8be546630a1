//! sansws and embedded-websocket on a 32-bit RISC-V core (riscv32imc, the
//! ESP32-C3's ISA) in `qemu-system-riscv32 -machine virt`: RFC 6455
//! examples, both handshakes, frame decoding, masking and the close
//! handshake, every result asserted (a wrong one exits non-zero), with the
//! instructions retired (`minstret`) per job and the peak stack (painted)
//! of each library's run. Output and exit status through semihosting.
//!
//! Run: `bash scripts/device-bench.sh` (or `cargo run --release` here).
#![no_std]
#![no_main]

mod frames;
mod ours;
mod rt;
mod theirs;

use core::hint::black_box;

use sansws::conn::{Config, Connection, Instant};

use frames::{HANDSHAKES, INPUT_CAP, LARGE_COUNT, LARGE_LEN, MASK_ROUNDS, SMALL_COUNT, SMALL_LEN};

/// Big buffers live here, not on the stack, so the stack peak is each
/// library's own (plus the same small harness frames).
struct Buffers {
    /// A prepared input, never changed by a job.
    pristine: [u8; INPUT_CAP],
    /// What a job decodes from (sansws unmasks in place).
    work: [u8; INPUT_CAP],
    /// 64 KiB payloads and frames for the RFC examples.
    src: [u8; 65536],
    big: [u8; 65536 + 16],
    /// embedded-websocket's `to` buffer.
    to: [u8; 65536 + 16],
}

static mut BUFFERS: Buffers = Buffers {
    pristine: [0; INPUT_CAP],
    work: [0; INPUT_CAP],
    src: [0; 65536],
    big: [0; 65536 + 16],
    to: [0; 65536 + 16],
};

/// Instructions retired by `f` (less the cost of reading the counter).
#[inline(always)]
fn count(f: impl FnOnce()) -> u64 {
    let a = rt::instret();
    f();
    let b = rt::instret();
    b - a
}

/// What one library's run measured (instructions; stack in bytes).
#[derive(Default, Clone, Copy)]
struct Results {
    small_frame: f64,
    large_frame: f64,
    large_frame_unmasked: Option<f64>,
    kib_masked: Option<f64>,
    server_handshake: f64,
    client_handshake: f64,
    encode_client_kib: f64,
    close: f64,
    stack: usize,
}

/// Copies `len` bytes of the prepared input into the work buffer (outside
/// the counted region).
fn fresh<'a>(pristine: &[u8], work: &'a mut [u8], len: usize) -> &'a mut [u8] {
    work[..len].copy_from_slice(&pristine[..len]);
    &mut work[..len]
}

#[inline(never)]
fn run_ours(b: &mut Buffers, overhead: u64) -> Results {
    let mut r = Results::default();
    ours::rfc_examples(&mut b.src, &mut b.big);
    println!("sansws: RFC 6455 section 5.7 examples ok");

    r.server_handshake = (count(|| ours::server_handshake(black_box(HANDSHAKES))) - overhead)
        as f64
        / HANDSHAKES as f64;
    r.client_handshake = (count(|| ours::client_handshake(black_box(HANDSHAKES))) - overhead)
        as f64
        / HANDSHAKES as f64;
    println!("sansws: handshakes ok");

    for (n, len, slot) in [
        (SMALL_COUNT, SMALL_LEN, &mut r.small_frame),
        (LARGE_COUNT, LARGE_LEN, &mut r.large_frame),
    ] {
        let size = frames::binary_frames(&mut b.pristine, n, len, true);
        let input = fresh(&b.pristine, &mut b.work, size);
        let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
        *slot = (count(|| ours::decode::<false>(&mut conn, input, black_box(n), black_box(len)))
            - overhead) as f64
            / n as f64;
        let input = fresh(&b.pristine, &mut b.work, size);
        let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
        ours::decode::<true>(&mut conn, input, black_box(n), black_box(len));
        println!("sansws: {n} masked {len}-byte frames decoded, every payload checked");
    }

    // Masking 1 KiB in place, MASK_ROUNDS times (even: back to the start).
    let key = frames::key(7);
    let buf = &mut b.work[..1024];
    for (j, x) in buf.iter_mut().enumerate() {
        *x = frames::pattern(3, j);
    }
    // The reference in a static buffer: no harness array on this stack.
    let reference = &mut b.big[..1024];
    reference.copy_from_slice(buf);
    frames::mask_reference(reference, key);
    sansws::wire::apply_mask(buf, key, 0);
    assert_eq!(&buf[..], &reference[..], "apply_mask against the reference");
    sansws::wire::apply_mask(buf, key, 0);
    let masked = count(|| ours::mask(buf, black_box(key), black_box(MASK_ROUNDS))) - overhead;
    r.kib_masked = Some(masked as f64 / MASK_ROUNDS as f64);
    for (j, &x) in buf.iter().enumerate() {
        assert_eq!(x, frames::pattern(3, j), "masked an even number of times");
    }
    println!("sansws: 1 KiB masking ok");

    let payload = &mut b.src[..LARGE_LEN];
    for (j, x) in payload.iter_mut().enumerate() {
        *x = frames::pattern(0, j);
    }
    let mut client = Connection::client(Config::DEFAULT, ours::keys(), Instant::ZERO);
    let mut written = 0;
    r.encode_client_kib = (count(|| {
        written = ours::encode_client(&mut client, payload, &mut b.work, black_box(LARGE_COUNT))
    }) - overhead) as f64
        / LARGE_COUNT as f64;
    check_client_frames(&mut b.work[..written], LARGE_COUNT, LARGE_LEN);
    println!("sansws: {LARGE_COUNT} masked 1 KiB client frames encoded, every one checked");

    let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
    let mut out = [0u8; 16];
    r.close = (count(|| ours::close(&mut conn, &mut out)) - overhead) as f64;
    println!("sansws: close handshake ok");
    r
}

#[inline(never)]
fn run_theirs(b: &mut Buffers, overhead: u64) -> Results {
    let mut r = Results::default();
    theirs::rfc_examples(&mut b.src, &mut b.big, &mut b.to);
    println!("embedded-websocket: RFC 6455 section 5.7 examples ok");

    r.server_handshake = (count(|| theirs::server_handshake(black_box(HANDSHAKES))) - overhead)
        as f64
        / HANDSHAKES as f64;
    r.client_handshake = (count(|| theirs::client_handshake(black_box(HANDSHAKES))) - overhead)
        as f64
        / HANDSHAKES as f64;
    println!("embedded-websocket: handshakes ok");

    let mut unmasked = 0.0;
    for (n, len, masked, slot) in [
        (SMALL_COUNT, SMALL_LEN, true, &mut r.small_frame),
        (LARGE_COUNT, LARGE_LEN, true, &mut r.large_frame),
        (LARGE_COUNT, LARGE_LEN, false, &mut unmasked),
    ] {
        let size = frames::binary_frames(&mut b.pristine, n, len, masked);
        let to = &mut b.to[..LARGE_LEN];
        let input = fresh(&b.pristine, &mut b.work, size);
        let mut ws = theirs::open_server();
        *slot =
            (count(|| theirs::decode::<false>(&mut ws, input, to, black_box(n), black_box(len)))
                - overhead) as f64
                / n as f64;
        let input = fresh(&b.pristine, &mut b.work, size);
        let mut ws = theirs::open_server();
        theirs::decode::<true>(&mut ws, input, to, black_box(n), black_box(len));
        let how = if masked { "masked" } else { "unmasked" };
        println!("embedded-websocket: {n} {how} {len}-byte frames decoded, every payload checked");
    }
    r.large_frame_unmasked = Some(unmasked);

    let payload = &mut b.src[..LARGE_LEN];
    for (j, x) in payload.iter_mut().enumerate() {
        *x = frames::pattern(0, j);
    }
    let mut client = theirs::open_client();
    let mut written = 0;
    r.encode_client_kib = (count(|| {
        written = theirs::encode_client(&mut client, payload, &mut b.work, black_box(LARGE_COUNT))
    }) - overhead) as f64
        / LARGE_COUNT as f64;
    check_client_frames(&mut b.work[..written], LARGE_COUNT, LARGE_LEN);
    println!(
        "embedded-websocket: {LARGE_COUNT} masked 1 KiB client frames encoded, every one checked"
    );

    let mut ws = theirs::open_server();
    let mut out = [0u8; 16];
    r.close = (count(|| theirs::close(&mut ws, &mut out, &mut b.to)) - overhead) as f64;
    println!("embedded-websocket: close handshake ok");
    r
}

/// Checks `count` masked client frames of `len`-byte payloads (payload
/// `pattern(0, _)`), unmasking them in place with the reference mask.
fn check_client_frames(mut out: &mut [u8], count: usize, len: usize) {
    assert!(len == 1024);
    for i in 0..count {
        assert_eq!(
            out[..4],
            [0x82, 0xfe, 0x04, 0x00],
            "client frame {i}: header"
        );
        let key = [out[4], out[5], out[6], out[7]];
        let (frame, rest) = out.split_at_mut(8 + len);
        frames::mask_reference(&mut frame[8..], key);
        frames::check_payload(0, &frame[8..], len);
        out = rest;
    }
    assert!(out.is_empty());
}

/// Peak stack bytes of `f` alone.
#[inline(always)]
fn stack_of(f: impl FnOnce()) -> usize {
    let base = rt::paint_stack();
    f();
    rt::stack_peak(base)
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b
}

#[unsafe(no_mangle)]
extern "C" fn device_main() -> ! {
    // SAFETY: the only reference to BUFFERS, taken once.
    let b = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };

    // The counter must count instructions: a loop of known length.
    let overhead = count(|| {});
    let spin = count(|| {
        for i in 0..1000u32 {
            black_box(i);
        }
    });
    println!("minstret: empty region {overhead} instructions, a 1000-turn loop {spin}");
    assert!(
        (2000..20000).contains(&spin),
        "minstret does not count instructions (run QEMU with -icount shift=0)"
    );

    let base = rt::paint_stack();
    let mut ours = run_ours(b, overhead);
    ours.stack = rt::stack_peak(base);
    let base = rt::paint_stack();
    let mut theirs = run_theirs(b, overhead);
    theirs.stack = rt::stack_peak(base);

    // What embedded-websocket's masking costs: its 1 KiB masked frame's
    // decode less its 1 KiB unmasked frame's (it has no masking function).
    theirs.kib_masked = theirs.large_frame_unmasked.map(|u| theirs.large_frame - u);

    println!();
    println!(
        "riscv32imc, qemu-system-riscv32 virt, opt-level \"s\", fat LTO, 1 codegen unit, panic=abort; \
         instructions retired (minstret), stack painted ({} KiB)",
        rt::stack_size() / 1024
    );
    println!();
    println!("| per | sansws | embedded-websocket 0.9.5 | ratio |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, a: f64, b: f64| {
        println!("| {name} | {a:.1} | {b:.1} | {:.2}x |", ratio(a, b));
    };
    row(
        "16-byte masked frame decoded (server)",
        ours.small_frame,
        theirs.small_frame,
    );
    row(
        "1 KiB masked frame decoded (server)",
        ours.large_frame,
        theirs.large_frame,
    );
    row(
        "KiB masked (sansws: apply_mask; e-w: 1 KiB masked decode less unmasked)",
        ours.kib_masked.unwrap(),
        theirs.kib_masked.unwrap(),
    );
    row(
        "server handshake (parse request, write 101)",
        ours.server_handshake,
        theirs.server_handshake,
    );
    row(
        "client handshake (write request, check 101)",
        ours.client_handshake,
        theirs.client_handshake,
    );
    row(
        "1 KiB masked client frame encoded (copy + mask)",
        ours.encode_client_kib,
        theirs.encode_client_kib,
    );
    row(
        "close handshake (send close, read echo)",
        ours.close,
        theirs.close,
    );
    println!(
        "| peak stack bytes (all jobs) | {} | {} | {:.2}x |",
        ours.stack,
        theirs.stack,
        ours.stack as f64 / theirs.stack as f64
    );
    let (cs, cc) = (
        size_of::<Connection>(),
        size_of::<Connection<fn() -> [u8; 4]>>(),
    );
    let (ws, wc) = (
        size_of::<embedded_websocket::WebSocketServer>(),
        size_of::<embedded_websocket::WebSocketClient<theirs::Rng>>(),
    );
    println!(
        "| connection state bytes (size_of; server / client) | {cs} / {cc} | {ws} / {wc} | {:.2}x |",
        cs as f64 / ws as f64
    );
    println!(
        "| (e-w: 1 KiB unmasked frame decoded, for the masking row) | | {:.1} | |",
        theirs.large_frame_unmasked.unwrap()
    );
    if PER_JOB_STACK {
        per_job_stack(b);
    }

    println!();
    println!("device bench: all checks passed");
    rt::exit(true)
}

/// Prints the per-job stack table (a constant, so turning it off shows it
/// does not move the counts above).
const PER_JOB_STACK: bool = true;

#[inline(never)]
fn per_job_stack(b: &mut Buffers) {
    // Where the stack goes: each job alone, painted afresh (the decode and
    // close jobs on connections opened before the paint, as above).
    println!();
    println!("| peak stack bytes, job alone | sansws | embedded-websocket 0.9.5 |");
    println!("|---|---:|---:|");
    let a = stack_of(|| ours::server_handshake(black_box(1)));
    let z = stack_of(|| theirs::server_handshake(black_box(1)));
    println!("| server handshake | {a} | {z} |");
    let a = stack_of(|| ours::client_handshake(black_box(1)));
    let z = stack_of(|| theirs::client_handshake(black_box(1)));
    println!("| client handshake | {a} | {z} |");
    let size = frames::binary_frames(&mut b.pristine, SMALL_COUNT, SMALL_LEN, true);
    let input = fresh(&b.pristine, &mut b.work, size);
    let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
    let a = stack_of(|| {
        ours::decode::<false>(
            &mut conn,
            input,
            black_box(SMALL_COUNT),
            black_box(SMALL_LEN),
        )
    });
    let input = fresh(&b.pristine, &mut b.work, size);
    let mut ws = theirs::open_server();
    let to = &mut b.to[..LARGE_LEN];
    let z = stack_of(|| {
        theirs::decode::<false>(
            &mut ws,
            input,
            to,
            black_box(SMALL_COUNT),
            black_box(SMALL_LEN),
        )
    });
    println!("| decode 16-byte frames | {a} | {z} |");
    let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
    let mut out = [0u8; 16];
    let a = stack_of(|| ours::close(&mut conn, &mut out));
    let mut ws = theirs::open_server();
    let z = stack_of(|| theirs::close(&mut ws, &mut out, &mut b.to));
    println!("| close handshake | {a} | {z} |");
    let a = stack_of(|| ours::rfc_examples(&mut b.src, &mut b.big));
    let z = stack_of(|| theirs::rfc_examples(&mut b.src, &mut b.big, &mut b.to));
    println!("| RFC 5.7 examples (harness included) | {a} | {z} |");
}
