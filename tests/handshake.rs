//! Opening handshake across roles: the client's request read by the server,
//! the server's response read by the client, every violation, every split.

use sansws::Status;
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, HandshakeError, HttpResponse, Limits, Outcome,
    Request, ServerResponse, WriteError, parse_request,
};

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// What a server parse of a complete head says, in comparable form.
#[derive(Debug, PartialEq)]
enum Seen {
    Upgrade { path: String, len: usize },
    Http { path: String, len: usize },
}

fn server(buf: &[u8], limits: &Limits) -> Result<Status<Seen>, HandshakeError> {
    let mut headers = [EMPTY_HEADER; 16];
    Ok(match parse_request(buf, &mut headers, limits)? {
        Status::Complete(Outcome::Upgrade(r)) => Status::Complete(Seen::Upgrade {
            path: r.path().into(),
            len: r.len(),
        }),
        Status::Complete(Outcome::Http(r)) => Status::Complete(Seen::Http {
            path: r.path().into(),
            len: r.len(),
        }),
        Status::Partial { needed } => Status::Partial { needed },
    })
}

/// Runs `parse` on every prefix of `input`: each is partial, complete with
/// the same value (once the head is whole), or the same error as the whole.
fn every_split<T: PartialEq + std::fmt::Debug>(
    input: &[u8],
    parse: impl Fn(&[u8]) -> Result<Status<T>, HandshakeError>,
) -> Result<T, HandshakeError> {
    let whole = parse(input);
    for cut in 0..input.len() {
        match parse(&input[..cut]) {
            Ok(Status::Partial { needed }) => assert!(needed >= 1),
            Ok(Status::Complete(v)) => assert_eq!(Ok(Status::Complete(v)), whole, "at {cut}"),
            Err(e) => assert_eq!(Err(e), whole, "early error differs at {cut}"),
        }
    }
    match whole? {
        Status::Complete(v) => Ok(v),
        Status::Partial { .. } => panic!("whole input is partial"),
    }
}

#[test]
fn rfc_request_is_an_upgrade_at_every_split() {
    let seen = every_split(RFC_REQUEST, |b| server(b, &Limits::DEFAULT)).unwrap();
    assert_eq!(
        seen,
        Seen::Upgrade {
            path: "/chat".into(),
            len: RFC_REQUEST.len()
        }
    );
}

#[test]
fn upgrade_request_exposes_what_a_server_routes_on() {
    let input = b"GET /ws?id=7&x HTTP/1.1\r\nHost: esp32.local:8080\r\n\
        upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n\
        sec-websocket-key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nsec-websocket-version: 13\r\n\
        Origin: http://esp32.local\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b, c\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
        Authorization: Bearer t0k3n\r\n\r\n\x81";
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(Outcome::Upgrade(r))) =
        parse_request(input, &mut headers, &Limits::DEFAULT)
    else {
        panic!("not an upgrade")
    };
    assert_eq!(r.path(), "/ws");
    assert_eq!(r.query(), Some("id=7&x"));
    assert_eq!(r.host(), "esp32.local:8080");
    assert_eq!(r.origin(), Some("http://esp32.local"));
    assert_eq!(r.protocols().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(r.offers_protocol("b") && !r.offers_protocol("B"));
    assert_eq!(
        r.extensions().collect::<Vec<_>>(),
        [&b"permessage-deflate; client_max_window_bits"[..]]
    );
    assert_eq!(r.header("authorization"), Some(&b"Bearer t0k3n"[..]));
    assert_eq!(r.headers().len(), 10);
    assert_eq!(r.key(), b"AQIDBAUGBwgJCgsMDQ4PEA==");
    assert_eq!(&input[r.len()..], b"\x81", "bytes after the head are left");
}

