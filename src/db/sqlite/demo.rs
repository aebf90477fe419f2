//! `dbguard demo`: a realistic SQLite database to try the shell on.
//!
//! The schema is modelled on a build service, the setting of the incident
//! dbguard exists for: `architectures` are referenced by
//! `distribution_architectures` through a cascading foreign key, and by
//! `repository_architectures.architecture_id` through *no* foreign key at
//! all, the way many Rails and Django apps are built. Deleting an
//! architecture there silently leaves repositories pointing at nothing.
//!
//! The data is generated deterministically (a fixed-seed generator), so the
//! demo, the README and the tests all see the same rows.

use std::path::Path;

use rusqlite::{Connection as RawConnection, params};

use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE architectures (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT
);
CREATE TABLE distributions (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    released_on  TEXT,
    UNIQUE (name, version)
);
CREATE TABLE distribution_architectures (
    id              INTEGER PRIMARY KEY,
    distribution_id INTEGER NOT NULL REFERENCES distributions(id) ON DELETE CASCADE,
    architecture_id INTEGER NOT NULL REFERENCES architectures(id) ON DELETE CASCADE,
    is_default      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (distribution_id, architecture_id)
);
CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    title       TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE packages (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE repositories (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
    distribution_id INTEGER REFERENCES distributions(id) ON DELETE SET NULL,
    name            TEXT NOT NULL,
    UNIQUE (project_id, name)
);
-- No foreign key on architecture_id: the association lives only in the
-- application code, like in the incident this demo retells.
CREATE TABLE repository_architectures (
    id              INTEGER PRIMARY KEY,
    repository_id   INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    architecture_id INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    UNIQUE (repository_id, architecture_id)
);
CREATE TABLE flags (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    architecture_id INTEGER REFERENCES architectures(id) ON DELETE SET NULL,
    flag            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('enable', 'disable'))
);
"#;

const ARCHITECTURES: &[(&str, &str)] = &[
    ("x86_64", "64-bit x86"),
    ("i586", "32-bit x86 (Pentium)"),
    ("i686", "32-bit x86 (Pentium Pro)"),
    ("aarch64", "64-bit ARM"),
    ("armv7l", "32-bit ARM, hard float"),
    ("armv6l", "32-bit ARM (Raspberry Pi 1)"),
    ("ppc64le", "64-bit POWER, little endian"),
    ("ppc64", "64-bit POWER, big endian"),
    ("s390x", "IBM Z"),
    ("riscv64", "64-bit RISC-V"),
    ("loongarch64", "LoongArch"),
    ("m68k", "Motorola 68000"),
];

const DISTRIBUTIONS: &[(&str, &str, &str)] = &[
    ("openSUSE Tumbleweed", "rolling", "2014-11-04"),
    ("openSUSE Leap", "15.5", "2023-06-07"),
    ("openSUSE Leap", "15.6", "2024-06-12"),
    ("SUSE Linux Enterprise", "15 SP5", "2023-06-20"),
    ("SUSE Linux Enterprise", "15 SP6", "2024-06-25"),
    ("Fedora", "39", "2023-11-07"),
    ("Fedora", "40", "2024-04-23"),
    ("Fedora", "41", "2024-10-29"),
    ("Fedora", "Rawhide", "2003-11-06"),
    ("Debian", "11", "2021-08-14"),
    ("Debian", "12", "2023-06-10"),
    ("Debian", "13", "2025-08-09"),
    ("Ubuntu", "22.04", "2022-04-21"),
    ("Ubuntu", "24.04", "2024-04-25"),
    ("Arch Linux", "rolling", "2002-03-11"),
    ("Mageia", "9", "2023-08-26"),
];

const WORDS: &[&str] = &[
    "python",
    "perl",
    "ruby",
    "rust",
    "go",
    "kde",
    "gnome",
    "xfce",
    "server",
    "network",
    "database",
    "science",
    "games",
    "tools",
    "devel",
    "libs",
    "kernel",
    "security",
    "mozilla",
    "java",
    "haskell",
    "ocaml",
    "lua",
    "php",
    "nodejs",
    "texlive",
    "multimedia",
    "graphics",
];

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter",
];

/// A tiny fixed-seed generator: the demo must be the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Creates (or recreates) the demo database at `path`.
pub fn create(path: &Path) -> Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove old demo file {p}: {e}"))),
        }
    }
    let mut conn = RawConnection::open(path).map_err(|e| {
        Error::io(format!(
            "cannot create demo database {}: {e}",
            path.display()
        ))
    })?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    fill(&tx)?;
    tx.commit()?;
    Ok(())
}

