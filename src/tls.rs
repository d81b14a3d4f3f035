//! TLS listeners (rustls with the `ring` provider).
//!
//! API: when `tls-port` is non-zero, `server::run` builds the server configuration from the
//! `tls-*` directives ([`configure`], [`build`]) and binds `tls-port` on every `bind` address;
//! the listener supervisor ([`crate::listener`]) runs one [`accept_loop`] per socket, and
//! rebinds them when CONFIG SET changes `tls-port` or `bind` (configuring TLS then if it never
//! was). Each accepted socket does its handshake in its own task, then the decrypted stream is
//! split (`tokio::io::split`) and handed to `connection::task::serve` exactly like a TCP socket:
//! everything above the byte stream (limits, auth, outbox) is shared with plain connections.
//! `tcp-keepalive` and `protected-mode` apply as on the plain port (the protected-mode
//! explanation is sent inside the TLS session, after the handshake, as Redis does).
//!
//! Directives, as Redis reads them:
//! - `tls-cert-file`, `tls-key-file`: the server's chain and key (PEM). Required.
//! - `tls-ca-cert-file`, `tls-ca-cert-dir`: roots that client certificates must chain to.
//! - `tls-auth-clients yes|optional|no`: client certificate required / verified when sent /
//!   not asked for.
//! - `tls-protocols "TLSv1.2 TLSv1.3"`: allowed versions (default both).
//!
//! The accept loop re-reads the directives on every connection and rebuilds the configuration
//! when one of them changed, so `CONFIG SET tls-cert-file ...` rotates certificates for new
//! connections without a restart (existing connections keep theirs), as in Redis.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::server::Shared;

/// Redis's error when client certificates must be verified (or a master's, with
/// `tls-replication`) and no CA is configured.
const NO_CA: &str = "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                     tls-cluster, tls-replication or tls-auth-clients are enabled!";

/// A handshake that has not finished in this time is dropped, so connections that open a TLS
/// socket and never complete the handshake cannot pile up.
/// DEVIATION(redis): Redis has no handshake deadline (only `timeout`, off by default).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The directives a TLS configuration is built from, in one comparable value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TlsSettings {
    pub cert_file: String,
    pub key_file: String,
    pub key_file_pass: String,
    pub ca_cert_file: String,
    pub ca_cert_dir: String,
    /// `no`, `yes` or `optional`.
    pub auth_clients: String,
    pub protocols: String,
}

impl TlsSettings {
    pub fn from_shared(shared: &Shared) -> TlsSettings {
        TlsSettings {
            cert_file: shared.config_str("tls-cert-file"),
            key_file: shared.config_str("tls-key-file"),
            key_file_pass: shared.config_str("tls-key-file-pass"),
            ca_cert_file: shared.config_str("tls-ca-cert-file"),
            ca_cert_dir: shared.config_str("tls-ca-cert-dir"),
            auth_clients: shared.config_str("tls-auth-clients"),
            protocols: shared.config_str("tls-protocols"),
        }
    }
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate"
        ));
    }
    Ok(certs)
}

fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    path: &str,
) -> Result<(), String> {
    for c in certs {
        roots.add(c).map_err(|e| {
            format!("Failed to configure CA certificate(s) file/directory: {path}: {e}")
        })?;
    }
    Ok(())
}

/// Build the rustls server configuration, or the reason it cannot be built (Redis's startup
/// log lines where they exist).
pub fn build(s: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
    if s.cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if s.key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    if !s.key_file_pass.is_empty() {
        // DEVIATION(redis): rustls reads only unencrypted keys; Redis (OpenSSL) decrypts the key
        // with `tls-key-file-pass`.
        return Err("tls-key-file-pass is not supported: use an unencrypted key file".into());
    }
    let auth = match s.auth_clients.as_str() {
        "" | "yes" => Auth::Required,
        "optional" => Auth::Optional,
        _ => Auth::No,
    };
    if auth != Auth::No && s.ca_cert_file.is_empty() && s.ca_cert_dir.is_empty() {
        return Err(NO_CA.into());
    }
    let chain = read_certs(&s.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&s.key_file)
        .map_err(|e| format!("Failed to load private key: {}: {e}", s.key_file))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocol_versions(&s.protocols)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;

    let builder = if auth == Auth::No {
        builder.with_no_client_auth()
    } else {
        let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(s)?), provider);
        if auth == Auth::Optional {
            v = v.allow_unauthenticated();
        }
        let verifier = v
            .build()
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("Private key does not match the certificate: {e}"))?;
    Ok(Arc::new(config))
}

/// The CA certificates of `tls-ca-cert-file` and `tls-ca-cert-dir`.
fn roots(s: &TlsSettings) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if !s.ca_cert_file.is_empty() {
        add_roots(&mut roots, read_certs(&s.ca_cert_file)?, &s.ca_cert_file)?;
    }
    if !s.ca_cert_dir.is_empty() {
        let dir = std::fs::read_dir(&s.ca_cert_dir).map_err(|e| {
            format!(
                "Failed to configure CA certificate(s) file/directory: {}: {e}",
                s.ca_cert_dir
            )
        })?;
        // OpenSSL looks certificates up by hashed file name; reading every PEM file in the
        // directory accepts the same set.
        for entry in dir.flatten() {
            let p = entry.path();
            if let Ok(certs) = read_certs(&p.to_string_lossy()) {
                add_roots(&mut roots, certs, &s.ca_cert_dir)?;
            }
        }
    }
    Ok(roots)
}

