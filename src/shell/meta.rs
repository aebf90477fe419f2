//! The shell's meta commands (`\\dt`, `\\d`, `\\refs`, `\\x`, `\\undo`,
//! ...): the backslash lines psql users reach for, answered from the
//! introspected schema or the session's settings. They end at the newline
//! and never reach the database as SQL.

use std::sync::Arc;

use super::render::Expanded;
use super::{Shell, describe, sql_help};
use crate::error::{Error, Result};
use crate::schema::Schema;

impl Shell {
    /// Runs a meta command (`\dt`, `\d`, ...). Returns `Ok(false)` for `\q`.
    pub(crate) fn run_meta(&mut self, line: &str) -> Result<bool> {
        let line = line.trim();
        let (cmd, arg) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], Some(line[i..].trim()).filter(|a| !a.is_empty())),
            None => (line, None),
        };
        if READS_CATALOG.contains(&cmd) {
            // A look at the catalog is a read: on record before it is shown.
            self.audit(
                "statement",
                serde_json::json!({"statement": line, "kind": "meta"}),
            )?;
        }
        let schema = Arc::clone(&self.schema);
        let schema = schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?;
        match cmd {
            "\\q" | "\\quit" => return Ok(false),
            // `\\help` alone has always been this list; with a statement
            // it is psql's `\\help SELECT`.
            "\\h" => self.print(&sql_help::help(arg))?,
            "\\help" if arg.is_some() => self.print(&sql_help::help(arg))?,
            "\\?" | "\\help" => self.print(META_HELP)?,
            "\\dt" => self.print(&describe::list_tables(&schema, arg))?,
            "\\dt+" => {
                let text = self.list_tables_plus(&schema, arg)?;
                self.print(&text)?
            }
            "\\d" | "\\d+" => match arg {
                None => self.print(&describe::list_tables(&schema, None))?,
                Some(name) => {
                    let text = self.describe_named(&schema, name, cmd == "\\d+")?;
                    self.print(&text)?
                }
            },
            "\\l" | "\\list" | "\\dn" | "\\df" | "\\dv" | "\\di" | "\\du" | "\\dg" => {
                let text = self.list_catalog(&schema, cmd, arg)?;
                self.print(&text)?
            }
            "\\refs" => {
                let name =
                    arg.ok_or_else(|| Error::input("\\refs needs a table name: \\refs TABLE"))?;
                let table = find_table(&schema, name)?;
                let text = self.refs_text(&schema, table);
                self.print(&text)?
            }
            "\\x" => {
                self.display.expanded = match arg {
                    Some("on") => Expanded::On,
                    Some("off") => Expanded::Off,
                    Some("auto") => Expanded::Auto,
                    None => match self.display.expanded {
                        Expanded::On => Expanded::Off,
                        _ => Expanded::On,
                    },
                    Some(other) => {
                        return Err(Error::input(format!(
                            "\\x: unknown value '{other}'\nUse \\x on, \\x off or \\x auto."
                        )));
                    }
                };
                let word = match self.display.expanded {
                    Expanded::On => "on",
                    Expanded::Off => "off",
                    Expanded::Auto => "auto",
                };
                self.print(&format!("Expanded display is {word}.\n"))?
            }
            "\\timing" => {
                self.timing = match arg {
                    Some("on") => true,
                    Some("off") => false,
                    _ => !self.timing,
                };
                let word = if self.timing { "on" } else { "off" };
                self.print(&format!("Timing is {word}.\n"))?
            }
            "\\limit" => {
                let n = arg
                    .and_then(|a| a.parse::<usize>().ok())
                    .ok_or_else(|| Error::input("\\limit needs a number of rows: \\limit 500"))?;
                self.display.display_limit = n;
                self.print(&format!("Showing at most {n} rows per result.\n"))?
            }
            "\\undo" => {
                drop(schema);
                self.undo_meta(arg)?;
                return Ok(true);
            }
            "\\samples" => {
                self.samples = match arg {
                    Some("on") => true,
                    Some("off") => false,
                    _ => !self.samples,
                };
                let word = if self.samples { "on" } else { "off" };
                self.print(&format!("Sample rows in previews are {word}.\n"))?
            }
            "\\preview" => {
                self.detail = match arg {
                    Some("full") => true,
                    Some("summary") => false,
                    _ => !self.detail,
                };
                let word = if self.detail {
                    "shown whole"
                } else {
                    "summarized when they are large"
                };
                self.print(&format!("Previews are {word}.\n"))?
            }
            "\\pset" => self.pset(arg)?,
            "\\copy" => {
                drop(schema);
                self.copy(arg)?;
            }
            "\\set" => self.set_var(arg)?,
            "\\unset" => self.unset_var(arg)?,
            "\\echo" => self.echo(arg)?,
            "\\o" | "\\out" => self.output_to(arg)?,
            "\\c" | "\\connect" => {
                drop(schema);
                self.reconnect(arg)?;
            }
            "\\conninfo" => {
                let text = conninfo_text(self.conn.identity());
                self.print(&text)?
            }
            other => {
                return Err(Error::input(format!(
                    "invalid command {other}\nTry \\? for help."
                )));
            }
        }
        Ok(true)
    }
}

