//! wss:// from the no_std adapters: embedded-tls (TLS 1.3 without an
//! allocator, its `rustpki` verifier checking the server's certificate
//! against the CA it is given, as a firmware would with the CA in flash)
//! under the embedded-io adapter, against our rustls server (std_net over
//! TLS) with a certificate authority made for the run. A certificate from
//! another CA, or for another name, is refused before any WebSocket byte.
#![cfg(all(feature = "rustls", feature = "embedded-io"))]

#[path = "support/pki.rs"]
mod test_pki;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use embedded_tls::blocking::{TlsConfig, TlsConnection, TlsContext};
use embedded_tls::pki::CertVerifier;
use embedded_tls::{Aes128GcmSha256, Certificate, CryptoProvider, NoClock, TlsError, TlsVerifier};
use rand_core::OsRng;
use sansws::adapter::embedded_io::{self as ws, ClientOptions, StdIo, std_clock};
use sansws::adapter::std_net::rustls::ServerConfig;
use sansws::adapter::std_net::{self, Accepted, Options, Stream};
use sansws::conn::{DataKind, End, Event, OsKeys};
use sansws::handshake::ClientRequest;
use sansws::wire::CloseCode;

/// embedded-tls's record buffers: a whole incoming record (2^14 bytes of
/// plaintext and up to 256 of overhead, RFC 8446 section 5.2); outgoing
/// records as small as a device likes (at most 2^14 of plaintext: a larger
/// buffer makes records the server refuses).
const RECORD_IN: usize = (1 << 14) + 256;
const RECORD_OUT: usize = 4096;

/// A CA (its DER) and a TLS 1.3 server configuration for `localhost` it
/// signed.
fn pki() -> (Vec<u8>, Arc<ServerConfig>) {
    let (ca, server) = test_pki::ca_and_server(&["localhost"], true);
    (ca.to_vec(), server)
}

/// embedded-tls's keys from the OS, the server checked against one CA.
struct Provider<'a> {
    rng: OsRng,
    verifier: CertVerifier<'a, Aes128GcmSha256, NoClock, 4096>,
}

impl CryptoProvider for Provider<'_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// A TLS echo server (std_net over rustls) for one connection: what it
/// ended with, or the error that stopped it.
fn echo_server(
    config: Arc<ServerConfig>,
) -> (u16, thread::JoinHandle<Result<Option<End>, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let tls = Stream::tls_server(tcp, config, Some(Duration::from_secs(10)))
            .map_err(|e| format!("TLS: {e}"))?;
        let Accepted::WebSocket(mut ws) =
            std_net::accept(tls, &Options::default()).map_err(|e| e.to_string())?
        else {
            return Err("not an upgrade".into());
        };
        while let Some(msg) = ws.read().map_err(|e| e.to_string())? {
            if msg.is_data() {
                ws.send(&msg).map_err(|e| e.to_string())?;
            }
        }
        Ok(ws.end())
    });
    (port, h)
}

/// TCP to the server, TLS over it (embedded-tls), checked against `ca` for
/// `name`.
fn open_tls<'b>(
    port: u16,
    name: &str,
    ca: &[u8],
    read_record: &'b mut [u8],
    write_record: &'b mut [u8],
) -> Result<TlsConnection<'b, StdIo<TcpStream>, Aes128GcmSha256>, TlsError> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = TlsConnection::new(StdIo(tcp), read_record, write_record);
    let config = TlsConfig::new().with_server_name(name);
    let provider = Provider {
        rng: OsRng,
        verifier: CertVerifier::new(Certificate::X509(ca)),
    };
    tls.open(TlsContext::new(&config, provider))?;
    Ok(tls)
}