#[test]
fn plain_get_is_told_apart_from_a_broken_upgrade() {
    let page = b"GET / HTTP/1.1\r\nHost: 192.168.4.1\r\nAccept: text/html\r\n\r\n";
    let seen = every_split(page, |b| server(b, &Limits::DEFAULT)).unwrap();
    assert_eq!(
        seen,
        Seen::Http {
            path: "/".into(),
            len: page.len()
        }
    );
    // h2c upgrade is not a WebSocket upgrade either.
    let h2c = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    assert!(matches!(
        server(h2c, &Limits::DEFAULT),
        Ok(Status::Complete(Seen::Http { .. }))
    ));
    // POST for a page is plain HTTP; POST with an upgrade is a broken one.
    let post = b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
    assert!(matches!(
        server(post, &Limits::DEFAULT),
        Ok(Status::Complete(Seen::Http { .. }))
    ));
}

/// A valid upgrade request with one line replaced (or removed if `with`
/// is empty).
fn request_with(line: &str, with: &str) -> Vec<u8> {
    let text = std::str::from_utf8(RFC_REQUEST).unwrap();
    let mut out = String::new();
    for l in text.split_inclusive("\r\n") {
        if l.starts_with(line) {
            out.push_str(with);
        } else {
            out.push_str(l);
        }
    }
    out.into_bytes()
}

#[test]
fn request_violations_table() {
    use HandshakeError::*;
    let cases: Vec<(Vec<u8>, HandshakeError, u16)> = vec![
        (request_with("GET", "POST /chat HTTP/1.1\r\n"), NotGet, 400),
        (
            request_with("GET", "GET /chat HTTP/1.0\r\n"),
            HttpVersion,
            400,
        ),
        (request_with("Host", ""), BadHost, 400),
        (request_with("Host", "Host: a\r\nHost: b\r\n"), BadHost, 400),
        (request_with("Upgrade", ""), NoUpgradeWebSocket, 400),
        (
            request_with("Upgrade", "Upgrade: websockets\r\n"),
            NoUpgradeWebSocket,
            400,
        ),
        (request_with("Connection", ""), NoConnectionUpgrade, 400),
        (
            request_with("Connection", "Connection: keep-alive\r\n"),
            NoConnectionUpgrade,
            400,
        ),
        (
            request_with("Sec-WebSocket-Version", ""),
            UnsupportedVersion,
            426,
        ),
        (
            request_with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\n"),
            UnsupportedVersion,
            426,
        ),
        (
            request_with(
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
            ),
            UnsupportedVersion,
            426,
        ),
        (request_with("Sec-WebSocket-Key", ""), InvalidKey, 400),
        (
            request_with("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ=\r\n"),
            InvalidKey,
            400,
        ),
        (
            // 24 characters, but 17 bytes' worth (no padding).
            request_with(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n",
            ),
            InvalidKey,
            400,
        ),
        (
            request_with(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!A==\r\n",
            ),
            InvalidKey,
            400,
        ),
        (
            request_with(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ),
            InvalidKey,
            400,
        ),
        (
            request_with("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: a b\r\n"),
            InvalidProtocol,
            400,
        ),
    ];
    for (input, err, status) in &cases {
        let got = every_split(input, |b| server(b, &Limits::DEFAULT));
        assert_eq!(got, Err(*err), "{}", String::from_utf8_lossy(input));
        assert_eq!(err.http_status(), *status);
    }
    // Not HTTP at all.
    let junk = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    assert!(matches!(server(junk, &Limits::DEFAULT), Err(Malformed(_))));
    assert_eq!(
        server(junk, &Limits::DEFAULT).unwrap_err().http_status(),
        400
    );
}

