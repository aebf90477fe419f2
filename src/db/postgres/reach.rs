//! What the triggers a change sets off can do beyond the rows its undo
//! entry holds, read from their functions' source before anything runs.
//!
//! After a statement, the engine's row counters show every row any trigger
//! changed in this transaction, and the coverage check refuses the change
//! if the entry does not hold them all. What a trigger does outside the
//! transaction's rows shows in no counter, and cannot be refused after the
//! fact, because it has already happened: SQL on another connection
//! (`dblink_exec`, which commits on its own), a sequence set, a server
//! file written, another session ended. So the preview reads the source of
//! each firing trigger's function, follows the functions it names and the
//! triggers of the tables it names, and reports the first thing on that
//! path it cannot vouch for:
//!
//! - a call of a function on the reviewed list (`super::side_effects`)
//!   whose effect lies outside the rows;
//! - dynamic SQL (PL/pgSQL `EXECUTE`) or `COPY`, whose text or target is
//!   only known when it runs;
//! - a function in a language other than SQL and PL/pgSQL: untrusted ones
//!   reach files, programs and the network; trusted ones run SQL built at
//!   run time.
//!
//! Names are matched as words anywhere in the source, in any case, comments
//! and strings included: a mention that is not a call costs a refusal the
//! operator can read and override (`--allow-uncovered`), never a miss.
//! Functions in C are judged by name only, against the reviewed list.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use postgres::Transaction;

use crate::error::Result;
use crate::schema::QualName;

/// One line per firing trigger whose function can act beyond the rows:
/// the trigger, the path of functions to the act, and what the act does.
/// `firing`: the triggers a change sets off, by table and name. The
/// catalog is read in the caller's transaction.
/// `written`: the tables whose rows it inserts or updates, where column
/// defaults, generated columns, CHECK and domain constraints and index
/// expressions run functions of their own.
pub(crate) fn beyond_the_rows(
    tx: &mut Transaction<'_>,
    firing: &[(QualName, String)],
    written: &[QualName],
) -> Result<Vec<String>> {
    let uses = functions_used(tx, written)?;
    // The engine's own functions (`nextval` in a serial's default) are
    // judged by name: the catalog's code is read only when some of the
    // database's own runs.
    let routines = if firing.is_empty() && uses.iter().all(|u| u.system) {
        Routines::default()
    } else {
        load(tx)?
    };
    let mut out = judge_all(&routines, firing);
    let graph = Graph::new(&routines, Scope::Write);
    for used in uses {
        let found = match routines.routines.contains_key(&used.function) {
            true => graph.first_beyond(used.function),
            // The engine's own: judged by name.
            false => judge_listed(&used.name, Scope::Write)
                .map(|what| (vec![format!("{}()", used.name)], what)),
        };
        if let Some((path, what)) = found {
            out.push(format!("{}: {} {what}", used.by, path.join(" → ")));
        }
    }
    Ok(out)
}

/// A function that a written table's own definition runs.
struct Used {
    function: u32,
    name: String,
    /// In a system schema: the engine's own.
    system: bool,
    /// What runs it: `default of public.t`, `constraint c on public.t`, ...
    by: String,
}

