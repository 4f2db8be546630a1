//! A certificate authority made for a test run (rcgen) and a rustls server
//! configuration with a certificate it signed. Shared by `tests/tls.rs`
//! and `tests/device_tls.rs` through `#[path]`.

use std::sync::Arc;

use sansws::adapter::std_net::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use sansws::adapter::std_net::rustls::{self, ServerConfig};

/// A CA, and a server configuration for `names` (DNS names or addresses)
/// whose certificate it signed, the CA's certificate in the chain.
/// `tls13_only`: TLS 1.3 alone (embedded-tls speaks nothing else).
pub fn ca_and_server(
    names: &[&str],
    tls13_only: bool,
) -> (CertificateDer<'static>, Arc<ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sansws test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names.clone()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    let cert = params.signed_by(&key, &ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider);
    let builder = if tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    let server = builder
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.der().clone(), Arc::new(server))
}