/// The meta commands that read the database's catalog.
const READS_CATALOG: &[&str] = &[
    "\\l", "\\l+", "\\list", "\\dg", "\\dn", "\\df", "\\dv", "\\di", "\\du", "\\dt", "\\dt+",
    "\\d", "\\d+", "\\refs",
];

fn find_table<'s>(schema: &'s Schema, name: &str) -> Result<&'s crate::schema::Table> {
    schema.resolve_str(name).ok_or_else(|| not_found(name))
}

pub(super) fn not_found(name: &str) -> Error {
    Error::input(format!(
        "table {name} not found\nList tables with \\dt; quote mixed-case names (\"MyTable\")."
    ))
}

pub(super) fn conninfo_text(id: &crate::db::TargetIdentity) -> String {
    let mut s = format!(
        "{} {} at {}\n",
        id.engine.name(),
        id.server_version,
        id.display
    );
    if id.is_file() {
        s.push_str(&format!("file {}\n", id.database));
        return s;
    }
    {
        {
            s.push_str(&format!(
                "database \"{}\" as user \"{}\"",
                id.database,
                id.user.as_deref().unwrap_or("?")
            ));
            if let Some(h) = &id.host {
                if h.starts_with('/') {
                    s.push_str(&format!(" via socket in \"{h}\""));
                } else {
                    s.push_str(&format!(" on host \"{h}\""));
                }
            }
            if let Some(p) = id.port {
                s.push_str(&format!(" at port \"{p}\""));
            }
            s.push('\n');
            match &id.tls {
                Some(v) => s.push_str(&format!("SSL connection ({v})\n")),
                None => s.push_str("no SSL\n"),
            }
            if let Some(sys) = &id.system_identifier {
                s.push_str(&format!("cluster system identifier {sys}\n"));
            }
        }
    }
    s
}

const META_HELP: &str = "\
Meta commands
  \\?              this help
  \\h [STATEMENT]  SQL synopsis, and what dbguard does with the statement
  \\q              quit (Ctrl-D works too)
  \\dt[+] [PATTERN] list tables; + adds sizes, row estimates, comments
  \\d[+] NAME      a table's columns, keys, every index, foreign keys out
                  and in, triggers, associations (+: sizes, storage,
                  comments); or a view's columns and definition
  \\refs TABLE     tree of everything that references TABLE, recursively,
                  and the associations that point at it
  \\l [PATTERN]    databases (SQLite: the attached database files)
  \\dn [PATTERN]   schemas (SQLite: main and attached databases)
  \\df [PATTERN]   functions and procedures (none on SQLite)
  \\dv [PATTERN]   views
  \\di [PATTERN]   indexes
  \\du [PATTERN]   roles and their attributes (none on SQLite)
  \\x [on|off|auto] expanded display (one column per line)
  \\timing [on|off] show how long each statement took
  \\limit N        show at most N rows per result (default 1000)
  \\samples [on|off] sample rows under each effect of a preview
  \\preview [full|summary] show large previews whole, or summarized by table
  \\undo [ID]      list this database's recent changes, or undo change ID
  \\conninfo       where you are connected
  \\c DB          connect to another database (a name on the same server,
                  a URL, conninfo or SQLite file); its policy and journal
  \\pset [OPTION [VALUE]] null TEXT (NULL is shown empty by default),
                  format aligned|unaligned|csv, border 0|1|2,
                  pager on|off|always
  \\o [FILE]      read results to FILE, or back to the terminal
                  (previews and questions stay on the terminal)
  \\i FILE        run the statements in FILE, through the guard as typed
  \\set [NAME [VALUE]] set or list variables; :NAME, :'NAME' and :\"NAME\"
                  in a statement are replaced; \\unset NAME removes one
  \\echo TEXT     print TEXT

Query buffer
  \\g             run the statement typed so far (or the last one again)
  \\gx            the same, with expanded display for this result
  \\p             show the statement typed so far (or the last one)
  \\r             clear the statement typed so far
  \\e             edit it (or the last one) in $PSQL_EDITOR, $VISUAL or $EDITOR
  \\watch [SECS]  run a read again every SECS seconds (2) until Ctrl-C

PATTERN is psql's: [schema.]name, * and ? wildcards, unquoted letters
fold to lower case, \"Quoted\" parts match exactly; a pattern without a
schema matches in every schema. System objects are listed only when the
pattern names a schema (\\df pg_catalog.now).

Statements end with ';' and may span lines; the prompt says what is still
open (-> a statement, '> a string, \"> a name, $> a dollar body, *> a
comment, (> parentheses). Ctrl-C clears the input, cancels the running
query, or answers no to a question. Results taller or wider than the
terminal go through $PSQL_PAGER, $PAGER or less -S. Reads run in a read-only transaction. A write shows
its preview (every row it deletes, changes or leaves dangling, at every
depth) and asks; `apply` runs it under guard and journals every changed
row, so \\undo ID puts it back. DDL and anything unrecognised never run.
";
