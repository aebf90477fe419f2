//! TLS for libpq's six `sslmode` values: which root certificates to trust,
//! how much of the server's certificate to check, and the connector the
//! driver uses.
//!
//! tokio-postgres knows only disable, prefer and require; everything
//! certificate-related is decided here, in the rustls configuration handed
//! to it. The rule throughout is libpq's: a root certificate, once given,
//! is always checked (require becomes verify-ca), and a verifying mode
//! never falls through to accepting any certificate. The connector also
//! wraps handshake failures in a type of their own, so the connecting code
//! tells them apart from other I/O errors by type, not by text.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use postgres::tls::{MakeTlsConnect, TlsConnect};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{PgParams, is_socket_host};
use crate::error::{Error, Result};

/// What to check for in the server's certificate, per libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling; anything else is an input error naming the
    /// value, because a typo here could silently weaken verification.
    pub fn parse(s: &str) -> Result<SslMode> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "allow" => Ok(SslMode::Allow),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(Error::input(format!(
                "invalid sslmode value \"{other}\"\nUse one of disable, allow, prefer, require, verify-ca, verify-full."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which certificates to trust, after libpq's defaults were applied.
enum Roots {
    /// No root file: no verification (or an error, for verify-*).
    None,
    /// The roots to verify against: the operating system's store
    /// (`sslrootcert=system`), or only the certificates of the root file.
    Trusted(RootCertStore),
}

fn load_roots(params: &PgParams) -> Result<Roots> {
    let path = match (&params.sslrootcert, &params.default_sslrootcert) {
        (Some(p), _) if p == Path::new("system") => return system_roots(),
        (Some(p), _) => p.clone(),
        (None, Some(p)) if p.is_file() => p.clone(),
        (None, default) => {
            if params.sslmode.verifies() {
                return Err(missing_root(params.sslmode, default.as_deref()));
            }
            return Ok(Roots::None);
        }
    };
    let pem = std::fs::read(&path).map_err(|e| {
        Error::connect(format!(
            "cannot read root certificate file \"{}\": {e}\nCheck the sslrootcert path and its permissions.",
            path.display()
        ))
    })?;
    let certs = parse_pem_certificates(&pem).map_err(|e| {
        Error::connect(format!(
            "root certificate file \"{}\" is not valid PEM: {e}\nGive sslrootcert a file of PEM certificates (-----BEGIN CERTIFICATE-----).",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(Error::connect(format!(
            "root certificate file \"{}\" contains no certificate\nGive sslrootcert a file of PEM certificates (-----BEGIN CERTIFICATE-----).",
            path.display()
        )));
    }
    // libpq trusts only the given file, not the system store as well.
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| {
            Error::connect(format!(
                "root certificate file \"{}\" holds a certificate that cannot be used as a root: {e}\nGive sslrootcert the CA certificate that signed the server's certificate.",
                path.display()
            ))
        })?;
    }
    Ok(Roots::Trusted(store))
}

fn missing_root(sslmode: SslMode, default: Option<&Path>) -> Error {
    let file = default
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.postgresql/root.crt".to_owned());
    Error::connect(format!(
        "sslmode={sslmode} needs a root certificate, and \"{file}\" does not exist\nGive sslrootcert=FILE (the CA that signed the server's certificate), or sslrootcert=system to trust the system's CAs."
    ))
}

/// The operating system's trusted roots, read the way OpenSSL finds them
/// (`SSL_CERT_FILE`, `SSL_CERT_DIR`, then the distribution's bundle), so
/// `sslrootcert=system` trusts what libpq would.
fn system_roots() -> Result<Roots> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    // Unparsable entries are skipped, as OpenSSL skips them: one odd
    // certificate in a bundle of hundreds must not disable verification.
    let (added, _skipped) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(Error::connect(format!(
            "sslrootcert=system found no trusted root certificates on this system{why}\nInstall the CA bundle (ca-certificates), point SSL_CERT_FILE at one, or give sslrootcert=FILE."
        )));
    }
    Ok(Roots::Trusted(store))
}

/// Every certificate of a PEM bundle (CA files often hold a chain); other
/// sections such as keys are skipped, and text around them is ignored.
fn parse_pem_certificates(
    pem: &[u8],
) -> std::result::Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem).collect()
}

/// The connector handed to the driver: rustls, through
/// tokio-postgres-rustls, with handshake failures wrapped in
/// [`HandshakeError`] so they can be told apart from other I/O errors
/// (which rustls reports as `std::io::Error` too).
///
/// It also records how far the driver got with TLS (`Progress`): the
/// driver reports a server that declined TLS only as a message, and this
/// record says the same thing by structure.
#[derive(Clone)]
pub struct TlsConnector {
    inner: MakeRustlsConnect,
    progress: Arc<Progress>,
}