#[test]
fn size_limit_is_enforced_on_partial_input() {
    let limits = Limits { max_len: 64 };
    // A head that never ends: refused as soon as 64 bytes are there.
    let endless = [b"GET / HTTP/1.1\r\nX-Pad: ".as_slice(), &[b'a'; 200]].concat();
    assert_eq!(
        server(&endless[..63], &limits),
        Ok(Status::Partial { needed: 1 })
    );
    assert_eq!(
        server(&endless[..64], &limits),
        Err(HandshakeError::TooLarge { limit: 64 })
    );
    assert_eq!(
        server(&endless, &limits),
        Err(HandshakeError::TooLarge { limit: 64 })
    );
    // The RFC request is larger than 64 bytes even though it is complete.
    assert_eq!(
        server(RFC_REQUEST, &limits),
        Err(HandshakeError::TooLarge { limit: 64 })
    );
    // Exactly at the limit is fine.
    let exact = Limits {
        max_len: RFC_REQUEST.len(),
    };
    assert!(server(RFC_REQUEST, &exact).unwrap().is_complete());
    // More header lines than slots.
    let mut few = [EMPTY_HEADER; 3];
    assert_eq!(
        Request::parse(RFC_REQUEST, &mut few, &Limits::DEFAULT).unwrap_err(),
        HandshakeError::TooManyHeaders
    );
    assert_eq!(HandshakeError::TooManyHeaders.http_status(), 431);
}

#[test]
fn server_answers_byte_exact() {
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(Outcome::Upgrade(r))) =
        parse_request(RFC_REQUEST, &mut headers, &Limits::DEFAULT)
    else {
        panic!()
    };
    let mut out = [0xa5u8; 200];
    let n = ServerResponse::accept(&r)
        .protocol(Some("chat"))
        .headers(&[("Server", "sansws")])
        .write(&mut out)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&out[..n]).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
         Server: sansws\r\n\r\n"
    );
    assert!(out[n..].iter().all(|&b| b == 0xa5));
    // Too small: names the size, writes nothing.
    let mut small = [0xa5u8; 100];
    assert_eq!(
        ServerResponse::accept(&r).write(&mut small),
        Err(WriteError::BufferTooSmall(sansws::BufferTooSmall {
            needed: 129
        }))
    );
    assert!(small.iter().all(|&b| b == 0xa5));
    // Header injection is refused.
    assert!(matches!(
        ServerResponse::accept(&r)
            .headers(&[("X", "a\r\nSet-Cookie: x")])
            .write(&mut out),
        Err(WriteError::InvalidInput(_))
    ));
    assert!(matches!(
        ServerResponse::accept(&r)
            .headers(&[("Sec-WebSocket-Accept", "x")])
            .write(&mut out),
        Err(WriteError::InvalidInput(_))
    ));
}

#[test]
fn rejections_carry_status_and_reason() {
    let mut out = [0u8; 300];
    let n = HttpResponse::from_error(&HandshakeError::UnsupportedVersion)
        .write(&mut out)
        .unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(text.ends_with("\r\n\r\nSec-WebSocket-Version: 13 expected"));
    for (status, phrase) in [(400, "Bad Request"), (403, "Forbidden"), (404, "Not Found")] {
        let n = HttpResponse::new(status)
            .text("no")
            .write(&mut out)
            .unwrap();
        let text = std::str::from_utf8(&out[..n]).unwrap();
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: 2\r\nConnection: close\r\n\r\nno"
            )
        );
    }
    // Head plus body too large: nothing written, total size named.
    let mut small = [0xa5u8; 100];
    let body = [b'x'; 50];
    let err = HttpResponse::new(200)
        .body("text/html", &body)
        .write(&mut small)
        .unwrap_err();
    assert!(matches!(err, WriteError::BufferTooSmall(b) if b.needed > 100));
    assert!(small.iter().all(|&b| b == 0xa5));
    // The head alone fits.
    assert!(
        HttpResponse::new(200)
            .body("text/html", &body)
            .write_head(&mut small)
            .is_ok()
    );
    assert_eq!(
        HttpResponse::new(101).write(&mut out),
        Err(WriteError::InvalidInput("status code"))
    );
}

