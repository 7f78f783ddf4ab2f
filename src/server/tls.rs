//! TLS: turning the admin's PEM files into a rustls server configuration.
//!
//! Owns: certificate and key loading, protocol versions (TLS 1.2 and 1.3 only) and ALPN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Errors met while loading the certificate chain and key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate file {path}: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("key file {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("certificate {cert} and key {key} do not go together: {message}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// Builds the server configuration from a PEM chain (leaf first) and a PEM private key.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_chain(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        message: describe_pem_error(e),
    })?;
    server_config(chain, key_der).map_err(|e| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Builds the server configuration from PEM text already in memory (the demo's certificate).
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: PathBuf::from("(in memory)"),
            message: describe_pem_error(e),
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
        path: PathBuf::from("(in memory)"),
        message: describe_pem_error(e),
    })?;
    server_config(chain, key).map_err(|e| TlsError::Mismatch {
        cert: PathBuf::from("(in memory)"),
        key: PathBuf::from("(in memory)"),
        message: e.to_string(),
    })
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Certificate {
            path: path.to_owned(),
            message: describe_pem_error(e),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: path.to_owned(),
            message: describe_pem_error(e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: path.to_owned(),
            message: "no CERTIFICATE block in the file".into(),
        });
    }
    Ok(chain)
}

fn describe_pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM block of the expected kind".into(),
        other => format!("{other:?}"),
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // TLS 1.2 and 1.3 only (issue 2); rustls supports nothing older anyway.
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // RFC 7301 / the IANA registry name IMAP "imap"; clients that send no ALPN are served too.
    config.alpn_protocols = vec![b"imap".to_vec()];
    Ok(Arc::new(config))
}
