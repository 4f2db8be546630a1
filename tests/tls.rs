//! wss:// on hosts (feature `rustls`): our client and our server over TLS
//! on loopback, with a certificate authority made for the run (rcgen):
//! text, a 16 MiB binary message, a split socket pushing from other
//! threads over one TLS session in both roles, and a certificate the
//! client does not trust refused with a clear error.
#![cfg(feature = "rustls")]

#[path = "support/pki.rs"]
mod test_pki;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sansws::adapter::std_net::rustls::{self, RootCertStore, ServerConfig};
use sansws::adapter::std_net::{self, Accepted, Error, Options, Stream};
use sansws::message::Message;
use sansws::wire::CloseCode;

/// A CA, and a server certificate for `localhost` and 127.0.0.1 it signed.
struct Pki {
    ca: rustls::pki_types::CertificateDer<'static>,
    server: Arc<ServerConfig>,
}

fn pki() -> Pki {
    let (ca, server) = test_pki::ca_and_server(&["localhost", "127.0.0.1"], false);
    Pki { ca, server }
}

/// Client options trusting `ca` only.
fn trusting(ca: &rustls::pki_types::CertificateDer<'static>) -> Options {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    Options {
        tls: Some(std_net::client_config(roots)),
        handshake_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(30)),
        ..Options::default()
    }
}

