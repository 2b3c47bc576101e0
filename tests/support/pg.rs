//! A PostgreSQL server for tests, with a fresh database per test.
//!
//! `ROUNDTRIP_TEST_PG_URL` (set by `.ci/run`) names a server to use, as
//! `postgres://USER:PASSWORD@127.0.0.1:PORT/DB` (or the password in
//! `PGPASSWORD`). Without it a throwaway cluster is started: `initdb` into a
//! temporary directory, listening only on 127.0.0.1 on a free port with its
//! socket inside that directory, and stopped (`pg_ctl stop -m fast`) when the
//! last test holding it drops it. As root, `initdb` and `pg_ctl` run as the
//! `postgres` system user (initdb refuses root). No PostgreSQL installed is
//! a test failure that says how to install it, never a silent pass.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The user the throwaway cluster's superuser is called.
const USER: &str = "roundtrip";

/// One empty database on the test server, dropped with this value.
pub struct PgDb {
    /// `postgres://USER@127.0.0.1:PORT/NAME`, without the password.
    pub url: String,
    /// The password for [`PgDb::url`].
    pub password: String,
    /// The database's name.
    pub name: String,
    server: Arc<Server>,
}

impl PgDb {
    /// A connection to this database.
    pub fn client(&self) -> postgres::Client {
        self.server.connect(&self.name)
    }

    /// The URL with the password inside it.
    pub fn url_with_password(&self) -> String {
        let mut u = url::Url::parse(&self.url).unwrap();
        u.set_password(Some(&self.password)).unwrap();
        u.to_string()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        off_runtime(|| {
            let mut admin = self.server.connect(&self.server.admin_db);
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        });
    }
}

/// A fresh, empty database on the shared test server (started on first use).
pub fn fresh_db() -> PgDb {
    create_db("")
}

/// A fresh, empty database whose collation and character classes are
/// `locale` (e.g. `C.utf8`, where `lower()` folds more than ASCII).
pub fn fresh_db_in_locale(locale: &str) -> PgDb {
    create_db(&format!(
        " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE '{locale}' LC_CTYPE '{locale}'"
    ))
}

/// Run `f` (which blocks on the driver's own runtime) on a thread of its
/// own when called from async code, where a nested runtime would panic.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn create_db(options: &str) -> PgDb {
    off_runtime(|| create_db_here(shared_server(), options))
}

/// The server certificate and key a TLS cluster presents (PEM).
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A fresh database on a throwaway cluster of its own that accepts TLS
/// with `tls` (and plain TCP too, as a default server does): a test of
/// encrypted connections cannot borrow a shared server whose settings it
/// does not know.
pub fn fresh_db_on_tls_server(tls: &ServerTls) -> PgDb {
    off_runtime(|| create_db_here(Arc::new(Cluster::start(Some(tls))), ""))
}

fn create_db_here(server: Arc<Server>, options: &str) -> PgDb {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "rt_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = server.connect(&server.admin_db);
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\"{options}"))
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let mut u = url::Url::parse(&server.base_url).unwrap();
    u.set_path(&name);
    PgDb {
        url: u.to_string(),
        password: server.password.clone(),
        name,
        server,
    }
}

/// The server every test in this process shares while any of them holds it.
fn shared_server() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.upgrade() {
        return s;
    }
    let server = Arc::new(Server::start());
    *slot = Arc::downgrade(&server);
    server
}

struct Server {
    /// `postgres://USER@HOST:PORT/` without a password or database.
    base_url: String,
    password: String,
    /// The database to connect to for CREATE/DROP DATABASE.
    admin_db: String,
    cluster: Option<Cluster>,
}

impl Server {
    fn start() -> Server {
        match std::env::var("ROUNDTRIP_TEST_PG_URL") {
            Ok(raw) if !raw.is_empty() => Server::external(&raw),
            _ => Cluster::start(None),
        }
    }