/// How far the driver got with TLS in one connection attempt. The driver
/// asks for a connector for the host once the socket is open, then sends
/// SSLRequest, and starts the handshake only when the server answers 'S'.
#[derive(Debug, Default)]
struct Progress {
    /// The driver asked for a connector for the host.
    prepared: AtomicBool,
    /// The driver started a handshake.
    handshaking: AtomicBool,
}

impl TlsConnector {
    /// A copy for one connection attempt, with a fresh record of progress.
    pub(super) fn for_attempt(&self) -> TlsConnector {
        TlsConnector {
            inner: self.inner.clone(),
            progress: Arc::default(),
        }
    }

    /// Whether the driver got as far as TLS (it asked for a connector for
    /// the host) but never started the handshake.
    pub(super) fn stopped_before_handshake(&self) -> bool {
        self.progress.prepared.load(Ordering::SeqCst)
            && !self.progress.handshaking.load(Ordering::SeqCst)
    }
}

impl<S> MakeTlsConnect<S> for TlsConnector
where
    MakeRustlsConnect: MakeTlsConnect<S>,
    <<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect as TlsConnect<S>>::Future: Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Handshake<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(
        &mut self,
        domain: &str,
    ) -> std::result::Result<Self::TlsConnect, Self::Error> {
        let inner = self.inner.make_tls_connect(domain)?;
        self.progress.prepared.store(true, Ordering::SeqCst);
        Ok(Handshake {
            inner,
            progress: Arc::clone(&self.progress),
        })
    }
}

/// One TLS handshake; see [`TlsConnector`].
pub struct Handshake<T> {
    inner: T,
    progress: Arc<Progress>,
}

impl<S, T> TlsConnect<S> for Handshake<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = T::Stream;
    type Error = HandshakeError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<T::Stream, HandshakeError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        self.progress.handshaking.store(true, Ordering::SeqCst);
        let handshake = self.inner.connect(stream);
        Box::pin(async move { handshake.await.map_err(|e| HandshakeError(e.into())) })
    }
}

/// A failed TLS handshake: a certificate that did not verify, no common
/// protocol version, or the server closing the connection mid-handshake.
#[derive(Debug)]
pub struct HandshakeError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// sslmode=require (or prefer/allow) without a root certificate: libpq
/// encrypts but accepts whatever certificate the server shows. The
/// handshake signatures are still verified, so the peer must hold the key
/// of the certificate it sent and the session keys are not forgeable by a
/// passive observer.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// sslmode=verify-ca (and require/prefer with a root certificate): the
/// chain must lead to a trusted root, but the certificate need not name
/// the host. webpki checks the name last, after the chain, validity dates
/// and key usage, so a name mismatch means everything else passed; every
/// other error is passed on.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

fn tls_setup_error(e: impl fmt::Display) -> Error {
    Error::connect(format!(
        "cannot set up TLS: {e}\nCheck the sslrootcert file, or use sslmode=disable for a server without TLS."
    ))
}