/// A TLS echo server for `conns` connections, one thread each; a
/// connection whose TLS handshake fails is counted in the result.
fn echo_server(
    config: Arc<ServerConfig>,
    conns: usize,
) -> (SocketAddr, thread::JoinHandle<Vec<Result<(), String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = thread::spawn(move || {
        let mut results = Vec::new();
        for _ in 0..conns {
            let (tcp, _) = listener.accept().unwrap();
            let config = config.clone();
            results.push(thread::spawn(move || serve(tcp, config)));
        }
        results
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    (addr, h)
}

fn serve(tcp: TcpStream, config: Arc<ServerConfig>) -> Result<(), String> {
    let opts = Options::default();
    let tls = Stream::tls_server(tcp, config, Some(Duration::from_secs(10)))
        .map_err(|e| format!("TLS: {e}"))?;
    assert!(tls.is_tls());
    let Accepted::WebSocket(mut ws) = std_net::accept(tls, &opts).map_err(|e| e.to_string())?
    else {
        return Err("not an upgrade".into());
    };
    while let Some(msg) = ws.read().map_err(|e| e.to_string())? {
        if msg.is_data() {
            ws.send(&msg).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn checksum(b: &[u8]) -> u64 {
    b.iter()
        .enumerate()
        .fold(0u64, |h, (i, &x)| h.rotate_left(5) ^ (x as u64) ^ i as u64)
}

#[test]
fn wss_text_and_16_mib_binary_echo() {
    let pki = pki();
    let (addr, server) = echo_server(pki.server.clone(), 1);
    let url = format!("wss://localhost:{}/echo", addr.port());
    let mut ws = std_net::connect_with(&url, &trusting(&pki.ca)).expect("connect over TLS");
    assert!(ws.get_ref().is_tls());
    ws.send_text("hello over TLS").unwrap();
    match ws.read().unwrap() {
        Some(Message::Text(t)) => assert_eq!(t, "hello over TLS"),
        other => panic!("expected the text back, got {other:?}"),
    }
    let big: Vec<u8> = (0..16 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ws.send_binary(&big).unwrap();
    match ws.read().unwrap() {
        Some(Message::Binary(b)) => {
            assert_eq!(b.len(), big.len());
            assert_eq!(checksum(&b), checksum(&big), "16 MiB came back changed");
        }
        other => panic!("expected the binary back, got {other:?}"),
    }
    ws.close(CloseCode::NORMAL, "done").unwrap();
    while ws.read().unwrap().is_some() {}
    assert_eq!(ws.end(), Some(sansws::conn::End::Clean));
    assert_eq!(server.join().unwrap(), vec![Ok(())]);
}

#[test]
fn wss_split_pushes_from_threads_in_both_roles() {
    let pki = pki();
    const PER_THREAD: usize = 300;
    const THREADS: usize = 3;
    // The server splits too: its reader echoes through a sender, while a
    // second thread of its own pushes "tick" messages over the same TLS
    // session.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = pki.server.clone();
    let server = thread::spawn(move || -> Result<usize, String> {
        let (tcp, _) = listener.accept().unwrap();
        let tls = Stream::tls_server(tcp, config, Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let Accepted::WebSocket(ws) =
            std_net::accept(tls, &Options::default()).map_err(|e| e.to_string())?
        else {
            return Err("not an upgrade".into());
        };
        let (mut reader, sender) = ws.split().map_err(|e| e.to_string())?;
        let ticker = {
            let s = sender.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    s.send_text(&format!("tick {i}")).unwrap();
                }
            })
        };
        let mut echoed = 0;
        while let Some(msg) = reader.read().map_err(|e| e.to_string())? {
            if msg.is_data() {
                sender.send(&msg).map_err(|e| e.to_string())?;
                echoed += 1;
            }
        }
        ticker.join().unwrap();
        Ok(echoed)
    });

    let url = format!("wss://localhost:{}/", addr.port());
    let ws = std_net::connect_with(&url, &trusting(&pki.ca)).expect("connect over TLS");
    let (mut reader, sender) = ws.split().expect("split over TLS");
    let pushers: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = sender.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Sizes from 1 byte to past a TLS record (16 KiB).
                    let len = 1 + (i * 7919 + t * 104_729) % 40_000;
                    let mut m = format!("{t}:{i}:").into_bytes();
                    m.resize(len.max(m.len()), b'a' + (i % 26) as u8);
                    s.send_binary(&m).unwrap();
                }
            })
        })
        .collect();
    // And one 16 MiB message among them, from a thread of its own too
    // (this thread reads: a send that waits for room here would wait for
    // ever, the echoes unread).
    let big: Arc<Vec<u8>> = Arc::new(
        (0..16u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect(),
    );
    let big_pusher = {
        let (s, big) = (sender.clone(), big.clone());
        thread::spawn(move || s.send_binary(&big).unwrap())
    };
    let mut big_back = false;
    let mut next = [0usize; THREADS];
    let mut ticks = 0;
    while next.iter().sum::<usize>() < THREADS * PER_THREAD || ticks < 50 || !big_back {
        match reader.read().expect("read over TLS") {
            Some(Message::Binary(b)) if b.len() == big.len() => {
                assert_eq!(checksum(&b), checksum(&big), "16 MiB came back changed");
                big_back = true;
            }
            Some(Message::Binary(b)) => {
                let head = std::str::from_utf8(&b[..b.iter().position(|&c| c == b':').unwrap()])
                    .unwrap()
                    .to_string();
                let t: usize = head.parse().unwrap();
                let rest = &b[head.len() + 1..];
                let i: usize =
                    std::str::from_utf8(&rest[..rest.iter().position(|&c| c == b':').unwrap()])
                        .unwrap()
                        .parse()
                        .unwrap();
                assert_eq!(i, next[t], "thread {t}'s messages in order, none lost");
                let len = 1 + (i * 7919 + t * 104_729) % 40_000;
                let prefix = format!("{t}:{i}:").len();
                assert_eq!(b.len(), len.max(prefix));
                assert!(
                    b[prefix..].iter().all(|&c| c == b'a' + (i % 26) as u8),
                    "payload intact"
                );
                next[t] += 1;
            }
            Some(Message::Text(t)) => {
                assert_eq!(t, format!("tick {ticks}"));
                ticks += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("ended early: {:?}", reader.end()),
        }
    }
    for p in pushers {
        p.join().unwrap();
    }
    big_pusher.join().unwrap();
    sender.close(CloseCode::NORMAL, "done").unwrap();
    while reader.read().expect("the close").is_some() {}
    assert_eq!(reader.end(), Some(sansws::conn::End::Clean));
    assert_eq!(server.join().unwrap(), Ok(THREADS * PER_THREAD + 1));
}

#[test]
fn wss_refuses_a_certificate_it_does_not_trust() {
    let pki = pki();
    let other = pki_other_ca();
    let (addr, server) = echo_server(pki.server.clone(), 1);
    let url = format!("wss://localhost:{}/", addr.port());
    let err = std_net::connect_with(&url, &trusting(&other)).expect_err("an untrusted certificate");
    match &err {
        Error::Tls(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {}
        e => panic!("expected Tls(InvalidCertificate(UnknownIssuer)), got {e:?}"),
    }
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    // The server heard why: the client's alert.
    let results = server.join().unwrap();
    assert!(
        matches!(&results[..], [Err(e)] if e.starts_with("TLS")),
        "server: {results:?}"
    );
}

#[test]
fn wss_refuses_a_certificate_for_another_name() {
    let pki = pki();
    let (addr, server) = echo_server(pki.server.clone(), 1);
    let tcp = TcpStream::connect(addr).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let err = Stream::tls_client(
        tcp,
        "example.com",
        std_net::client_config(roots),
        Some(Duration::from_secs(10)),
    )
    .expect_err("a certificate for another name");
    assert!(
        matches!(
            err,
            Error::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err:?}"
    );
    let _ = server.join().unwrap();
}

/// A CA of another name (one of the same name would be found as the
/// issuer, and refused for its signature instead).
fn pki_other_ca() -> rustls::pki_types::CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().der().clone()
}
