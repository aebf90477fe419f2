//! What the code a statement sets off can do beyond what its transaction
//! holds, read from the catalog before anything runs.
//!
//! After a write, the engine's row counters show every row any trigger
//! changed in the transaction, and the coverage check refuses the change
//! if its undo entry does not hold them all. What code does outside the
//! transaction's rows shows in no counter, and cannot be refused after the
//! fact, because it has already happened: SQL on another connection
//! (`dblink_exec`, which commits on its own), a sequence set, a server
//! file written, another session ended. A read-only transaction does not
//! stop those either. So before a write runs, and before a read or a
//! preview runs, the code it would run is read and walked:
//!
//! - a write starts from the triggers that fire (with those of partitions
//!   and children), the functions the written tables' defaults,
//!   constraints and index expressions run, and the event triggers that
//!   dbguard's own temporary tables fire;
//! - a read starts from the names in its text;
//! - from a function's source, the walk follows every name it holds: the
//!   functions of that name (and an aggregate's support functions), what
//!   a relation runs (a view's query and row-security policies; for a
//!   write also its triggers, defaults, constraints and indexes), a
//!   domain's constraints and casts, and the operators the code uses.
//!
//! It reports the first thing on each path it cannot vouch for: a call on
//! the reviewed list (`super::side_effects`; for a write, only those acting
//! outside the transaction's rows), dynamic SQL (PL/pgSQL `EXECUTE`) or
//! `COPY`, a language other than SQL and PL/pgSQL, or a name written in
//! the `U&"..."` form, which this reading does not decode.
//!
//! Names are matched as words anywhere in the source, in any case, comments
//! and constants included (`lex`): a mention that is not a call costs a
//! refusal the operator can read, never a miss. Compiled functions are
//! judged by name and by the C symbol they are bound to.

mod catalog;
mod lex;

use std::collections::{BTreeSet, VecDeque};

use postgres::Transaction;

use crate::db::Touched;
use crate::error::Result;
use crate::schema::QualName;
use catalog::{Catalog, FIRST_USER_OID, Link, Part, Routine};

/// For a write: one line per thing it sets off (see the module doc) that
/// can act beyond the rows its undo entry holds, with the path of
/// functions to the act. `firing`: the triggers the preview found (table,
/// name); `written`: tables whose rows it inserts or updates; `touched`:
/// every table whose rows it changes.
pub(crate) fn beyond_the_rows(
    tx: &mut Transaction<'_>,
    firing: &[(QualName, String)],
    written: &[QualName],
    touched: &[Touched<'_>],
) -> Result<Vec<String>> {
    let (mut starts, always) = catalog::run_by_writing(tx, firing, written, touched)?;
    // The engine's own functions (`nextval` in a serial's default) are
    // judged by name: the catalog's code is read only when some of the
    // database's own runs.
    let catalog = if !always && starts.iter().all(|l| l.function < FIRST_USER_OID) {
        Catalog::default()
    } else {
        Catalog::load(tx)?
    };
    // What any statement may run unnamed: an operator, an index's operator
    // class, a range type's function, a cast.
    starts.extend(catalog.links.get("*").into_iter().flatten().cloned());
    let walk = Walk {
        catalog: &catalog,
        scope: Scope::Write,
    };
    let mut out: Vec<String> = starts.iter().filter_map(|s| walk.from(s)).collect();
    out.dedup();
    Ok(out)
}

/// For a read, or the predicate a preview runs: one line per name in
/// `text` whose code can act where a read-only transaction does not stop
/// it. One catalog query answers when the text names nothing of the
/// database's own that runs code: a function, a view, a relation with row
/// security or a column of a checked domain, a checked domain, a foreign
/// table (every table's row type has its name: only checked domains
/// count).
pub(crate) fn called_beyond(tx: &mut Transaction<'_>, text: &str) -> Result<Vec<String>> {
    let words = lex::lex(text);
    let names: Vec<&str> = words.names.iter().map(String::as_str).collect();
    let row = tx.query_typed_one(
        catalog::READ_RUNS_CODE,
        &[(&names, postgres::types::Type::TEXT_ARRAY)],
    )?;
    if !row.try_get::<_, bool>(0)? {
        return Ok(Vec::new());
    }
    let catalog = Catalog::load(tx)?;
    let walk = Walk {
        catalog: &catalog,
        scope: Scope::Read,
    };
    Ok(walk
        .next(&words)
        .iter()
        .filter_map(|s| walk.from(s))
        .collect())
}

/// What a walk looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A write: what lies beyond the rows the transaction's counters
    /// see; what a relation runs when written is followed too.
    Write,
    /// A read: whatever a read-only transaction does not stop.
    Read,
}

