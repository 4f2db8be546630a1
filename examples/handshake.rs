//! A client and a server shake hands and exchange one frame, entirely in
//! memory: the sans-IO core with no socket at all.
//!
//! `cargo run --example handshake`

use sansws::Status;
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, Outcome, ServerResponse, parse_request,
};
use sansws::wire::{FrameHeader, OpCode, ParseOptions, Rsv, apply_mask};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Client: 16 random bytes make the key (use a real RNG in production).
    let nonce: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(97).wrapping_add(13));
    let client = ClientHandshake::new(nonce);
    let req = ClientRequest {
        port: 9001,
        protocols: &["led.v1"],
        headers: &[("Origin", "http://127.0.0.1:9001")],
        ..ClientRequest::new("127.0.0.1", "/ws")
    };
    let mut wire = [0u8; 512];
    let n = client.write_request(&req, &mut wire)?;
    println!(
        "client -> server ({n} bytes):\n{}",
        String::from_utf8_lossy(&wire[..n])
    );

    // Server: parse, route on the path, pick the subprotocol, answer 101.
    let mut headers = [EMPTY_HEADER; 16];
    let Status::Complete(Outcome::Upgrade(upgrade)) =
        parse_request(&wire[..n], &mut headers, &Limits::DEFAULT)?
    else {
        return Err("expected a WebSocket upgrade".into());
    };
    assert_eq!(upgrade.path(), "/ws");
    let chosen = upgrade.protocols().find(|p| *p == "led.v1");
    let mut answer = [0u8; 256];
    let m = ServerResponse::accept(&upgrade)
        .protocol(chosen)
        .write(&mut answer)?;
    println!(
        "server -> client ({m} bytes):\n{}",
        String::from_utf8_lossy(&answer[..m])
    );

    // Client: validate the answer.
    let mut headers = [EMPTY_HEADER; 16];
    let Status::Complete(res) =
        client.parse_response(&req, &answer[..m], &mut headers, &Limits::DEFAULT)?
    else {
        return Err("incomplete response".into());
    };
    println!("handshake done, subprotocol {:?}", res.protocol());

    // Client sends "ON" in a masked text frame.
    let key = [0x12, 0x34, 0x56, 0x78];
    let header = FrameHeader {
        fin: true,
        rsv: Rsv::NONE,
        opcode: OpCode::Text,
        mask: Some(key),
        payload_len: 2,
    };
    let h = header.emit(&mut wire)?;
    wire[h..h + 2].copy_from_slice(b"ON");
    apply_mask(&mut wire[h..h + 2], key, 0);
    println!("frame on the wire: {:02x?}", &wire[..h + 2]);

    // Server reads it back and unmasks in place.
    let Status::Complete((got, len)) = FrameHeader::parse(&wire[..h + 2], &ParseOptions::STRICT)?
    else {
        return Err("incomplete frame".into());
    };
    let payload = &mut wire[len..len + got.payload_len as usize];
    apply_mask(payload, got.mask.ok_or("client frames are masked")?, 0);
    println!(
        "server got {:?} {:?}",
        got.opcode,
        std::str::from_utf8(payload)?
    );
    Ok(())
}
