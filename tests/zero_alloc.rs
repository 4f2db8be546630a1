//! The core's receive and send paths allocate nothing: a counting global
//! allocator sees zero allocations across a whole exchange.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use sansws::conn::{Config, Connection, DataKind, Event, Instant};
use sansws::wire::CloseCode;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the test's own thread counts: the test harness allocates on its
    // own threads meanwhile. Const-initialised, so reading it never
    // allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_in_the_core_send_and_receive_paths() {
    // Buffers are set up before counting starts.
    let mut wire = [0u8; 1 << 16];
    let mut out = [0u8; 256];
    let mut payload = [0x5au8; 1000];
    let mut header = [0u8; 14];
    let mut seed = 7u32;
    let keys = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        seed.to_le_bytes()
    };

    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut client = Connection::client(Config::DEFAULT, keys, Instant::ZERO);
    let mut server = Connection::server(Config::DEFAULT, Instant::ZERO);
    let mut at = 0;
    for i in 0..1000 {
        at += client.send_text("hello 0000", &mut wire[at..]).unwrap();
        if i % 10 == 0 {
            at += client
                .send_binary(&payload[..100], &mut wire[at..])
                .unwrap();
            at += client
                .send_fragment(DataKind::Text, b"frag", false, &mut wire[at..])
                .unwrap();
            client.ping(b"p").unwrap();
            while let Some(n) = client
                .poll_transmit(Instant::ZERO, &mut wire[at..])
                .unwrap()
            {
                at += n;
            }
            at += client
                .send_fragment(DataKind::Text, b"ment", true, &mut wire[at..])
                .unwrap();
            let h = client
                .encode_in_place(DataKind::Binary, true, &mut payload, &mut header)
                .unwrap();
            wire[at..at + h].copy_from_slice(&header[..h]);
            wire[at + h..at + h + payload.len()].copy_from_slice(&payload);
            at += h + payload.len();
        }
        // The server reads everything, in two pieces per round.
        let mid = at / 2;
        let mut received = 0usize;
        for (s, e) in [(0, mid), (mid, at)] {
            let mut pos = s;
            while pos < e {
                let r = server.handle_read(&mut wire[pos..e]).unwrap();
                pos += r.consumed;
                if let Some(Event::Data(d)) = r.event {
                    received += d.payload.len();
                }
            }
        }
        assert!(received > 0);
        while let Some(n) = server.poll_transmit(Instant::ZERO, &mut out).unwrap() {
            let mut pos = 0;
            while pos < n {
                pos += client.handle_read(&mut out[pos..n]).unwrap().consumed;
            }
        }
        at = 0;
    }
    server.close(CloseCode::NORMAL, "bye").unwrap();
    let n = server
        .poll_transmit(Instant::ZERO, &mut out)
        .unwrap()
        .unwrap();
    client.handle_read(&mut out[..n]).unwrap();
    let n = client
        .poll_transmit(Instant::ZERO, &mut out)
        .unwrap()
        .unwrap();
    server.handle_read(&mut out[..n]).unwrap();
    let after = ALLOCS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(false));
    assert!(server.is_closed() && client.is_closed());
    assert_eq!(after - before, 0, "allocations in the core");
    // The counter does count: this test can fail.
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    assert!(ALLOCS.load(Ordering::SeqCst) > after, "{v:?}");
}