/// The functions the definitions of `tables` run on a row written:
/// defaults and generated columns, CHECK constraints (of the tables and
/// of the domains of their columns), index expressions and predicates,
/// from `pg_depend`.
fn functions_used(tx: &mut Transaction<'_>, tables: &[QualName]) -> Result<Vec<Used>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = tables.iter().map(QualName::sql).collect();
    let rows = tx.query_typed(
        "WITH t AS (SELECT to_regclass(x) AS oid FROM unnest($1::text[]) AS x), \
              used AS ( \
           SELECT d.refobjid AS f, 'default of ' || a.adrelid::regclass::text AS by \
           FROM pg_catalog.pg_attrdef a \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = a.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE a.adrelid IN (SELECT oid FROM t) \
           UNION \
           SELECT d.refobjid, 'constraint ' || c.conname::text || ' on ' || c.conrelid::regclass::text \
           FROM pg_catalog.pg_constraint c \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE c.conrelid IN (SELECT oid FROM t) \
           UNION \
           SELECT d.refobjid, 'index ' || i.indexrelid::regclass::text \
           FROM pg_catalog.pg_index i \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE i.indrelid IN (SELECT oid FROM t) \
           UNION \
           SELECT d.refobjid, 'domain constraint ' || c.conname::text || ' on ' || a.attrelid::regclass::text \
           FROM pg_catalog.pg_attribute a \
           JOIN pg_catalog.pg_constraint c ON c.contypid = a.atttypid \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE a.attrelid IN (SELECT oid FROM t) AND a.attnum > 0 AND NOT a.attisdropped) \
         SELECT used.f, p.proname::text, used.by, \
                p.pronamespace IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) \
         FROM used JOIN pg_catalog.pg_proc p ON p.oid = used.f \
         ORDER BY 3, 2",
        &[(&names, postgres::types::Type::TEXT_ARRAY)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Used {
            function: r.try_get(0)?,
            name: r.try_get(1)?,
            by: r.try_get(2)?,
            system: r.try_get(3)?,
        });
    }
    Ok(out)
}

/// For a read: what the functions of the database's own that it calls
/// (`calls`, unqualified names as the server resolves them) can do that its read-only
/// transaction does not stop, one line per function. Its writes to
/// tables fail there, so only the calls beyond them count, and triggers
/// are not followed. One query answers when no such function is called.
pub(crate) fn called_beyond(tx: &mut Transaction<'_>, calls: &[String]) -> Result<Vec<String>> {
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let row = tx.query_typed_one(
        &format!(
            "SELECT count(*) FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE {USER_SCHEMAS} AND p.proname = ANY($1::text[]::name[])"
        ),
        &[(&calls, postgres::types::Type::TEXT_ARRAY)],
    )?;
    let n: i64 = row.try_get(0)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let routines = load(tx)?;
    let graph = Graph::new(&routines, Scope::Read);
    let mut out = Vec::new();
    for name in calls {
        let found = graph
            .by_name
            .get(&name.to_lowercase())
            .into_iter()
            .flatten()
            .find_map(|oid| graph.first_beyond(*oid));
        if let Some((path, what)) = found {
            out.push(format!("{} {what}", path.join(" → ")));
        }
    }
    Ok(out)
}

/// What a walk looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A write's triggers: what lies beyond the rows the transaction's
    /// counters see; the triggers of tables the code names are followed.
    Write,
    /// A read's calls: whatever a read-only transaction does not stop.
    Read,
}

fn judge_all(routines: &Routines, firing: &[(QualName, String)]) -> Vec<String> {
    let graph = Graph::new(routines, Scope::Write);
    let mut out = Vec::new();
    for (table, name) in firing {
        let Some(start) = routines
            .triggers
            .iter()
            .find(|t| &t.table == table && &t.name == name)
            .and_then(|t| t.function)
        else {
            continue;
        };
        if let Some((path, what)) = graph.first_beyond(start) {
            out.push(format!(
                "trigger {name} on {table}: {} {what}",
                path.join(" → ")
            ));
        }
    }
    out
}

/// One function, by the catalog's identifier for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Routine {
    name: String,
    /// `plpgsql`, `sql`, `c`, `internal`, `plpython3u`, ...
    language: String,
    /// Whether the language is trusted (`pg_language.lanpltrusted`): an
    /// untrusted one reaches files, programs and the network.
    trusted: bool,
    /// The body (`prosrc`): the code for SQL and procedural languages,
    /// the C symbol for `c` and `internal`. A SQL function written with
    /// `BEGIN ATOMIC` keeps no source, only a parse tree: its definition
    /// as the server prints it stands in.
    source: String,
}

/// One user trigger (not the engine's own foreign-key triggers).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableTrigger {
    table: QualName,
    name: String,
    /// Key into [`Routines::routines`]; `None` for a function in a system
    /// schema (`suppress_redundant_updates_trigger`, ...).
    function: Option<u32>,
    /// Not `DISABLE`d.
    enabled: bool,
}