fn fill(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let mut rng = Lcg(0x5eed_d86a_a2d0);
    for (i, (name, desc)) in ARCHITECTURES.iter().enumerate() {
        tx.execute(
            "INSERT INTO architectures (id, name, description) VALUES (?1, ?2, ?3)",
            params![i as i64 + 1, name, desc],
        )?;
    }
    let narch = ARCHITECTURES.len();
    for (i, (name, version, released)) in DISTRIBUTIONS.iter().enumerate() {
        let id = i as i64 + 1;
        tx.execute(
            "INSERT INTO distributions (id, name, version, released_on) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, version, released],
        )?;
        // Every distribution builds x86_64 and a handful of others; old
        // ones still carry i586.
        let mut archs: Vec<usize> = vec![0];
        if released < &"2024-01-01" {
            archs.push(1);
        }
        for _ in 0..4 {
            let a = 2 + rng.below(narch - 2);
            if !archs.contains(&a) {
                archs.push(a);
            }
        }
        for (pos, a) in archs.iter().enumerate() {
            tx.execute(
                "INSERT INTO distribution_architectures (distribution_id, architecture_id, is_default) VALUES (?1, ?2, ?3)",
                params![id, *a as i64 + 1, (pos == 0) as i64],
            )?;
        }
    }
    let mut stmt_pkg = tx.prepare(
        "INSERT INTO packages (project_id, name, version, updated_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut stmt_repo = tx.prepare(
        "INSERT INTO repositories (id, project_id, distribution_id, name) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut stmt_ra = tx.prepare(
        "INSERT INTO repository_architectures (repository_id, architecture_id, position) VALUES (?1, ?2, ?3)",
    )?;
    let mut stmt_flag = tx.prepare(
        "INSERT INTO flags (project_id, architecture_id, flag, status) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut repo_id = 0i64;
    let mut taken = std::collections::HashSet::new();
    let nprojects = 240;
    for p in 0..nprojects {
        let id = p as i64 + 1;
        let name = if p % 3 == 0 {
            format!("home:{}:{}", rng.pick(USERS), rng.pick(WORDS))
        } else {
            format!("devel:{}:{}", rng.pick(WORDS), rng.pick(WORDS))
        };
        // Names must be unique; a clash gets a numbered sub-project.
        let name = if taken.insert(name.clone()) {
            name
        } else {
            let n = format!("{name}:{p}");
            taken.insert(n.clone());
            n
        };
        let created = format!(
            "20{:02}-{:02}-{:02} 10:{:02}:00",
            15 + rng.below(10),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(60)
        );
        tx.execute(
            "INSERT INTO projects (id, name, title, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                id,
                name,
                format!("The {} project", rng.pick(WORDS)),
                created
            ],
        )?;
        let npkgs = 5 + rng.below(20);
        for k in 0..npkgs {
            let pkg = format!("{}-{}{k}", rng.pick(WORDS), rng.pick(WORDS));
            let version = format!("{}.{}.{}", rng.below(5), rng.below(20), rng.below(10));
            let updated = format!(
                "2025-{:02}-{:02} {:02}:{:02}:00",
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60)
            );
            stmt_pkg.execute(params![id, pkg, version, updated])?;
        }
        let nrepos = 1 + rng.below(3);
        for r in 0..nrepos {
            repo_id += 1;
            let dist = 1 + rng.below(DISTRIBUTIONS.len());
            let (dname, dver, _) = DISTRIBUTIONS[dist - 1];
            let rname = format!(
                "{}_{}{}",
                dname.replace(' ', "_"),
                dver.replace(' ', "_"),
                if r > 0 {
                    format!("_{r}")
                } else {
                    String::new()
                }
            );
            stmt_repo.execute(params![repo_id, id, dist as i64, rname])?;
            let mut archs = vec![1usize];
            if rng.below(3) == 0 {
                archs.push(2); // i586, the architecture the incident removed
            }
            for _ in 0..2 {
                let a = 3 + rng.below(narch - 2);
                if a <= narch && !archs.contains(&a) {
                    archs.push(a);
                }
            }
            for (pos, a) in archs.iter().enumerate() {
                stmt_ra.execute(params![repo_id, *a as i64, pos as i64])?;
            }
        }
        if rng.below(2) == 0 {
            let arch = if rng.below(3) == 0 {
                Some(2i64)
            } else {
                Some(1 + rng.below(narch) as i64)
            };
            let flag = *rng.pick(&["build", "publish", "debuginfo", "useforbuild"]);
            let status = *rng.pick(&["enable", "disable"]);
            stmt_flag.execute(params![id, arch, flag, status])?;
        }
    }
    Ok(())
}
