//! `\e`: the query buffer in the operator's editor, as psql does it. The
//! text goes to a private temporary file, `$PSQL_EDITOR`, `$VISUAL` or
//! `$EDITOR` (else `vi`) runs on it through `sh` so an editor given with
//! arguments (`code -w`) works, and what was saved comes back. The edited
//! text is typed input like any other: it goes through the guard.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Edits `text`; returns what the editor saved.
pub(crate) fn edit(text: &str) -> Result<String> {
    let path = temp_path();
    write_private(&path, text)?;
    let result = run_editor(&path).and_then(|()| {
        std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("cannot read back {}: {e}", path.display())))
    });
    let _ = std::fs::remove_file(&path);
    result
}

fn editor() -> String {
    ["PSQL_EDITOR", "VISUAL", "EDITOR"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_owned())
}

fn run_editor(path: &std::path::Path) -> Result<()> {
    let editor = editor();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| Error::io(format!("cannot start the editor ({editor}): {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::input(format!(
            "the editor ({editor}) ended {status}; the query buffer is unchanged\nSet PSQL_EDITOR, VISUAL or EDITOR to the editor you use."
        )))
    }
}

/// A fresh file name in the temporary directory, ending in `.sql` so the
/// editor highlights SQL.
fn temp_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("dbguard-edit-{}-{nanos}.sql", std::process::id()))
}

/// Creates `path` readable by its owner only: the buffer may hold data.
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))
}