struct Walk<'a> {
    catalog: &'a Catalog,
    scope: Scope,
}

impl Walk<'_> {
    /// Breadth first from `start`: the shortest path to the first function
    /// that acts beyond what the scope allows, as one line.
    fn from(&self, start: &Link) -> Option<String> {
        let mut seen = BTreeSet::from([start.function]);
        let mut queue = VecDeque::from([(start.clone(), Vec::<String>::new())]);
        while let Some((link, mut path)) = queue.pop_front() {
            let step = format!("{}()", link.function_name);
            path.push(match (path.is_empty(), link.part) {
                (false, Part::Read | Part::Write) => format!("({}) {step}", link.by),
                _ => step,
            });
            let routine = self.catalog.routines.get(&link.function);
            let found = if self.catalog.foreign_handlers.contains(&link.function) {
                Some(
                    "reads or writes rows on another server, which runs code of its own there"
                        .to_owned(),
                )
            } else {
                match routine {
                    Some(f) => self.judge(f),
                    None => judge_listed(&link.function_name, self.scope),
                }
            };
            if let Some(what) = found {
                return Some(format!("{}: {} {what}", start.by, path.join(" → ")));
            }
            let Some(f) = routine.filter(|f| reads(f)) else {
                continue;
            };
            for next in self.next(&lex::lex(&f.source)) {
                if seen.insert(next.function) {
                    queue.push_back((next, path.clone()));
                }
            }
        }
        None
    }

    /// The functions a text reaches through the names it holds, and what
    /// every statement may run.
    fn next(&self, words: &lex::Words) -> Vec<Link> {
        let follows = |l: &&Link| self.scope == Scope::Write || l.part != Part::Write;
        let mut out: Vec<Link> = words
            .names
            .iter()
            .filter_map(|n| self.catalog.links.get(&n.to_lowercase()))
            .flatten()
            .filter(follows)
            .cloned()
            .collect();
        // What any statement may run unnamed (`catalog::always!`).
        let always = self.catalog.links.get("*").into_iter().flatten();
        out.extend(always.filter(follows).cloned());
        out
    }

    /// What `f` itself does beyond what the scope allows, if anything.
    fn judge(&self, f: &Routine) -> Option<String> {
        let listed = |name: &str| judge_listed(name, self.scope);
        match f.language.as_str() {
            // Compiled code: only its name, or the symbol it is bound to,
            // tells what it is (`CREATE FUNCTION innocent(...) LANGUAGE
            // internal AS 'setval_oid'`).
            "c" | "internal" => listed(&f.name).or_else(|| listed(&f.source)).or_else(|| {
                let names = self.catalog.symbols.get(&f.source)?;
                names.iter().find_map(|n| listed(n))
            }),
            "sql" | "plpgsql" => {
                let words = lex::lex(&f.source);
                if let Some(why) = words.names.iter().find_map(|w| listed(w)) {
                    return Some(why);
                }
                if words.unicode_names {
                    return Some(
                        "names something in the U&\"...\" form, which dbguard does not decode"
                            .to_owned(),
                    );
                }
                if f.language == "plpgsql" && words.code.contains("execute") {
                    return Some(
                        "runs dynamic SQL (EXECUTE), whose statements are only known when it runs"
                            .to_owned(),
                    );
                }
                words.code.contains("copy").then(|| {
                    "runs COPY, which can read or write server files and programs".to_owned()
                })
            }
            lang if !f.trusted => Some(format!(
                "is written in {lang}, an untrusted language that reaches files, programs and other connections, which dbguard cannot read"
            )),
            lang => Some(format!(
                "is written in {lang}, which can run SQL built at run time that dbguard cannot read"
            )),
        }
    }
}

/// Whether dbguard reads `f`'s source for the code it reaches.
fn reads(f: &Routine) -> bool {
    matches!(f.language.as_str(), "sql" | "plpgsql")
}