/// The configuration of the connections this server opens as a TLS client (to its master with
/// `tls-replication yes`), as Redis builds its client context: the master's certificate must
/// chain to `tls-ca-cert-file`/`-dir`; this server presents `tls-client-cert-file` and
/// `tls-client-key-file`, or else its own `tls-cert-file` and `tls-key-file`.
pub fn client_config(shared: &Shared) -> Result<Arc<ClientConfig>, String> {
    let s = TlsSettings::from_shared(shared);
    if s.ca_cert_file.is_empty() && s.ca_cert_dir.is_empty() {
        return Err(NO_CA.into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocol_versions(&s.protocols)?;
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(&s)?), provider.clone())
        .build()
        .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)));
    let (cert, key) = match (
        shared.config_str("tls-client-cert-file"),
        shared.config_str("tls-client-key-file"),
    ) {
        (c, k) if !c.is_empty() && !k.is_empty() => (c, k),
        _ => (s.cert_file.clone(), s.key_file.clone()),
    };
    if cert.is_empty() || key.is_empty() {
        return Ok(Arc::new(builder.with_no_client_auth()));
    }
    if !shared.config_str("tls-client-key-file-pass").is_empty() || !s.key_file_pass.is_empty() {
        // DEVIATION(redis): as for the server key, rustls reads only unencrypted keys.
        return Err(
            "tls-client-key-file-pass is not supported: use an unencrypted key file".into(),
        );
    }
    let chain = read_certs(&cert)?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| format!("Failed to load private key: {key}: {e}"))?;
    let config = builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("Private key does not match the certificate: {e}"))?;
    Ok(Arc::new(config))
}

/// Verifies the master's certificate chain against the CA roots but not the host name, as
/// Redis does (its OpenSSL context verifies the peer without a host check): a replica may
/// reach its master by an address the certificate does not name.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        // The chain is verified before the name: a name mismatch means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(NotValidForName))
            | Err(rustls::Error::InvalidCertificate(NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Open a TLS session to `host` over `stream` as a client (the handshake is bounded by the
/// caller's timeout).
pub async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    stream: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("Invalid TLS server name {host}: {e}"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS handshake with the master failed: {e}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    No,
    Required,
    Optional,
}

/// `tls-protocols`: space-separated `TLSv1.2` / `TLSv1.3` (case-insensitive); empty = both.
/// DEVIATION(redis): TLSv1 and TLSv1.1 are refused (rustls does not implement them).
fn protocol_versions(spec: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut out = Vec::new();
    for p in spec.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" => out.push(&rustls::version::TLS12),
            "tlsv1.3" => out.push(&rustls::version::TLS13),
            _ => return Err(format!("Invalid tls-protocols specified: {p}")),
        }
    }
    Ok(out)
}

/// The TLS configuration from the `tls-*` directives (Redis's `tlsConfigure`): at startup when
/// `tls-port` is set, else the first time CONFIG SET turns it on.
pub fn configure(shared: &Shared) -> Result<(TlsSettings, Arc<ServerConfig>), String> {
    let settings = TlsSettings::from_shared(shared);
    let config = build(&settings)?;
    Ok((settings, config))
}

/// One TLS listener's accept loop, run by the listener supervisor ([`crate::listener`]).
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    l: TcpListener,
    mut settings: TlsSettings,
    mut config: Arc<ServerConfig>,
) {
    let laddr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    loop {
        let (sock, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "TLS accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let now = TlsSettings::from_shared(&shared);
        if now != settings {
            match build(&now) {
                Ok(c) => config = c,
                // Keep serving with the previous certificates rather than refusing everyone.
                Err(msg) => warn!(%msg, "TLS configuration change not applied"),
            }
            settings = now;
        }
        let _ = sock.set_nodelay(true);
        crate::server::set_keepalive(&sock, shared.config_i64("tcp-keepalive"));
        let acceptor = TlsAcceptor::from(config.clone());
        let shared = shared.clone();
        let laddr = laddr.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "Error accepting a client connection");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            if let Some(denied) = crate::server::protected_mode_denial(&shared, &peer) {
                // As on the plain port, but the explanation travels inside the TLS session.
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream.write_all(denied.as_bytes()).await;
                let _ = stream.shutdown().await;
                shared
                    .stats
                    .rejected_connections
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            let (rd, wr) = tokio::io::split(stream);
            crate::connection::task::serve(shared, rd, wr, peer.to_string(), laddr, false).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_reported() {
        let mut s = TlsSettings::default();
        assert_eq!(build(&s).unwrap_err(), "No tls-cert-file configured!");
        s.cert_file = "/nonexistent/cert.pem".into();
        assert_eq!(build(&s).unwrap_err(), "No tls-key-file configured!");
        s.key_file = "/nonexistent/key.pem".into();
        s.auth_clients = "yes".into();
        assert!(
            build(&s)
                .unwrap_err()
                .starts_with("Either tls-ca-cert-file")
        );
        s.auth_clients = "no".into();
        assert!(
            build(&s)
                .unwrap_err()
                .starts_with("Failed to load certificate")
        );
    }

    #[test]
    fn protocols() {
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        assert_eq!(protocol_versions("TLSv1.3").unwrap().len(), 1);
        assert_eq!(protocol_versions("tlsv1.2 TLSv1.3").unwrap().len(), 2);
        assert!(protocol_versions("TLSv1").is_err());
    }
}
