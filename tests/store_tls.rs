//! A PostgreSQL store reached over TLS: `sslmode=require` (or `verify-ca`,
//! `verify-full`) in the URL encrypts the connection and checks the
//! server's certificate against `sslrootcert` (or the public web roots),
//! and a certificate nobody vouches for is refused with a message that
//! says what to do, never the password. Runs against a throwaway cluster
//! of its own with TLS on, its certificate signed by a CA made here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod pg;
}

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use roundtrip::store::pg::{PgTarget, Transport};
use roundtrip::store::{OpenMode, Store};
use support::pg::{PgDb, ServerTls, fresh_db_on_tls_server};

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    server: ServerTls,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki() -> Pki {
    let ca = ca("roundtrip test CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "roundtrip test server");
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: ServerTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

fn with_params(db: &PgDb, params: &str) -> String {
    format!("{}?{params}", db.url)
}

/// Whether the server sees this session as encrypted.
fn encrypted(target: &PgTarget) -> bool {
    target
        .connect()
        .unwrap()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A database on a TLS cluster of its own, a directory for certificate
/// files, and the path of the CA file that vouches for the server.
fn tls_db() -> (PgDb, tempfile::TempDir, String) {
    let pki = pki();
    let db = fresh_db_on_tls_server(&pki.server);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &pki.ca_pem);
    (db, dir, ca_file)
}

#[test]
fn tls_is_used_when_the_url_asks_and_the_certificate_is_checked() {
    let (db, dir, ca_file) = tls_db();

    // Without sslmode the connection is plain, as before.
    let plain = PgTarget::parse(&db.url, Some(db.password.clone())).unwrap();
    assert_eq!(plain.transport(), Transport::Plain);
    assert!(!encrypted(&plain));

    // With the CA named, every TLS mode connects encrypted.
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = with_params(&db, &format!("sslmode={mode}&sslrootcert={ca_file}"));
        let target = PgTarget::parse(&url, Some(db.password.clone())).unwrap();
        assert_eq!(target.transport(), Transport::Verified);
        assert!(encrypted(&target), "{mode}");
    }

    // Without the CA (the public roots only) or with another CA, the
    // server's certificate is refused: say what to do, never the password.
    let other = write(dir.path(), "other.pem", &ca("someone else").pem());
    for params in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-full&sslrootcert={other}"),
    ] {
        let target =
            PgTarget::parse(&with_params(&db, &params), Some(db.password.clone())).unwrap();
        let err = target.connect().err().expect("refused").to_string();
        assert!(err.contains("certificate"), "{params}: {err}");
        assert!(err.contains("sslrootcert=PATH"), "{params}: {err}");
        assert!(!err.contains(&db.password), "{params}: {err}");
    }
}

#[test]
fn a_store_and_the_cli_work_over_tls() {
    let (db, _dir, ca_file) = tls_db();
    let url = with_params(&db, &format!("sslmode=verify-full&sslrootcert={ca_file}"));
    let target = PgTarget::parse(&url, Some(db.password.clone())).unwrap();
    let store = Store::open_postgres(&target, OpenMode::Create).unwrap();
    assert!(store.db().schema_version().unwrap() > 0);
    drop(store);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["status", "--db", &url])
        .env("PGPASSWORD", &db.password)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The store was read over TLS: its schema and what it knows (no engine
    // has run on it yet, which is the verdict), not a connection failure.
    assert!(text.contains("(schema v"), "{text}");
    assert!(
        text.contains("the engine has never run against this store"),
        "{text}"
    );
    assert!(!text.contains(&db.password), "{text}");
}

#[test]
fn tls_settings_that_cannot_work_are_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://rt@127.0.0.1:9/rt";
    let refused = |params: &str| {
        PgTarget::parse(&format!("{url}?{params}"), Some("pw".into()))
            .unwrap_err()
            .to_string()
    };
    let err = refused("sslmode=sometimes");
    assert!(err.contains("sslmode=sometimes is not one of"), "{err}");
    let ca = write(dir.path(), "ca.pem", &ca("x").pem());
    let err = refused(&format!("sslrootcert={ca}"));
    assert!(err.contains("sslmode does not ask for TLS"), "{err}");
    let missing = dir.path().join("missing.pem").display().to_string();
    let err = refused(&format!("sslmode=verify-full&sslrootcert={missing}"));
    assert!(err.contains(&format!("sslrootcert {missing}")), "{err}");
    let empty = write(dir.path(), "empty.pem", "not a certificate\n");
    let err = refused(&format!("sslmode=verify-full&sslrootcert={empty}"));
    assert!(err.contains("holds no PEM certificate"), "{err}");
    // Other parameters still reach the driver.
    let t = PgTarget::parse(&format!("{url}?sslmode=disable&connect_timeout=3"), None).unwrap();
    assert_eq!(t.transport(), Transport::Plain);
}
