//! Where a policy comes from: a directory's `*.toml` files in name order
//! (or, without any, the built-in rules) and its `approvers` file, the
//! built-in default itself, or one more file merged by hand. Loading for
//! use refuses any error; loading for `policy check` returns them all.

use std::path::{Path, PathBuf};

use super::problem::Problem;
use super::source::{APPROVERS, PolicySource};
use super::{BUILTIN_NAME, BUILTIN_TEXT, Policy};
use crate::error::{Error, Result};

impl Policy {
    /// Loads `dir`, or `./policies` when it exists, or the built-in default.
    pub fn load(dir: Option<&Path>) -> Result<Policy> {
        match Policy::directory(dir) {
            Some(d) => Policy::load_dir(&d),
            None => Ok(Policy::builtin()),
        }
    }

    /// The policy directory to read: the one given, else `./policies` when
    /// it exists; `None` means the built-in default.
    pub fn directory(given: Option<&Path>) -> Option<std::path::PathBuf> {
        given.map(Path::to_path_buf).or_else(|| {
            let local = Path::new("policies");
            local.is_dir().then(|| local.to_path_buf())
        })
    }

    /// The built-in default policy (the text of `policies/default.toml`).
    pub fn builtin() -> Policy {
        let mut policy = Policy::default();
        let mut problems = Vec::new();
        policy.merge_file(Path::new(BUILTIN_NAME), BUILTIN_TEXT, &mut problems);
        policy.finish(None, &mut problems);
        debug_assert!(
            !problems.iter().any(Problem::is_error),
            "the built-in policy is broken: {problems:?}"
        );
        policy.warnings = problems;
        policy
    }

    /// Reads every `*.toml` file of `dir` in name order, and `dir/approvers`.
    /// Fails when anything is wrong (every error is listed).
    pub fn load_dir(dir: &Path) -> Result<Policy> {
        Ok(Policy::load_dir_source(dir)?.0)
    }

    /// [`Policy::load_dir`], with the files it was built from: a caller
    /// that needs both (to pin them, or to compare them with the pinned
    /// ones) reads the directory once.
    pub(crate) fn load_dir_source(dir: &Path) -> Result<(Policy, PolicySource)> {
        let (source, mut problems) = PolicySource::read_dir(dir)?;
        let policy = Policy::from_source(&source, dir, &mut problems);
        let errors = super::problem::error_lines(&problems);
        if !errors.is_empty() {
            return Err(Error::input(format!(
                "policy {} is not valid ({} problem{}):\n{}\nFix it; `dbguard policy check {}` lists every problem.",
                dir.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.join("\n"),
                dir.display()
            )));
        }
        Ok((policy, source))
    }

    /// Reads `dir` like [`Policy::load_dir`] but returns every problem
    /// (errors and warnings) instead of failing on them. Fails only when
    /// the directory cannot be read.
    ///
    /// A directory without any `*.toml` file uses the built-in rules (with
    /// the directory's approvers), so `policies/approvers` alone is enough
    /// to add approvers to the default policy.
    pub(crate) fn load_checked(dir: &Path) -> Result<(Policy, Vec<Problem>)> {
        let (source, mut problems) = PolicySource::read_dir(dir)?;
        let policy = Policy::from_source(&source, dir, &mut problems);
        Ok((policy, problems))
    }

    /// Builds the policy `source` holds, its files named as if in `origin`
    /// (a directory, or how the database that pins it is named), adding
    /// every problem to `problems` (sorted by file, then line).
    pub(crate) fn from_source(
        source: &PolicySource,
        origin: &Path,
        problems: &mut Vec<Problem>,
    ) -> Policy {
        let mut policy = Policy::default();
        let mut files: Vec<PathBuf> = Vec::new();
        for (name, text) in source.toml_files() {
            let file = origin.join(name);
            policy.merge_file(&file, text, problems);
            files.push(file);
        }
        if files.is_empty() {
            policy.merge_file(Path::new(BUILTIN_NAME), BUILTIN_TEXT, problems);
        }
        policy.files = files;
        policy.dir = Some(origin.to_path_buf());
        policy.approvers_path = source.approvers().map(|_| origin.join(APPROVERS));
        policy.finish(source.approvers(), problems);
        // By file, then line; problems without a line first in their file.
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        policy.warnings = problems.iter().filter(|p| !p.is_error()).cloned().collect();
        policy
    }

    /// Merges one file's text into the policy; fails on its errors.
    /// Cross-file checks (groups named in `from`, approvers) happen when a
    /// directory is loaded.
    pub fn merge(&mut self, file: &Path, text: &str) -> Result<()> {
        let mut problems = Vec::new();
        self.merge_file(file, text, &mut problems);
        let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
            problems.into_iter().partition(Problem::is_error);
        self.warnings.extend(warnings);
        if errors.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Err(Error::input(format!(
            "policy {} is not valid:\n{}",
            file.display(),
            lines.join("\n")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::verdict::Decision;

    #[test]
    fn parses_associations_and_rejects_typos() {
        let mut p = Policy::default();
        p.merge(
            Path::new("a.toml"),
            r#"
version = 1
[[association]]
from = "repository_architectures.architecture_id"
to = "architectures.id"
[[association]]
from = "builds.worker_id"
ignore = true
[associations]
infer = true
"#,
        )
        .unwrap();
        assert_eq!(p.associations.len(), 2);
        assert!(p.associations[1].ignore);
        let err = p
            .merge(
                Path::new("b.toml"),
                "[[association]]\nfrom = \"a.b_id\"\ntoo = \"b.id\"\n",
            )
            .unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
        let err = p
            .merge(Path::new("c.toml"), "[[association]]\nfrom = \"a.b_id\"\n")
            .unwrap_err();
        assert!(err.message.contains("needs `to"), "{err}");
        let err = p.merge(Path::new("d.toml"), "version = 9\n").unwrap_err();
        assert!(err.message.contains("newer"), "{err}");
    }

    #[test]
    fn builtin_is_the_shipped_file_and_clean() {
        let p = Policy::builtin();
        assert!(p.warnings.iter().all(|w| !w.is_error()), "{:?}", p.warnings);
        assert!(p.rules.len() >= 4);
        assert_eq!(p.default_decision, Decision::Confirm);
    }
}
