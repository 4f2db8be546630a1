//! examples/core_only.rs's job through embedded-websocket 0.9.5 (see
//! src/lib.rs): the server, and with feature `client` the client too (as
//! core_only, a role left out counts as one message and a clean close; its
//! code is never referenced, so it is not linked). Bare metal (`target_os = "none"`): `_start` runs
//! it once and `black_box`es the result and every frame written. On a
//! host: `main` runs it and checks the results and the frames written.
#![cfg_attr(target_os = "none", no_std, no_main)]

use sansws_size_peer as size_peer;

/// (server's messages, client's messages, all closed cleanly).
fn run(buf: &mut [u8], out: &mut [u8], sent: &mut impl FnMut(&[u8])) -> (u32, u32, bool) {
    let (s, s_clean) = size_peer::server(buf, out, sent);
    #[cfg(feature = "client")]
    let (c, c_clean) = size_peer::client(buf, out, sent);
    #[cfg(not(feature = "client"))]
    let (c, c_clean) = (1, true);
    (s, c, s_clean && c_clean)
}

#[cfg(not(target_os = "none"))]
fn main() {
    let mut log = Vec::new();
    let (mut buf, mut out) = ([0u8; 512], [0u8; 256]);
    let (s, c, clean) = run(
        &mut buf,
        &mut out,
        &mut size_peer::check::recorder(&mut log),
    );
    println!("server got {s} message(s), client got {c}, both closed cleanly: {clean}");
    assert_eq!((s, c, clean), (1, 1, true));
    size_peer::check::server(&log[..2]);
    #[cfg(feature = "client")]
    size_peer::check::client(&log[2..]);
    assert_eq!(log.len(), if cfg!(feature = "client") { 5 } else { 2 });
    println!("{} frame(s) written, as expected", log.len());
}

#[cfg(target_os = "none")]
#[allow(clippy::empty_loop)]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(target_os = "none")]
#[allow(clippy::empty_loop)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let (mut buf, mut out) = ([0u8; 512], [0u8; 256]);
    core::hint::black_box(run(&mut buf, &mut out, &mut |b: &[u8]| {
        core::hint::black_box(b);
    }));
    loop {}
}
