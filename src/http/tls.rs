//! Whom the client trusts: the native roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR` in their
//! place, as `rustls-native-certs` reads them), plus an account's `ca_file` bundle. The native
//! roots are read once per run and shared by every client; each distinct `ca_file` adds its
//! certificates to a copy. ALPN offers HTTP/2 and HTTP/1.1, so a server that speaks HTTP/2
//! carries the parallel pages of an account on one connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// A PEM bundle of CA certificates an account trusts besides the native roots (`ca_file`).
/// Read when the config is, so a missing or empty file is a configuration error; two
/// accounts naming the same file share one client.
#[derive(Clone)]
pub struct CaBundle {
    path: PathBuf,
    certs: Arc<Vec<CertificateDer<'static>>>,
}

impl CaBundle {
    /// Reads the certificates of a PEM file; an error says what is wrong with the file.
    pub(crate) fn read(path: &Path) -> Result<CaBundle, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        // A certificate rustls cannot use as a trust anchor fails here, not at the first request.
        let mut roots = RootCertStore::empty();
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("{}: a certificate cannot be trusted: {e}", path.display()))?;
        }
        Ok(CaBundle {
            path: path.to_path_buf(),
            certs: Arc::new(certs),
        })
    }

    /// How many certificates it holds.
    pub(crate) fn len(&self) -> usize {
        self.certs.len()
    }
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CaBundle({}, {} certificates)",
            self.path.display(),
            self.len()
        )
    }
}

// Two bundles are the same trust when they come from the same file (read once per run).
impl PartialEq for CaBundle {
    fn eq(&self, other: &CaBundle) -> bool {
        self.path == other.path
    }
}
impl Eq for CaBundle {}
impl std::hash::Hash for CaBundle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.path.hash(state);
    }
}

/// The native roots, read once per run (`SSL_CERT_FILE` / `SSL_CERT_DIR` replace the
/// platform's store when set). Certificates rustls cannot parse are skipped, as reqwest does.
fn native_roots() -> &'static Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(target: "backups::http", "native roots: {e}");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(
            target: "backups::http",
            "native roots: {added} certificates ({ignored} unusable)"
        );
        Arc::new(roots)
    })
}

/// Starts reading the native roots on a thread of their own, for a command about to make
/// requests: reading and parsing a few hundred certificate files takes milliseconds that
/// the first connection's TCP and TLS round trips can hide (the roots are needed only when
/// the server's certificate arrives).
pub fn warm_native_roots() {
    let _ = std::thread::Builder::new()
        .name("native-roots".into())
        .spawn(|| {
            native_roots();
        });
}

/// The TLS settings of a client trusting the native roots plus `ca` (TLS 1.2 and 1.3, ring),
/// offering HTTP/2 and HTTP/1.1 by ALPN. Building them reads no certificate: see
/// [`DeferredWebPki`].
pub(super) fn client_config(ca: Option<&CaBundle>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(DeferredWebPki {
        ca: ca.cloned(),
        provider: provider.clone(),
        verifier: OnceLock::new(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// rustls's own WebPKI verifier over the native roots plus an account's `ca_file`, built
/// when the first server certificate is checked rather than when the client is: the TCP
/// connect and the ClientHello go out while the roots are still being read
/// ([`warm_native_roots`]). Every check is the WebPKI verifier's; nothing is relaxed.
struct DeferredWebPki {
    ca: Option<CaBundle>,
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
}

impl DeferredWebPki {
    /// The WebPKI verifier; `None` when there is no root to trust at all (every certificate
    /// then has an unknown issuer, as with an empty root store).
    fn verifier(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        let verifier = self.verifier.get_or_init(|| {
            let mut roots = RootCertStore::clone(native_roots());
            if let Some(ca) = &self.ca {
                // Each was added to a store when the bundle was read: none fails here.
                let (_, unusable) = roots.add_parsable_certificates(ca.certs.iter().cloned());
                debug_assert_eq!(unusable, 0);
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .ok()
        });
        verifier.as_ref().ok_or(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }
}

impl std::fmt::Debug for DeferredWebPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredWebPki")
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for DeferredWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = CaBundle::read(&missing).unwrap_err();
        assert!(
            err.starts_with(&format!("cannot read {}: ", missing.display())),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(
            CaBundle::read(&empty).unwrap_err(),
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                empty.display()
            )
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = CaBundle::read(&broken).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "{}: a certificate cannot be trusted: ",
                broken.display()
            )),
            "{err}"
        );
    }
}