/// The TLS connector for these parameters, or `None` when TLS will never
/// be used (sslmode=disable, or only Unix sockets, where libpq does not do
/// SSL either).
pub(crate) fn tls_connector(params: &PgParams) -> Result<Option<TlsConnector>> {
    if params.sslmode == SslMode::Disable || params.hosts.iter().all(|h| is_socket_host(h)) {
        return Ok(None);
    }
    let roots = load_roots(params)?;
    // The provider is given explicitly rather than taken from rustls'
    // process-wide default, which panics when no default (or more than one
    // candidate) is installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(tls_setup_error)?;
    let webpki = |store: RootCertStore| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider))
            .build()
            .map_err(tls_setup_error)
    };
    let config = match (roots, params.sslmode) {
        (Roots::Trusted(store), SslMode::VerifyFull) => builder
            .with_webpki_verifier(webpki(store)?)
            .with_no_client_auth(),
        // A root file turns require (and prefer) into verify-ca, as libpq
        // does, so adding a CA never silently means "trust anything".
        (Roots::Trusted(store), _) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(webpki(store)?)))
            .with_no_client_auth(),
        // load_roots refuses this already; checked again so a verifying
        // mode can never fall through to accepting any certificate.
        (Roots::None, mode) if mode.verifies() => {
            return Err(missing_root(mode, params.default_sslrootcert.as_deref()));
        }
        (Roots::None, _) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(Arc::clone(&provider))))
            .with_no_client_auth(),
    };
    Ok(Some(TlsConnector {
        inner: MakeRustlsConnect::new(config),
        progress: Arc::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::r;
    use super::*;

    /// Two self-signed test roots (generated once with `openssl req -x509`).
    const ROOT_1: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBiTCCAS+gAwIBAgIUIOvEm92ozGuMTj2MmarHGOzU9NwwCgYIKoZIzj0EAwIw\n\
GTEXMBUGA1UEAwwOdW5pdC10ZXN0LXJvb3QwIBcNMjYxMTIxMDkzMDA3WhgPMjEy\n\
NjEwMjgwOTMwMDdaMBkxFzAVBgNVBAMMDnVuaXQtdGVzdC1yb290MFkwEwYHKoZI\n\
zj0CAQYIKoZIzj0DAQcDQgAE4RT6q4TajS3tB3ardgTm8QIK/D49DMi38UcMSR9H\n\
jgt3ye3xfSzSOZFcVsQ9UpjRBlLN3RCT4/sPvWl/Gk11t6NTMFEwHQYDVR0OBBYE\n\
FErYPVeZVeBtTFJoehUf8C90bu7SMB8GA1UdIwQYMBaAFErYPVeZVeBtTFJoehUf\n\
8C90bu7SMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAOPk3HyA\n\
1TOu7GdZjW843QkoQvs+GpBlfV3LDLAsJ2E9AiB+o0Qq8DjNM88SqqrAfqIRXKs9\n\
AW2BjaBEP39BCidvug==\n\
-----END CERTIFICATE-----\n\
";
    const ROOT_2: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBjDCCATOgAwIBAgIURe2yA7ZhACwdUWUOOKfCSMxF234wCgYIKoZIzj0EAwIw\n\
GzEZMBcGA1UEAwwQdW5pdC10ZXN0LXJvb3QtMjAgFw0yNjExMjEwOTMwMDdaGA8y\n\
MTI2MTAyODA5MzAwN1owGzEZMBcGA1UEAwwQdW5pdC10ZXN0LXJvb3QtMjBZMBMG\n\
ByqGSM49AgEGCCqGSM49AwEHA0IABCISnX0flJklSNGDjjCldOlBPm0JKKoL/luV\n\
J3N5bHNVn/xIc3QtN2asBCesUPzSbggQcKfWv+g1tgmNTg3QPHSjUzBRMB0GA1Ud\n\
DgQWBBQiUxEFEyTrBivhob15+UwJyhOvZjAfBgNVHSMEGDAWgBQiUxEFEyTrBivh\n\
ob15+UwJyhOvZjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFSF\n\
5oeWga10BifcIOIk5adtxkknoBacuBONqf6ASU9KAiBwn7zuMfFikpq+W22FRy9j\n\
p3OduKyxiwOpCNrmEsTZ/g==\n\
-----END CERTIFICATE-----\n\
";

    #[test]
    fn pem_bundles_load_every_certificate() {
        let bundle = format!("junk before\n{ROOT_1}comment between\n{ROOT_2}");
        let certs = parse_pem_certificates(bundle.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(certs.len(), 2);
        let mut store = RootCertStore::empty();
        for cert in certs {
            store.add(cert).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(store.len(), 2);
        // A cut-off certificate is an error, not silently fewer roots.
        let truncated = format!("{ROOT_1}-----BEGIN CERTIFICATE-----\ntruncated");
        assert!(parse_pem_certificates(truncated.as_bytes()).is_err());
        let no_pem = parse_pem_certificates(b"not pem at all").unwrap_or_else(|e| panic!("{e}"));
        assert!(no_pem.is_empty());
    }

    #[test]
    fn tls_connector_per_mode() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().join("root.pem");
        std::fs::write(&root, ROOT_1).unwrap_or_else(|e| panic!("{e}"));
        let with = |extra: &str| r(&format!("host=h {extra}"));
        assert!(tls_connector(&with("sslmode=disable")).is_ok_and(|c| c.is_none()));
        assert!(tls_connector(&r("host=/tmp sslmode=require")).is_ok_and(|c| c.is_none()));
        assert!(tls_connector(&with("sslmode=require")).is_ok_and(|c| c.is_some()));
        for mode in ["prefer", "require", "verify-ca", "verify-full"] {
            let p = with(&format!("sslmode={mode} sslrootcert={}", root.display()));
            assert!(tls_connector(&p).is_ok_and(|c| c.is_some()), "{mode}");
        }
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "no certificates here").unwrap_or_else(|e| panic!("{e}"));
        let e = tls_connector(&with(&format!(
            "sslmode=verify-ca sslrootcert={}",
            junk.display()
        )));
        assert!(e.is_err_and(|e| e.message.contains("contains no certificate")));
        let e = tls_connector(&with("sslmode=verify-ca sslrootcert=/nonexistent/root.pem"));
        assert!(e.is_err_and(|e| e.message.contains("cannot read root certificate file")));
    }
}