#[test]
fn client_request_byte_exact() {
    let hs = ClientHandshake::new(*b"the sample nonce");
    let mut out = [0xa5u8; 400];
    let req = ClientRequest {
        host: "server.example.com",
        port: 80,
        secure: false,
        resource: "/chat?room=1",
        protocols: &["chat", "superchat"],
        headers: &[("Origin", "http://example.com")],
        #[cfg(feature = "deflate")]
        deflate: &[],
    };
    let n = hs.write_request(&req, &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out[..n]).unwrap(),
        "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
         Origin: http://example.com\r\n\r\n"
    );
    assert!(out[n..].iter().all(|&b| b == 0xa5));

    // The port appears when it is not the scheme's default.
    let mut host_line = |req: ClientRequest| {
        let n = hs.write_request(&req, &mut out).unwrap();
        let text = String::from_utf8(out[..n].to_vec()).unwrap();
        text.lines().nth(1).unwrap().to_string()
    };
    let base = ClientRequest::new("10.0.0.5", "");
    assert_eq!(host_line(base), "Host: 10.0.0.5");
    assert_eq!(
        host_line(ClientRequest { port: 8080, ..base }),
        "Host: 10.0.0.5:8080"
    );
    assert_eq!(
        host_line(ClientRequest {
            port: 443,
            secure: true,
            ..base
        }),
        "Host: 10.0.0.5"
    );
    assert_eq!(
        host_line(ClientRequest {
            port: 80,
            secure: true,
            ..base
        }),
        "Host: 10.0.0.5:80"
    );
    assert_eq!(
        host_line(ClientRequest {
            host: "::1",
            port: 9001,
            ..base
        }),
        "Host: [::1]:9001"
    );
    assert_eq!(
        host_line(ClientRequest {
            host: "::1",
            ..base
        }),
        "Host: [::1]"
    );
    assert_eq!(
        host_line(ClientRequest {
            host: "[::1]",
            port: 9001,
            ..base
        }),
        "Host: [::1]:9001"
    );

    // What a server of ours makes of it.
    let n = hs.write_request(&req, &mut out).unwrap();
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(Outcome::Upgrade(r))) =
        parse_request(&out[..n], &mut headers, &Limits::DEFAULT)
    else {
        panic!()
    };
    assert_eq!(r.accept_key(), hs.expected_accept());
    assert_eq!(r.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);

    // Bad input is refused before anything is written.
    for bad in [
        ClientRequest {
            host: "a b",
            ..base
        },
        ClientRequest { host: "", ..base },
        ClientRequest {
            resource: "chat",
            ..base
        },
        ClientRequest {
            resource: "/a b",
            ..base
        },
        ClientRequest {
            protocols: &["a,b"],
            ..base
        },
        ClientRequest {
            headers: &[("Bad Name", "v")],
            ..base
        },
        ClientRequest {
            headers: &[("X", "v\nY: z")],
            ..base
        },
        ClientRequest {
            headers: &[("Sec-WebSocket-Key", "x")],
            ..base
        },
    ] {
        assert!(
            matches!(
                hs.write_request(&bad, &mut out),
                Err(WriteError::InvalidInput(_))
            ),
            "{bad:?}"
        );
    }
    let mut small = [0u8; 20];
    assert!(matches!(
        hs.write_request(&base, &mut small),
        Err(WriteError::BufferTooSmall(b)) if b.needed > 20
    ));
}

const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\r\n";

fn client(
    req: &ClientRequest,
    buf: &[u8],
) -> Result<Status<(Option<String>, usize)>, HandshakeError> {
    let hs = ClientHandshake::new(*b"the sample nonce");
    let mut headers = [EMPTY_HEADER; 16];
    Ok(
        match hs.parse_response(req, buf, &mut headers, &Limits::DEFAULT)? {
            Status::Complete(r) => Status::Complete((r.protocol().map(Into::into), r.len())),
            Status::Partial { needed } => Status::Partial { needed },
        },
    )
}

fn response_with(line: &str, with: &str) -> Vec<u8> {
    let text = std::str::from_utf8(RFC_RESPONSE).unwrap();
    text.split_inclusive("\r\n")
        .map(|l| if l.starts_with(line) { with } else { l })
        .collect::<String>()
        .into_bytes()
}

