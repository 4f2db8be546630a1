//! Masking throughput against memcpy of the same bytes, measured in the same
//! group (the physical reference: masking reads and writes each byte once,
//! as a copy does).
//!
//! `cargo bench --bench mask`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sansws::wire::{apply_mask, apply_mask_bytewise};

const SIZES: [usize; 7] = [
    16,
    125,
    1024,
    4096,
    64 * 1024,
    1024 * 1024,
    16 * 1024 * 1024,
];
#[path = "support/u64_loop.rs"]
mod u64_loop;
use u64_loop::u64_loop;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mask(c: &mut Criterion) {
    for size in SIZES {
        let mut g = c.benchmark_group(format!("mask/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        // One spare byte in front gives the unaligned start.
        let src = vec![0x5au8; size + 64];
        let mut dst = vec![0u8; size + 64];
        let mut buf = vec![0x5au8; size + 64];

        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst[..size].copy_from_slice(black_box(&src[..size]));
                black_box(&dst);
            })
        });
        for offset in [0usize, 1] {
            let name = if offset == 0 { "aligned" } else { "unaligned" };
            g.bench_with_input(BenchmarkId::new("apply_mask", name), &offset, |b, &o| {
                b.iter(|| black_box(apply_mask(black_box(&mut buf[o..o + size]), KEY, 0)))
            });
        }
        g.bench_function("u64 loop", |b| {
            b.iter(|| u64_loop(black_box(&mut buf[..size]), KEY))
        });
        g.bench_function("bytewise", |b| {
            b.iter(|| black_box(apply_mask_bytewise(black_box(&mut buf[..size]), KEY, 0)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = mask
}
criterion_main!(benches);