/// The catalog's functions and triggers, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Routines {
    routines: BTreeMap<u32, Routine>,
    triggers: Vec<TableTrigger>,
}

/// System schemas hold the engine's own functions, which the reviewed
/// list in `super::side_effects` judges by name.
const USER_SCHEMAS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'";

fn load(tx: &mut Transaction<'_>) -> Result<Routines> {
    let mut out = Routines::default();
    let rows = tx.query_typed(
        &format!(
            "SELECT p.oid, n.nspname::text, p.proname::text, l.lanname::text, \
                    l.lanpltrusted, \
                    CASE WHEN l.lanname = 'sql' AND coalesce(p.prosrc, '') = '' \
                         THEN pg_catalog.pg_get_functiondef(p.oid) \
                         ELSE coalesce(p.prosrc, '') END \
             FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
             WHERE {USER_SCHEMAS}"
        ),
        &[],
    )?;
    for r in rows {
        out.routines.insert(
            r.try_get(0)?,
            Routine {
                name: r.try_get(2)?,
                language: r.try_get(3)?,
                trusted: r.try_get(4)?,
                source: r.try_get(5)?,
            },
        );
    }
    let rows = tx.query_typed(
        "SELECT n.nspname::text, c.relname::text, t.tgname::text, t.tgfoid, \
                t.tgenabled::text \
         FROM pg_catalog.pg_trigger t \
         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal",
        &[],
    )?;
    for r in rows {
        let schema: String = r.try_get(0)?;
        let table: String = r.try_get(1)?;
        let function: u32 = r.try_get(3)?;
        let enabled: String = r.try_get(4)?;
        out.triggers.push(TableTrigger {
            table: QualName::new(Some(&schema), &table),
            name: r.try_get(2)?,
            function: out.routines.contains_key(&function).then_some(function),
            enabled: enabled != "D",
        });
    }
    Ok(out)
}

/// Functions by name, and the trigger functions of each table by the
/// table's name, both in lower case: how a function's source reaches more
/// code.
struct Graph<'a> {
    scope: Scope,
    routines: &'a BTreeMap<u32, Routine>,
    by_name: BTreeMap<String, Vec<u32>>,
    by_table: BTreeMap<String, Vec<(String, u32)>>,
}

