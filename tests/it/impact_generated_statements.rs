//! Random writes over a generated schema (`impact_generated_schema.rs`):
//! DELETE, UPDATE, INSERT and TRUNCATE statements aimed at the rows and
//! keys the model holds, so most reach rows and keys and some miss.

use crate::impact_generated_schema::Rng;
use crate::impact_generated_schema::{Key, Model, Target, insert_cols, key_lit, lit};

/// A random write over `m`.
pub fn statement(rng: &mut Rng, m: &Model) -> String {
    let t = rng.below(m.tables.len() as u64) as usize;
    let name = &m.tables[t].name;
    let kinds = if m.target == Target::Pg { 10 } else { 9 };
    match rng.below(kinds) {
        0..=2 => match predicate(rng, m, t) {
            Some(p) => format!("DELETE FROM {name} WHERE {p}"),
            None => format!("DELETE FROM {name}"),
        },
        3..=6 => {
            let mut sets = vec![assignment(rng, m, t)];
            if rng.one_in(3) {
                let other = assignment(rng, m, t);
                if other.split(" = ").next() != sets[0].split(" = ").next() {
                    sets.push(other);
                }
            }
            let sets = sets.join(", ");
            match predicate(rng, m, t) {
                Some(p) => format!("UPDATE {name} SET {sets} WHERE {p}"),
                None => format!("UPDATE {name} SET {sets}"),
            }
        }
        7 | 8 => insert(rng, m, t),
        _ => {
            if rng.one_in(2) {
                format!("TRUNCATE {name} CASCADE")
            } else {
                format!("TRUNCATE {name}")
            }
        }
    }
}

fn id_near(rng: &mut Rng, m: &Model, t: usize) -> i64 {
    1 + rng.below(m.tables[t].rows.len() as u64 + 2) as i64
}

fn predicate(rng: &mut Rng, m: &Model, t: usize) -> Option<String> {
    let table = &m.tables[t];
    let x = id_near(rng, m, t);
    Some(match rng.below(9) {
        0 | 1 => format!("id = {x}"),
        2 => format!("id <= {x}"),
        3 => format!("id IN ({x}, {})", id_near(rng, m, t)),
        4 => format!("v = {}", rng.below(13)),
        5 => format!("k >= {}", rng.below(20)),
        6 if !table.fks.is_empty() => {
            let fk = &table.fks[rng.below(table.fks.len() as u64) as usize];
            if rng.one_in(3) {
                format!("{} IS NULL", fk.cols[0])
            } else {
                let x = rng.below(10) as i64;
                format!("{} = {}", fk.cols[0], key_lit(fk.key, Some(x)))
            }
        }
        7 => format!("id > {}", rng.below(3)),
        _ => return None,
    })
}

fn assignment(rng: &mut Rng, m: &Model, t: usize) -> String {
    let table = &m.tables[t];
    match rng.below(12) {
        0 => format!("v = {}", rng.below(14)),
        1 => "v = v + 1".to_owned(),
        2 => "s = 'z'".to_owned(),
        3 => "id = id + 100".to_owned(),
        4 => "id = id + 1".to_owned(),
        5 => format!("id = {}", id_near(rng, m, t) + 50 * rng.below(2) as i64),
        6 => "k = k + 1".to_owned(),
        7 if table.n && rng.one_in(2) => {
            let case = if rng.one_in(2) { 'k' } else { 'K' };
            format!("n = '{case}{}'", rng.below(30))
        }
        7 => match rng.below(3) {
            0 => "k = NULL".to_owned(),
            _ => format!("k = {}", rng.below(30)),
        },
        8 => "id = id".to_owned(),
        9 if table.u.is_some() && rng.one_in(2) => match rng.below(3) {
            0 => "u = NULL".to_owned(),
            1 => "u = u + 1".to_owned(),
            _ => format!("u = {}", 1 + rng.below(8)),
        },
        _ if table.fks.is_empty() => "v = 1".to_owned(),
        _ => {
            let fk = &table.fks[rng.below(table.fks.len() as u64) as usize];
            let parents = m.key_values(fk.to, fk.key);
            let vals: Vec<Option<i64>> = match rng.below(4) {
                0 => vec![None; fk.cols.len()],
                1 => vec![Some(99); fk.cols.len()],
                _ if parents.is_empty() => vec![Some(1); fk.cols.len()],
                _ => parents[rng.below(parents.len() as u64) as usize].clone(),
            };
            fk.cols
                .iter()
                .zip(vals)
                .map(|(c, v)| format!("{c} = {}", key_lit(fk.key, v)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

fn insert(rng: &mut Rng, m: &Model, t: usize) -> String {
    let table = &m.tables[t];
    let omit_fks = m.features.omitted_defaults && !table.fks.is_empty() && rng.one_in(4);
    let rows: Vec<String> = (0..1 + rng.below(2))
        .map(|i| {
            let id = if rng.one_in(4) {
                id_near(rng, m, t)
            } else {
                100 + i as i64 + rng.below(3) as i64
            };
            let mut vals = vec![
                id.to_string(),
                lit((!rng.one_in(5)).then(|| rng.below(30) as i64)),
                rng.below(14).to_string(),
                "'new'".to_owned(),
            ];
            if !omit_fks {
                for fk in &table.fks {
                    let parents = m.key_values(fk.to, fk.key);
                    let v: Vec<Option<i64>> = match rng.below(5) {
                        0 => vec![None; fk.cols.len()],
                        1 => vec![Some(99); fk.cols.len()],
                        2 if fk.cols.len() == 2 => vec![Some(1), None],
                        _ if parents.is_empty() => vec![Some(id); fk.cols.len()],
                        _ => parents[rng.below(parents.len() as u64) as usize].clone(),
                    };
                    vals.extend(v.into_iter().map(|v| key_lit(fk.key, v)));
                }
                if let Some(u) = &table.u {
                    let ids = m.key_values(u.to, Key::Id);
                    vals.push(match ids.get(rng.below(ids.len() as u64 + 2) as usize) {
                        Some(v) => lit(v[0]),
                        None => lit((!rng.one_in(2)).then_some(99)),
                    });
                }
            }
            format!("({})", vals.join(", "))
        })
        .collect();
    let cols = if omit_fks {
        "id, k, v, s".to_owned()
    } else {
        insert_cols(table).join(", ")
    };
    let conflict = if m.features.on_conflict && rng.one_in(4) {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    format!(
        "INSERT INTO {} ({cols}) VALUES {}{conflict}",
        table.name,
        rows.join(", ")
    )
}