/// What a call of a function named `name` does beyond what `scope`
/// allows, by the reviewed list.
fn judge_listed(name: &str, scope: Scope) -> Option<String> {
    super::side_effects::listed(&name.to_lowercase())
        .filter(|e| scope == Scope::Read || e.beyond_the_rows())
        .map(|e| format!("calls {name}, which {}", e.why))
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

    /// A catalog of `routines` (oids from 20000 in order), each linked by
    /// its own name, plus `links` (name, function oid, part, by).
    fn catalog(routines: Vec<Routine>, links: &[(&str, u32, Part, &str)]) -> Catalog {
        let mut c = Catalog::default();
        for (oid, r) in (20000..).zip(routines) {
            c.links
                .entry(r.name.to_lowercase())
                .or_default()
                .push(Link {
                    function: oid,
                    function_name: r.name.clone(),
                    part: Part::Function,
                    by: r.name.clone(),
                });
            c.routines.insert(oid, r);
        }
        for (name, function, part, by) in links {
            let function_name = c.routines[function].name.clone();
            c.links.entry((*name).into()).or_default().push(Link {
                function: *function,
                function_name,
                part: *part,
                by: (*by).into(),
            });
        }
        c
    }

    fn walk(c: &Catalog, scope: Scope, start: u32) -> Option<String> {
        let start = Link {
            function: start,
            function_name: c.routines[&start].name.clone(),
            part: Part::Write,
            by: "trigger trg on public.t".into(),
        };
        Walk { catalog: c, scope }.from(&start)
    }

    #[test]
    fn a_listed_call_is_found_through_the_functions_it_is_called_from() {
        let c = catalog(
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
            &[],
        );
        assert_eq!(
            walk(&c, Scope::Write, 20000).as_deref(),
            Some(
                "trigger trg on public.t: audit() → helper() calls dblink_exec, which runs SQL on another connection, which commits on its own"
            )
        );
    }

    #[test]
    fn what_a_named_relation_runs_is_followed_by_scope() {
        let c = catalog(
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
            &[("log", 20001, Part::Write, "trigger log_trg on public.log")],
        );
        let found = walk(&c, Scope::Write, 20000).unwrap_or_default();
        assert!(
            found.contains("audit() → (trigger log_trg on public.log) log_fn() calls setval"),
            "{found}"
        );
        // A read does not write `log`: its triggers do not run.
        assert_eq!(walk(&c, Scope::Read, 20000), None);
    }

    #[test]
    fn what_runs_unnamed_and_symbols_reach_what_names_do_not() {
        let c = catalog(
            vec![
                routine("uses_op", "sql", "SELECT 1 <~~> 2"),
                routine("evil", "plpgsql", "BEGIN EXECUTE 'x'; RETURN true; END"),
                routine("innocent", "internal", "setval_oid"),
            ],
            // Operators run unnamed (`IN`, `LIKE`): any statement may.
            &[("*", 20001, Part::Read, "operator <~~>")],
        );
        let mut c = c;
        c.symbols.insert("setval_oid".into(), vec!["setval".into()]);
        let found = walk(&c, Scope::Read, 20000).unwrap_or_default();
        assert!(
            found.contains("(operator <~~>) evil() runs dynamic SQL"),
            "{found}"
        );
        let found = walk(&c, Scope::Write, 20002).unwrap_or_default();
        assert!(found.contains("innocent() calls setval"), "{found}");
    }

    #[test]
    fn dynamic_sql_copy_unicode_names_and_unread_languages_are_named() {
        for (lang, body, expected) in [
            (
                "plpgsql",
                "BEGIN EXECUTE format('delete from %I', x); END",
                "dynamic SQL",
            ),
            ("plpgsql", "BEGIN COPY t TO '/tmp/x'; END", "COPY"),
            (
                "plpgsql",
                r#"BEGIN PERFORM U&"setv\0061l"('s', 1); END"#,
                "U&",
            ),
            ("plpython3u", "plpy.execute('x')", "untrusted language"),
            ("plperl", "spi_exec_query('x')", "run SQL built at run time"),
        ] {
            let c = catalog(vec![routine("f", lang, body)], &[]);
            let found = walk(&c, Scope::Write, 20000).unwrap_or_default();
            assert!(found.contains(expected), "{lang}: {found}");
        }
    }

    #[test]
    fn what_the_row_counters_see_or_comments_say_is_left_alone() {
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
            (
                "plpgsql",
                "f",
                "BEGIN -- copy the row, then execute the plan\n RETURN NEW; END",
            ),
            ("c", "moddatetime", "moddatetime"),
        ] {
            let c = catalog(vec![routine(name, lang, body)], &[]);
            assert_eq!(walk(&c, Scope::Write, 20000), None, "{body}");
        }
        // A read-only transaction does stop nothing a large object takes.
        let c = catalog(
            vec![routine("f", "plpgsql", "BEGIN PERFORM lo_unlink(1); END")],
            &[],
        );
        assert!(walk(&c, Scope::Read, 20000).is_some());
    }

    #[test]
    fn cycles_end_the_walk() {
        let c = catalog(
            vec![
                routine("a", "plpgsql", "BEGIN PERFORM b(); END"),
                routine("b", "sql", "SELECT a()"),
            ],
            &[],
        );
        assert_eq!(walk(&c, Scope::Write, 20000), None);
    }
}
