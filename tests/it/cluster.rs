//! Throwaway PostgreSQL clusters, made with `initdb` in a temporary
//! directory, for tests that need a server configured otherwise than the
//! shared one: a second cluster (replay), a role whose password is really
//! checked, TLS with a certificate of the test's own (tests/fixtures/tls). The shared server is
//! never reconfigured: the README's test command must pass against any
//! reachable server with default settings.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

/// How a cluster differs from initdb's trust-everything default.
#[derive(Default)]
pub struct Setup {
    /// pg_hba.conf lines put before initdb's (the first match wins).
    pub hba_first: Vec<String>,
    /// Serve TLS with the self-signed certificate for `localhost` of
    /// tests/fixtures/tls.
    pub tls: bool,
}

/// A running cluster: trust authentication unless `Setup` says otherwise,
/// its socket in its own directory, a free port; stopped and removed when
/// dropped, panics included.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::start_with(&Setup::default())
    }

    pub fn start_with(setup: &Setup) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster { dir, port };
        let client_dir = cluster.dir.path().join("client");
        std::fs::create_dir(&client_dir).unwrap();
        if as_root() {
            // The server refuses to run as root: it runs as postgres.
            cluster.chown(cluster.dir.path());
        }
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        if !setup.hba_first.is_empty() {
            let hba = Path::new(&cluster.data()).join("pg_hba.conf");
            let rest = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(&hba, format!("{}\n{rest}", setup.hba_first.join("\n"))).unwrap();
        }
        let mut opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.dir.path().display()
        );
        if setup.tls {
            opts.push_str(&cluster.make_certificate());
        }
        let log = cluster.dir.path().join("log").display().to_string();
        cluster.pg(
            "pg_ctl",
            &[
                "-D",
                &cluster.data(),
                "-o",
                &opts,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
        cluster
    }

    /// Copies the self-signed certificate for `localhost` and its key
    /// (tests/fixtures/tls) into the data directory, the certificate also
    /// as the clients' root; returns the server options that serve it.
    fn make_certificate(&self) -> String {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let pem = std::fs::read_to_string(fixtures.join("localhost.crt")).unwrap();
        let private = std::fs::read_to_string(fixtures.join("localhost.key")).unwrap();
        let data = PathBuf::from(self.data());
        let (cert, key) = (data.join("server.crt"), data.join("server.key"));
        std::fs::write(&cert, &pem).unwrap();
        std::fs::write(&key, private).unwrap();
        std::fs::write(self.root_cert(), &pem).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        if as_root() {
            self.chown(&cert);
            self.chown(&key);
        }
        format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        )
    }

    /// The PEM file clients trust as the root of the server's certificate
    /// (with `Setup::tls`).
    pub fn root_cert(&self) -> String {
        self.dir
            .path()
            .join("client")
            .join("root.crt")
            .display()
            .to_string()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn chown(&self, path: &Path) {
        let st = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "chown {}", path.display());
    }

    /// Runs a server program of the installation, as postgres if we are root.
    fn pg(&self, program: &str, args: &[&str]) {
        let bin = pg_bin().join(program);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
    }

    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Whatever the test did: stop it now, the directory goes next.
        let bin = pg_bin().join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(args)
                .output()
        } else {
            Command::new(&bin).args(args).output()
        };
    }
}

/// The server programs: `DBGUARD_TEST_PG_BIN`, else the newest installed
/// under /usr/lib/postgresql.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("DBGUARD_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    versions
        .pop()
        .filter(|p| p.join("initdb").exists())
        .expect("no PostgreSQL server programs: set DBGUARD_TEST_PG_BIN to the directory of initdb")
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
