//! The plan of an administrative call (`SELECT pg_terminate_backend(PID)`,
//! `pg_cancel_backend`): acting on another session, as a change like any
//! other.
//!
//! Its preview is the session the call acts on, from `pg_stat_activity`
//! (user, application, client, state, how long its transaction and query
//! have run, its query); the digest an approval signs binds the pid and
//! the session's start, so a pid the server has since given to another
//! session is drift, not a different session ended. Policy judges it as
//! kind `admin`. The signal cannot be rolled back, so it is the last step
//! of the guarded transaction: after the journal entry, the approvals it
//! consumes and its audit record are written, so a reused token or a
//! trail that cannot record it stops the change before anything is sent.
//! The entry holds no rows: an ended session cannot be undone.

use sha2::{Digest, Sha256};

use super::{ApplyContext, Body, Context, Detail, Plan, Preview};
use crate::db::ApplyTx;
use crate::db::admin::{Session, session, signal};
use crate::error::{Error, Result};
use crate::journal::{ChangeMeta, Recording};
use crate::model::ChangeKind;
use crate::policy::approval::Approval;
use crate::policy::verdict::VerdictInput;
use crate::schema::QualName;
use crate::sql::admin::AdminCall;

/// An administrative call as typed.
pub struct Admin {
    statement: String,
    call: AdminCall,
}

impl Admin {
    pub fn new(statement: &str, call: AdminCall) -> Admin {
        Admin {
            statement: statement.to_owned(),
            call,
        }
    }
}

/// What an administrative change acts on, for interfaces to render.
#[derive(Debug, Clone)]
pub struct AdminAction {
    pub call: AdminCall,
    /// The session, as the preview found it; `None` when no session has
    /// the pid.
    pub session: Option<Session>,
}

impl Plan for Admin {
    fn preview(&mut self, cx: &mut Context<'_>) -> Result<Preview> {
        let pid = self.call.pid;
        let found = cx
            .conn
            .preview(std::time::Duration::from_secs(30), |tx| session(tx, pid))?;
        let (verb, action) = (self.call.function.verb(), self.call.function.action());
        let failure = match &found {
            None => Some(format!(
                "no session has pid {pid} on this server: nothing to {action}\nList sessions with: SELECT pid, usename, application_name, state, query FROM pg_stat_activity"
            )),
            Some(s) if s.own => Some(format!(
                "pid {pid} is this dbguard session itself, which cannot {action} itself"
            )),
            Some(s) => elsewhere(s, &cx.conn.identity().database, action),
        };
        let identity = cx.conn.identity();
        let canonical = serde_json::json!({
            "admin": self.call.function,
            "pid": pid,
            "timeout_ms": self.call.timeout_ms,
            "session_started": found.as_ref().map(|s| &s.started),
            "database": identity.database,
            "system_identifier": identity.system_identifier,
        });
        let digest = base16ct::lower::encode_string(&Sha256::digest(canonical.to_string()));
        let described = serde_json::json!({
            "function": self.call.function.sql_name(),
            "pid": pid,
            "timeout_ms": self.call.timeout_ms,
            "session": found,
        });
        let table = QualName::new(Some("pg_catalog"), "pg_stat_activity");
        let n = u64::from(found.is_some());
        Ok(Preview {
            statement: self.statement.clone(),
            facts: VerdictInput::one_object(ChangeKind::Admin, table, n),
            audit: serde_json::json!({"statement": self.statement, "digest": digest, "admin": described}),
            summary: serde_json::json!({ "admin": described }),
            failure,
            label: Some(format!("{} {pid}", verb.to_uppercase())),
            digest,
            body: Body::Admin(AdminAction {
                call: self.call,
                session: found,
            }),
        })
    }

    fn meta(&self, cx: &Context<'_>, preview: &Preview) -> Result<ChangeMeta> {
        Ok(super::summary_meta(cx, &self.statement, preview))
    }

    /// The session must still be the one the preview showed: the same pid
    /// and the same start.
    fn prepare(
        &mut self,
        _: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        preview: &Preview,
    ) -> Result<()> {
        let shown = shown(preview)?;
        let now = session(tx, self.call.pid)?;
        if now.as_ref().map(|s| &s.started) != Some(&shown.started) {
            return Err(Error::drift(format!(
                "session {} ended, or its pid now belongs to another session, since the preview; nothing was sent\nPreview it again.",
                self.call.pid
            )));
        }
        Ok(())
    }

    fn apply(
        &mut self,
        _: &ApplyContext<'_>,
        _: &mut dyn ApplyTx,
        _: &mut Recording,
        _: &Preview,
        _: &mut dyn FnMut(u64, u64),
    ) -> Result<(Detail, Option<String>)> {
        Ok((Detail::Admin, None))
    }

    /// `false` from the server means no signal was sent, except with a
    /// timeout, where it may also mean the signalled session had not
    /// ended in time: the signal is out then, so the change is recorded.
    fn irreversible(&mut self, tx: &mut dyn ApplyTx) -> Result<()> {
        if signal(tx, &self.call)? || self.call.timeout_ms.is_some() {
            return Ok(());
        }
        Err(Error::drift(format!(
            "session {} ended before the signal reached it; nothing was recorded",
            self.call.pid
        )))
    }

    fn applied_audit(
        &self,
        preview: &Preview,
        _: &Detail,
        _: Option<&str>,
        approvals: &[Approval],
    ) -> (&'static str, serde_json::Value) {
        (
            "admin",
            serde_json::json!({
                "statement": self.statement,
                "digest": preview.digest,
                "admin": preview.summary["admin"],
                "approvals": approvals,
            }),
        )
    }
}

/// Why session `s` is not this database's to act on, if it is not: the
/// policy that judges the change is the connected database's, so a
/// session of another database (or a server process of none) would be
/// judged by the wrong rules.
fn elsewhere(s: &Session, database: &str, action: &str) -> Option<String> {
    match s.database.as_deref() {
        Some(db) if db == database => None,
        Some(db) => Some(format!(
            "session {} is connected to database {db}, not to {database}: dbguard acts only on sessions of the database it is connected to, whose policy judges the change\nConnect to {db} to {action} it there.",
            s.pid
        )),
        None => Some(format!(
            "pid {} is a server process ({}), not a session of {database}: dbguard acts only on sessions of the database it is connected to",
            s.pid, s.backend_type
        )),
    }
}

/// The session `preview` showed.
fn shown(preview: &Preview) -> Result<&Session> {
    match &preview.body {
        Body::Admin(AdminAction {
            session: Some(s), ..
        }) => Ok(s),
        _ => Err(Error::io(
            "an administrative change was given another plan's preview",
        )),
    }
}
