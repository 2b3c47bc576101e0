//! Benchmarks on PostgreSQL: with `ROUNDTRIP_BENCH_PG_URL` set
//! (`postgres://USER:PASSWORD@127.0.0.1:PORT/DB`, a server you started),
//! each store a benchmark opens is a fresh database on that server, dropped
//! at the end; without it, a SQLite file as always.

use roundtrip::store::StoreLocation;
use roundtrip::store::pg::PgTarget;
use roundtrip::store::sql::off_runtime;

/// A benchmark's store and, on PostgreSQL, the database to drop after.
pub struct BenchStore {
    pub location: StoreLocation,
    /// `sqlite` or `postgres`, for the JSON results.
    pub backend: &'static str,
    dropper: Option<(url::Url, String)>,
}

/// The server named by `ROUNDTRIP_BENCH_PG_URL`, if any.
pub fn server() -> Option<url::Url> {
    std::env::var("ROUNDTRIP_BENCH_PG_URL")
        .ok()
        .map(|u| url::Url::parse(&u).expect("ROUNDTRIP_BENCH_PG_URL is not a URL"))
}

/// A store called `label`: under `dir` as a file, or a fresh database.
pub fn bench_store(label: &str, dir: &std::path::Path) -> BenchStore {
    let Some(admin) = server() else {
        return BenchStore {
            location: StoreLocation::File(dir.join(format!("{label}.db"))),
            backend: "sqlite",
            dropper: None,
        };
    };
    let name = format!("rt_bench_{label}_{}", std::process::id());
    off_runtime(|| {
        let mut client = postgres::Client::connect(admin.as_str(), postgres::NoTls)
            .expect("connect to ROUNDTRIP_BENCH_PG_URL");
        // One statement each: neither may run inside a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            client
                .batch_execute(&sql)
                .expect("create the bench database");
        }
    });
    let mut url = admin.clone();
    url.set_path(&name);
    let target = PgTarget::parse(url.as_str(), None).expect("bench database URL");
    BenchStore {
        location: StoreLocation::Postgres(std::sync::Arc::new(target)),
        backend: "postgres",
        dropper: Some((admin, name)),
    }
}

impl Drop for BenchStore {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.dropper.take() {
            off_runtime(move || {
                if let Ok(mut client) = postgres::Client::connect(admin.as_str(), postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            });
        }
    }
}
