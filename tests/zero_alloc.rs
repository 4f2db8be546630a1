//! The core's receive and send paths allocate nothing: a counting global
//! allocator sees zero allocations across a whole exchange.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sansws::conn::{Config, Connection, DataKind, Event, Instant, MessagePart};
use sansws::wire::CloseCode;

struct Counting;

thread_local! {
    // Only the test's own thread counts, into its own counter: the test
    // harness and the other tests allocate on their threads meanwhile (a
    // shared counter once caught another test's allocation under load).
    // Const-initialised, so reading them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    if COUNTING.with(Cell::get) {
        ALLOCS.with(|n| n.set(n.get() + 1));
        BYTES.with(|n| n.set(n.get() + size));
    }
}

/// This thread's bytes allocated so far (while counting).
#[cfg(feature = "std")]
fn allocated_bytes() -> usize {
    BYTES.with(Cell::get)
}

/// This thread's allocations so far (while counting).
fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
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
    let before = allocs();
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
                .encode_in_place(
                    MessagePart::Whole(DataKind::Binary),
                    &mut payload,
                    &mut header,
                )
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
    let after = allocs();
    COUNTING.with(|c| c.set(false));
    assert!(server.is_closed() && client.is_closed());
    assert_eq!(after - before, 0, "allocations in the core");
    // The counter does count: this test can fail.
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    assert!(allocs() > after, "{v:?}");
}

/// The std adapter's streaming path (feature `std`).
#[cfg(feature = "std")]
mod std_adapter {
    use super::{COUNTING, Event, allocated_bytes, allocs};

    /// An in-memory transport: reads from a slice, counts writes.
    struct Mem<'a> {
        input: &'a [u8],
        pos: usize,
        written: usize,
    }

    impl std::io::Read for Mem<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = (self.input.len() - self.pos).min(out.len());
            out[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl std::io::Write for Mem<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written += buf.len();
            Ok(buf.len())
        }
        fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            let n = bufs.iter().map(|b| b.len()).sum();
            self.written += n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl sansws::adapter::std_net::Transport for Mem<'_> {}

    /// A server WebSocket reading `input`, with the default options.
    fn server_over(input: &[u8]) -> sansws::adapter::std_net::WebSocket<Mem<'_>> {
        let io = Mem {
            input,
            pos: 0,
            written: 0,
        };
        sansws::adapter::std_net::WebSocket::from_raw(
            io,
            sansws::conn::Role::Server,
            &sansws::adapter::std_net::Options::default(),
            &[],
            Box::new(|| [0; 4]),
        )
    }

    #[test]
    fn no_allocation_per_message_in_the_std_adapter_streaming_path() {
        // 10,000 masked binary frames of 100 bytes, as a client sends them.
        let input = client_frames(10_000, 100);
        let mut ws = server_over(&input);
        let mut echo = [0u8; 100];
        // The first batch sizes the buffers (the read buffer, and the
        // batch its echoes are held in until it runs dry: one batch is
        // ~640 messages here); count from the 1,000th on.
        let mut seen = 0;
        let mut before = 0;
        loop {
            let mut len = None;
            let got = ws
                .read_event(|e| {
                    if let Event::Data(d) = e {
                        echo[d.offset..d.offset + d.payload.len()].copy_from_slice(d.payload);
                        if d.is_message_end() {
                            len = Some(d.frame_len);
                        }
                    }
                })
                .unwrap();
            if got.is_none() {
                break;
            }
            if let Some(n) = len {
                ws.send_binary(&echo[..n]).unwrap();
                seen += 1;
                if seen == 1_000 {
                    COUNTING.with(|c| c.set(true));
                    before = allocs();
                }
                if seen == 10_000 {
                    break;
                }
            }
        }
        let after = allocs();
        COUNTING.with(|c| c.set(false));
        assert_eq!(seen, 10_000);
        assert_eq!(ws.get_ref().written, 10_000 * 102, "every echo written");
        assert_eq!(after - before, 0, "allocations over 9,000 messages");
    }

    /// `count` masked binary frames of `len` bytes, as a client sends them.
    fn client_frames(count: u32, len: usize) -> Vec<u8> {
        use sansws::wire::{FrameHeader, OpCode, Rsv, apply_mask};
        let mut input = Vec::new();
        for i in 0..count {
            let key = i.wrapping_mul(2_654_435_761).to_le_bytes();
            let h = FrameHeader {
                fin: true,
                rsv: Rsv::NONE,
                opcode: OpCode::Binary,
                mask: Some(key),
                payload_len: len as u64,
            };
            let mut hdr = [0u8; 14];
            let n = h.emit(&mut hdr).unwrap();
            input.extend_from_slice(&hdr[..n]);
            let at = input.len();
            input.extend((0..len).map(|j| (i as usize + j) as u8));
            apply_mask(&mut input[at..], key, 0);
        }
        input
    }

    /// Reads `count` messages of `len` bytes with `read()`, checking each,
    /// and returns the allocations counted after the first.
    fn read_allocations(count: u32, len: usize) -> usize {
        use sansws::message::Message;
        let input = client_frames(count, len);
        let mut ws = server_over(&input);
        let mut before = 0;
        for i in 0..count {
            let Some(Message::Binary(b)) = ws.read().unwrap() else {
                panic!("message {i}: not binary");
            };
            assert_eq!(b.len(), len);
            assert!(
                b.iter()
                    .enumerate()
                    .all(|(j, &x)| x == (i as usize + j) as u8)
            );
            drop(b);
            if i == 0 {
                COUNTING.with(|c| c.set(true));
                before = allocs();
            }
        }
        let after = allocs();
        COUNTING.with(|c| c.set(false));
        after - before
    }

    #[test]
    fn single_frame_messages_from_read_are_handed_out_without_allocating() {
        // 16-byte messages: thousands share one read buffer, reclaimed in
        // place once they are dropped.
        let small = read_allocations(20_000, 16);
        assert_eq!(small, 0, "allocations over 19,999 16-byte messages");
        // 64 KiB messages: each is kept in place while it arrives (the
        // buffer grows once to hold one), then shared out.
        let large = read_allocations(200, 64 << 10);
        assert!(large <= 2, "{large} allocations over 199 64 KiB messages");
    }

    /// A header announcing a 16 MiB frame, and one byte of it, make the
    /// reader allocate nothing near 16 MiB: the buffer grows as the bytes
    /// arrive, not ahead of them.
    #[test]
    fn a_header_alone_does_not_make_the_reader_allocate_its_frame() {
        let mut input = vec![0x82, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4];
        input.push(0x55);
        let mut ws = server_over(&input);
        COUNTING.with(|c| c.set(true));
        let before = allocated_bytes();
        // The input ends mid-frame: the connection ends, nothing is read.
        assert!(ws.read().unwrap().is_none());
        let grown = allocated_bytes() - before;
        COUNTING.with(|c| c.set(false));
        assert!(
            grown < 1 << 20,
            "{grown} bytes allocated for a 15-byte input"
        );
    }
}