impl<'a> Graph<'a> {
    fn new(r: &'a Routines, scope: Scope) -> Graph<'a> {
        let mut by_name: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (oid, f) in &r.routines {
            by_name.entry(f.name.to_lowercase()).or_default().push(*oid);
        }
        let mut by_table: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
        for t in r
            .triggers
            .iter()
            .filter(|t| t.enabled && scope == Scope::Write)
        {
            if let Some(f) = t.function {
                by_table
                    .entry(t.table.name.to_lowercase())
                    .or_default()
                    .push((format!("trigger {} on {}", t.name, t.table), f));
            }
        }
        Graph {
            scope,
            routines: &r.routines,
            by_name,
            by_table,
        }
    }

    /// Breadth first from `start`: the shortest path to the first function
    /// that acts beyond the rows, and what it does.
    fn first_beyond(&self, start: u32) -> Option<(Vec<String>, String)> {
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([(start, Vec::<String>::new())]);
        while let Some((oid, mut path)) = queue.pop_front() {
            let Some(f) = self.routines.get(&oid) else {
                continue;
            };
            path.push(format!("{}()", f.name));
            if let Some(what) = judge(f, self.scope) {
                return Some((path, what));
            }
            if !reads(f) {
                continue;
            }
            for word in words(&f.source) {
                for next in self.by_name.get(&word).into_iter().flatten() {
                    if seen.insert(*next) {
                        queue.push_back((*next, path.clone()));
                    }
                }
                for (label, next) in self.by_table.get(&word).into_iter().flatten() {
                    if seen.insert(*next) {
                        let mut via = path.clone();
                        via.push(format!("(writes {word}?) {label}:"));
                        queue.push_back((*next, via));
                    }
                }
            }
        }
        None
    }
}

/// Whether dbguard reads `f`'s source for the code it reaches.
fn reads(f: &Routine) -> bool {
    matches!(f.language.as_str(), "sql" | "plpgsql")
}

/// What `f` itself does beyond the rows, if anything.
/// What a call of a function named `name` does beyond what `scope`
/// allows, by the reviewed list.
fn judge_listed(name: &str, scope: Scope) -> Option<String> {
    super::side_effects::listed(&name.to_lowercase())
        .filter(|e| scope == Scope::Read || e.beyond_the_rows())
        .map(|e| format!("calls {name}, which {}", e.why))
}

fn judge(f: &Routine, scope: Scope) -> Option<String> {
    let listed = |name: &str| judge_listed(name, scope);
    match f.language.as_str() {
        // Compiled code: only its name, or the symbol it is bound to,
        // tells what it is (`CREATE FUNCTION innocent(...) LANGUAGE c AS
        // '$libdir/dblink', 'dblink_exec'`).
        "c" | "internal" => {
            listed(&f.name.to_lowercase()).or_else(|| listed(&f.source.to_lowercase()))
        }
        "sql" | "plpgsql" => {
            let words = words(&f.source);
            if let Some(why) = words.iter().find_map(|w| listed(w)) {
                return Some(why);
            }
            if f.language == "plpgsql" && words.contains("execute") {
                return Some(
                    "runs dynamic SQL (EXECUTE), whose statements are only known when it runs"
                        .to_owned(),
                );
            }
            words
                .contains("copy")
                .then(|| "runs COPY, which can read or write server files and programs".to_owned())
        }
        lang if !f.trusted => Some(format!(
            "is written in {lang}, an untrusted language that reaches files, programs and other connections, which dbguard cannot read"
        )),
        lang => Some(format!(
            "is written in {lang}, which can run SQL built at run time that dbguard cannot read"
        )),
    }
}

/// The identifiers in `source`, in lower case: bare words and the
/// contents of double-quoted names, wherever they stand.
fn words(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = source.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c == '"' {
            let mut name = String::new();
            while let Some((_, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().is_some_and(|(_, n)| *n == '"') {
                        chars.next();
                        name.push('"');
                        continue;
                    }
                    break;
                }
                name.push(c);
            }
            out.insert(name.to_lowercase());
        } else if c.is_alphabetic() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some((i, n)) = chars.peek().copied() {
                if n.is_alphanumeric() || n == '_' || n == '$' {
                    end = i + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.insert(source[start..end].to_lowercase());
        } else if c.is_ascii_digit() {
            // A number's letters (`1e5`, `0x1F`) are not a word.
            while chars
                .peek()
                .is_some_and(|(_, n)| n.is_alphanumeric() || *n == '_')
            {
                chars.next();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routine(name: &str, language: &str, source: &str) -> Routine {
        Routine {
            name: name.into(),
            language: language.into(),
            trusted: language != "plpython3u",
            source: source.into(),
        }
    }

    fn trigger(table: &str, name: &str, function: u32) -> TableTrigger {
        TableTrigger {
            table: QualName::new(Some("public"), table),
            name: name.into(),
            function: Some(function),
            enabled: true,
        }
    }

    fn findings(routines: Vec<Routine>, triggers: Vec<TableTrigger>) -> Vec<String> {
        let r = Routines {
            routines: (1..).zip(routines).collect(),
            triggers,
        };
        judge_all(&r, &[(QualName::new(Some("public"), "t"), "trg".into())])
    }

    #[test]
    fn words_are_identifiers_in_any_case_and_quoted_names() {
        let w = words(
            r#"BEGIN PERFORM Public."DbLink_Exec"('x'); x := 1e5 + t$1; -- setval
 END"#,
        );
        for expected in [
            "begin",
            "perform",
            "public",
            "dblink_exec",
            "x",
            "t$1",
            "setval",
            "end",
        ] {
            assert!(w.contains(expected), "{expected} missing from {w:?}");
        }
        assert!(!w.contains("e5"), "{w:?}");
    }

    #[test]
    fn a_listed_call_is_found_through_the_functions_it_is_called_from() {
        let found = findings(
            vec![
                routine(
                    "audit",
                    "plpgsql",
                    "BEGIN PERFORM helper(OLD.id); RETURN OLD; END",
                ),
                routine(
                    "helper",
                    "sql",
                    "SELECT dblink_exec('dbname=x', 'delete from t')",
                ),
            ],
            vec![trigger("t", "trg", 1)],
        );
        assert_eq!(
            found,
            [
                "trigger trg on public.t: audit() → helper() calls dblink_exec, which runs SQL on another connection, which commits on its own"
            ]
        );
    }

    #[test]
    fn a_trigger_on_a_table_the_function_names_is_followed() {
        let found = findings(
            vec![
                routine(
                    "audit",
                    "plpgsql",
                    "BEGIN INSERT INTO log VALUES (1); RETURN OLD; END",
                ),
                routine(
                    "log_fn",
                    "plpgsql",
                    "BEGIN PERFORM setval('s', 1); RETURN NEW; END",
                ),
            ],
            vec![trigger("t", "trg", 1), trigger("log", "log_trg", 2)],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("(writes log?) trigger log_trg on public.log:")
                && found[0].contains("log_fn() calls setval"),
            "{found:?}"
        );
    }

    #[test]
    fn dynamic_sql_copy_and_unread_languages_are_named() {
        for (lang, body, expected) in [
            (
                "plpgsql",
                "BEGIN EXECUTE format('delete from %I', x); END",
                "dynamic SQL",
            ),
            ("plpgsql", "BEGIN COPY t TO '/tmp/x'; END", "COPY"),
            ("plpython3u", "plpy.execute('x')", "untrusted language"),
            ("plperl", "spi_exec_query('x')", "run SQL built at run time"),
            ("c", "pg_terminate_backend", "calls pg_terminate_backend"),
            ("internal", "dblink_exec", "calls dblink_exec"),
        ] {
            let name = match lang {
                "c" => "pg_terminate_backend",
                "internal" => "innocent",
                _ => "f",
            };
            let found = findings(
                vec![routine(name, lang, body)],
                vec![trigger("t", "trg", 1)],
            );
            assert!(
                found.len() == 1 && found[0].contains(expected),
                "{lang}: {found:?}"
            );
        }
    }

    #[test]
    fn what_the_row_counters_see_is_left_to_them() {
        // Large objects are rows of pg_largeobject, a notification is no
        // data, a C function off the list is judged by name, SQL writing a
        // table is counted: none of them is beyond the rows.
        for (lang, name, body) in [
            (
                "plpgsql",
                "f",
                "BEGIN PERFORM lo_unlink(OLD.blob); RETURN OLD; END",
            ),
            (
                "plpgsql",
                "f",
                "BEGIN PERFORM pg_notify('c', 'x'); NOTIFY c; RETURN NEW; END",
            ),
            (
                "plpgsql",
                "f",
                "BEGIN DELETE FROM other WHERE id = OLD.id; RETURN OLD; END",
            ),
            ("c", "moddatetime", "moddatetime"),
        ] {
            let found = findings(
                vec![routine(name, lang, body)],
                vec![trigger("t", "trg", 1)],
            );
            assert!(found.is_empty(), "{body}: {found:?}");
        }
    }

    #[test]
    fn cycles_and_disabled_triggers_end_the_walk() {
        let mut off = trigger("log", "log_trg", 3);
        off.enabled = false;
        let found = findings(
            vec![
                routine(
                    "a",
                    "plpgsql",
                    "BEGIN PERFORM b(); INSERT INTO log VALUES (1); END",
                ),
                routine("b", "sql", "SELECT a()"),
                routine("c", "plpgsql", "BEGIN PERFORM setval('s', 1); END"),
            ],
            vec![trigger("t", "trg", 1), off],
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