#[test]
fn client_accepts_rfc_response_at_every_split() {
    let req = ClientRequest {
        protocols: &["chat", "superchat"],
        ..ClientRequest::new("server.example.com", "/chat")
    };
    let mut input = RFC_RESPONSE.to_vec();
    input.extend_from_slice(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    let (proto, len) = every_split(&input, |b| client(&req, b)).unwrap();
    assert_eq!(proto.as_deref(), Some("chat"));
    assert_eq!(len, RFC_RESPONSE.len());
    assert_eq!(
        input.len() - len,
        7,
        "the early frame is left to the caller"
    );
}

#[test]
fn response_violations_table() {
    use HandshakeError::*;
    let offered = ClientRequest {
        protocols: &["chat"],
        ..ClientRequest::new("h", "/")
    };
    let none = ClientRequest::new("h", "/");
    let cases: Vec<(&ClientRequest, Vec<u8>, HandshakeError)> = vec![
        (
            &offered,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Status(404),
        ),
        (
            &offered,
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec(),
            Status(426),
        ),
        (
            &offered,
            response_with("HTTP", "HTTP/1.0 101 OK\r\n"),
            HttpVersion,
        ),
        (&offered, response_with("Upgrade", ""), NoUpgradeWebSocket),
        (
            &offered,
            response_with("Connection", "Connection: close\r\n"),
            NoConnectionUpgrade,
        ),
        (
            &offered,
            response_with("Sec-WebSocket-Accept", ""),
            BadAccept,
        ),
        (
            &offered,
            response_with(
                "Sec-WebSocket-Accept",
                "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            ),
            BadAccept,
        ),
        (
            &offered,
            response_with(
                "Sec-WebSocket-Accept",
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            ),
            BadAccept,
        ),
        (&none, RFC_RESPONSE.to_vec(), UnexpectedProtocol),
        (
            &offered,
            response_with(
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Protocol: superchat\r\n",
            ),
            UnexpectedProtocol,
        ),
        (
            &offered,
            response_with(
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Protocol: chat, chat\r\n",
            ),
            UnexpectedProtocol,
        ),
        (
            &offered,
            response_with(
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
            ),
            UnexpectedExtension,
        ),
    ];
    for (req, input, err) in &cases {
        let got = every_split(input, |b| client(req, b));
        assert_eq!(got, Err(*err), "{}", String::from_utf8_lossy(input));
        let gateway = matches!(
            err,
            Status(_) | BadAccept | UnexpectedProtocol | UnexpectedExtension
        );
        assert_eq!(
            err.http_status(),
            if gateway { 502 } else { 400 },
            "{err:?}"
        );
    }
    // Without a subprotocol in the answer, an offer is fine.
    let plain = response_with("Sec-WebSocket-Protocol", "");
    assert_eq!(
        every_split(&plain, |b| client(&offered, b)),
        Ok((None, plain.len()))
    );
    // The status reason remains readable for error reports.
    let mut headers = [EMPTY_HEADER; 4];
    let sansws::Status::Complete(r) = sansws::handshake::Response::parse(
        b"HTTP/1.1 403 Forbidden\r\n\r\n",
        &mut headers,
        &Limits::DEFAULT,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((r.code(), r.reason()), (403, "Forbidden"));
}

/// A response can be had as bytes, for a caller with no buffer to lend
/// (issue 12); it is what `write` writes.
#[cfg(feature = "alloc")]
#[test]
fn an_http_response_as_bytes() {
    use sansws::handshake::HttpResponse;
    let res = HttpResponse::new(200).text("hello");
    let bytes = res.to_vec().unwrap();
    assert_eq!(bytes.len(), res.encoded_len());
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(res.write(&mut buf), Ok(bytes.len()));
    assert_eq!(buf, bytes);
    assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(bytes.ends_with(b"\r\n\r\nhello"));
}
