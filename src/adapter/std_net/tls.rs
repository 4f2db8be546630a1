//! `wss://` through rustls (feature `rustls`): TLS streams for both roles,
//! the client's default configuration (the platform's roots).

use std::io;
use std::net::TcpStream;
use std::string::ToString;
use std::sync::{Arc, OnceLock};
use std::time::{Duration as StdDuration, Instant as StdInstant};

/// The rustls this adapter is built with, to make configurations with.
pub use rustls;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::error::Error;
use super::stream::{Stream, flush_tls, read_tls};
use super::transport::Transport;

/// A client configuration that trusts `roots`, on rustls's `ring`
/// provider, TLS 1.2 and 1.3: what [`Options::tls`](super::Options::tls)
/// takes to trust a private certificate authority.
pub fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The client configuration `wss://` uses when [`Options::tls`](super::Options::tls)
/// is `None`: the platform's root certificates (loaded once, by
/// rustls-native-certs: on Linux the system's CA bundle, `SSL_CERT_FILE`
/// and `SSL_CERT_DIR` honoured).
pub fn platform_config() -> Result<Arc<ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, std::string::String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), ToString::to_string);
                return Err(std::format!("no platform root certificates: {why}"));
            }
            Ok(client_config(roots))
        })
        .clone()
        .map_err(|why| Error::Io(io::Error::new(io::ErrorKind::NotFound, why)))
}

impl Stream {
    /// TLS over `tcp` to `server_name` (a DNS name or an IP address, as
    /// the certificate names it), its handshake made within `timeout`.
    /// A certificate that is not valid for the name under `config`'s roots
    /// is [`Error::Tls`] (e.g. `InvalidCertificate(UnknownIssuer)`), and
    /// the server is told with an alert.
    pub fn tls_client(
        tcp: TcpStream,
        server_name: &str,
        config: Arc<ClientConfig>,
        timeout: Option<StdDuration>,
    ) -> Result<Self, Error> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| Error::Url("host is not a valid TLS server name"))?;
        let conn = ClientConnection::new(config, name)?;
        let mut s = Stream::tls(tcp, conn.into());
        s.tls_handshake(timeout)?;
        Ok(s)
    }

    /// TLS over an accepted `tcp` under `config` (the server's certificate
    /// and key), its handshake made within `timeout`; then
    /// [`accept`](super::accept) the WebSocket on it.
    pub fn tls_server(
        tcp: TcpStream,
        config: Arc<ServerConfig>,
        timeout: Option<StdDuration>,
    ) -> Result<Self, Error> {
        let conn = ServerConnection::new(config)?;
        let mut s = Stream::tls(tcp, conn.into());
        s.tls_handshake(timeout)?;
        Ok(s)
    }

    /// Runs the TLS handshake to its end within `timeout`.
    fn tls_handshake(&mut self, timeout: Option<StdDuration>) -> Result<(), Error> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let Some((tls, tcp)) = self.tls_parts() else {
            return Ok(());
        };
        while tls.is_handshaking() {
            flush_tls(tls, tcp)?;
            if !tls.is_handshaking() {
                break;
            }
            if let Some(d) = deadline {
                let now = StdInstant::now();
                if now >= d {
                    return Err(
                        io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out").into(),
                    );
                }
                tcp.set_read_timeout(Some(d - now))?;
            }
            match read_tls(tls, tcp) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed during the TLS handshake",
                    )
                    .into());
                }
                Ok(_) => {}
                Err(e) => return Err(tls_error(e)),
            }
        }
        // The last handshake records (a client's Finished).
        flush_tls(tls, tcp)?;
        Transport::set_read_timeout(tcp, None)?;
        Ok(())
    }
}

/// A TLS failure inside an `io::Error` as [`Error::Tls`]; anything else
/// as [`Error::Io`].
fn tls_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        return io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out").into();
    }
    match e.downcast::<rustls::Error>() {
        Ok(t) => Error::Tls(t),
        Err(e) => Error::Io(e),
    }
}
