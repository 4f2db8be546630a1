//! Client response parser: no panic, and only a response that answers our
//! key with a 101 is ever accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::Status;
use sansws::handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, Response};

fuzz_target!(|data: &[u8]| {
    // The RFC nonce, so the fuzzer can find the accept value in the dictionary.
    let hs = ClientHandshake::new(*b"the sample nonce");
    let req = ClientRequest {
        protocols: &["chat", "superchat"],
        ..ClientRequest::new("server.example.com", "/chat")
    };
    let mut headers = [EMPTY_HEADER; 16];
    if let Ok(Status::Complete(r)) = hs.parse_response(&req, data, &mut headers, &Limits::DEFAULT) {
        assert_eq!(r.code(), 101);
        assert!(r.len() <= data.len());
        assert!(r.protocol().is_none_or(|p| p == "chat" || p == "superchat"));
        let accept = r.header("sec-websocket-accept").expect("checked");
        assert_eq!(accept.trim_ascii(), hs.expected_accept().as_bytes());
    }
    let mut headers = [EMPTY_HEADER; 16];
    let _ = Response::parse(data, &mut headers, &Limits { max_len: 256 });
});