    fn external(raw: &str) -> Server {
        let mut u = url::Url::parse(raw)
            .unwrap_or_else(|e| panic!("ROUNDTRIP_TEST_PG_URL is not a URL: {e}"));
        let password = u
            .password()
            .map(|p| {
                url::form_urlencoded::parse(format!("p={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .or_else(|| std::env::var("PGPASSWORD").ok())
            .expect("ROUNDTRIP_TEST_PG_URL needs a password (in the URL or PGPASSWORD): the tests check that a wrong one is refused");
        let admin_db = u.path().trim_start_matches('/').to_string();
        let admin_db = if admin_db.is_empty() {
            "postgres".to_string()
        } else {
            admin_db
        };
        u.set_password(None).unwrap();
        u.set_path("");
        Server {
            base_url: u.to_string(),
            password,
            admin_db,
            cluster: None,
        }
    }

    fn connect(&self, db: &str) -> postgres::Client {
        let mut u = url::Url::parse(&self.base_url).unwrap();
        u.set_path(db);
        let mut config: postgres::Config = u.as_str().parse().unwrap();
        config.password(&self.password);
        config
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test server at {u}: {e}"))
    }
}

/// A throwaway cluster in a temporary directory.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "fast", "-w"])
            .output();
    }
}

impl Cluster {
    /// initdb and start a cluster; with `tls`, it also accepts TLS
    /// connections presenting that certificate.
    fn start(tls: Option<&ServerTls>) -> Server {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): \
                 install it with `apt-get install postgresql` (Debian/Ubuntu), or set \
                 ROUNDTRIP_TEST_PG_URL to a server the tests may create databases on"
            )
        });
        let as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::Builder::new()
            .prefix("roundtrip-pg-")
            .tempdir()
            .unwrap();
        set_mode(dir.path(), 0o755);
        let data = dir.path().join("data");
        let run = dir.path().join("run");
        let pwfile = dir.path().join("pw");
        let password = format!("pw-{:016x}", fastrand::u64(..));
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&run).unwrap();
        std::fs::write(&pwfile, &password).unwrap();
        set_mode(&data, 0o700);
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:")
                .args([&data, &run, &pwfile])
                .status()
                .unwrap();
            assert!(
                status.success(),
                "cannot give the cluster's directory to the postgres user (is there one? Debian's postgresql package creates it)"
            );
        }
        let cluster = Cluster {
            bin,
            data,
            as_postgres,
            _dir: dir,
        };
        let init = cluster
            .command("initdb")
            .arg("-D")
            .arg(&cluster.data)
            .args([
                "-U",
                USER,
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let mut extra = String::new();
        if let Some(tls) = tls {
            let (cert, key) = (
                cluster.data.join("server.crt"),
                cluster.data.join("server.key"),
            );
            std::fs::write(&cert, &tls.cert_pem).unwrap();
            std::fs::write(&key, &tls.key_pem).unwrap();
            // The server refuses a key others can read.
            set_mode(&key, 0o600);
            if as_postgres {
                let status = Command::new("chown")
                    .arg("postgres:")
                    .args([&cert, &key])
                    .status()
                    .unwrap();
                assert!(
                    status.success(),
                    "cannot give the TLS files to the postgres user"
                );
            }
            extra = " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key".into();
        }
        let port = cluster.start_on_free_port(&run, &extra);
        Server {
            base_url: format!("postgres://{USER}@127.0.0.1:{port}/"),
            password,
            admin_db: "postgres".to_string(),
            cluster: Some(cluster),
        }
    }

    /// Start the server; a port taken between choosing and binding it is
    /// tried again with another.
    fn start_on_free_port(&self, run: &Path, extra: &str) -> u16 {
        let log = run.join("log");
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off{extra}",
                run.display()
            );
            let out = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .unwrap();
            if out.status.success() {
                return port;
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("the test PostgreSQL cluster did not start: {last}");
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user cannot enter root's working directory.
        cmd.current_dir(self._dir.path());
        cmd.env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST");
        cmd
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, else the newest
/// `/usr/lib/postgresql/N/bin` (Debian keeps them off PATH).
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_tools(&d) {
                return Some(d);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}