#[test]
fn the_embedded_io_client_over_embedded_tls_against_a_rustls_server() {
    let (ca, config) = pki();
    let (port, server) = echo_server(config);
    let (mut rr, mut wr) = (vec![0u8; RECORD_IN], vec![0u8; RECORD_OUT]);
    let tls = open_tls(port, "localhost", &ca, &mut rr, &mut wr).expect("TLS to a trusted server");
    // The WebSocket over it, through device-sized buffers.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let req = ClientRequest::new("localhost", "/");
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).unwrap();
    let keys = OsKeys::new().unwrap();
    let opts = ClientOptions::new(req, nonce, keys, std_clock);
    let mut w = ws::connect(tls, &mut rx, &mut tx, opts).expect("the WebSocket handshake over TLS");
    w.send_text("hello from the device").unwrap();
    // 40 KB binary: more than two TLS records, more than the read buffer.
    let big: Vec<u8> = (0..40_000u32).map(|i| (i * 31 % 251) as u8).collect();
    w.send_binary(&big).unwrap();
    let mut got_text = String::new();
    let mut got_bin = Vec::new();
    let mut ends = 0;
    while ends < 2 {
        let ended = w
            .read_event(|e| match e {
                Event::Data(d) => {
                    match d.kind {
                        DataKind::Text => {
                            got_text.push_str(std::str::from_utf8(d.payload).unwrap())
                        }
                        DataKind::Binary => got_bin.extend_from_slice(d.payload),
                    }
                    d.is_message_end()
                }
                _ => false,
            })
            .expect("read over TLS");
        ends += usize::from(ended == Some(true));
    }
    assert_eq!(got_text, "hello from the device");
    assert_eq!(got_bin, big);
    w.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(w.end(), Some(End::Clean));
    // The TLS session's end (close_notify), then the TCP stream's.
    let tls = w.into_io();
    let _ = tls.close();
    assert_eq!(server.join().unwrap(), Ok(Some(End::Clean)));
}

#[test]
fn embedded_tls_refuses_a_certificate_from_another_ca() {
    let (_ca, config) = pki();
    let (other_ca, _) = pki();
    let (port, server) = echo_server(config);
    let (mut rr, mut wr) = (vec![0u8; RECORD_IN], vec![0u8; RECORD_OUT]);
    let err = open_tls(port, "localhost", &other_ca, &mut rr, &mut wr)
        .err()
        .expect("an untrusted certificate");
    assert!(
        matches!(
            err,
            TlsError::InvalidCertificate | TlsError::InvalidSignature
        ),
        "{err:?}"
    );
    assert!(server.join().unwrap().unwrap_err().starts_with("TLS"));
}

#[test]
fn embedded_tls_refuses_a_certificate_for_another_name() {
    let (ca, config) = pki();
    let (port, server) = echo_server(config);
    let (mut rr, mut wr) = (vec![0u8; RECORD_IN], vec![0u8; RECORD_OUT]);
    let err = open_tls(port, "cloud.example.com", &ca, &mut rr, &mut wr)
        .err()
        .expect("a certificate for another name");
    assert!(matches!(err, TlsError::InvalidCertificate), "{err:?}");
    assert!(server.join().unwrap().unwrap_err().starts_with("TLS"));
}

/// The same through the async adapter and embedded-tls's async client (what
/// esp-hal + embassy-net firmware runs), under `block_on` over a blocking
/// std stream.
#[cfg(feature = "embedded-io-async")]
#[test]
fn the_async_client_over_embedded_tls_against_a_rustls_server() {
    use sansws::adapter::embedded_io_async as aws;
    let (ca, config) = pki();
    let (port, server) = echo_server(config);
    embassy_futures::block_on(async {
        let (mut rr, mut wr) = (vec![0u8; RECORD_IN], vec![0u8; RECORD_OUT]);
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls: embedded_tls::TlsConnection<'_, StdIo<TcpStream>, Aes128GcmSha256> =
            embedded_tls::TlsConnection::new(StdIo(tcp), &mut rr, &mut wr);
        let tls_config = embedded_tls::TlsConfig::new().with_server_name("localhost");
        let provider = Provider {
            rng: OsRng,
            verifier: CertVerifier::new(Certificate::X509(&ca)),
        };
        tls.open(embedded_tls::TlsContext::new(&tls_config, provider))
            .await
            .expect("TLS to a trusted server");
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let opts = ClientOptions::new(
            ClientRequest::new("localhost", "/"),
            nonce,
            OsKeys::new().unwrap(),
            std_clock,
        );
        let mut w = aws::connect(tls, &mut rx, &mut tx, opts)
            .await
            .expect("the WebSocket handshake over TLS");
        let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 253) as u8).collect();
        w.send_binary(&big).await.unwrap();
        let mut got = Vec::new();
        loop {
            let end = w
                .read_event(|e| match e {
                    Event::Data(d) => {
                        got.extend_from_slice(d.payload);
                        d.is_message_end()
                    }
                    _ => false,
                })
                .await
                .expect("read over TLS");
            if end == Some(true) {
                break;
            }
        }
        assert_eq!(got, big);
        w.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(w.end(), Some(End::Clean));
        let tls = w.into_io();
        let _ = tls.close().await;
    });
    assert_eq!(server.join().unwrap(), Ok(Some(End::Clean)));
}
