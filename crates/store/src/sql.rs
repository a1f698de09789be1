//! Raw SQL for the few statements sea-orm's builder cannot say portably (`RETURNING` on an
//! update, `FOR UPDATE SKIP LOCKED`). Written with `$1`, `$2`…; rewritten to SQLite's numbered
//! `?1`, `?2`…, so a parameter may appear more than once.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic, Iterable, QueryResult,
    Statement, Value,
};

use crate::StoreError;

/// A statement for the connection's backend.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        // One pass: a batch statement may hold thousands of placeholders.
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` values each.
pub(crate) fn tuples(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// Rows per multi-row statement: well under either database's limit on bound values.
pub(crate) const CHUNK: usize = 200;

/// Writes `rows` (each the values of one tuple, in the order of `head`'s columns) as
/// `{head} VALUES (…), (…) {tail}`, [`CHUNK`] rows a statement.
pub(crate) async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    for (text, values) in inserts(head, tail, rows) {
        execute(db, &text, values).await?;
    }
    Ok(())
}

/// The statements of [`insert_rows`], each with its values.
fn inserts(head: &str, tail: &str, rows: Vec<Vec<Value>>) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::with_capacity(rows.len() / CHUNK + 1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(CHUNK).collect();
        let cols = chunk.first().map_or(0, Vec::len);
        let text = format!("{head} VALUES {} {tail}", tuples(chunk.len(), cols));
        out.push((text, chunk.into_iter().flatten().collect()));
    }
    out
}

/// Statements sent together. On SQLite, each call is a hand-off to the connection's thread and
/// back, which cost a batch more than most of its statements (docs/BENCHMARKS.md, 2026-12-06
/// seventh part): there the statements go as one string, in one call. PostgreSQL's protocol takes
/// one statement with parameters a call, so there they run one by one. Either way, the rows are
/// every statement's, in order, and the first failure ends the script.
///
/// Only the inbound lane's batches use scripts, inside their `BEGIN IMMEDIATE`. sqlx 0.9 panics
/// in the connection's thread, which then dies, when a cached string's later statement fails
/// before it starts (a table it names was dropped since it was prepared): resetting the string's
/// statements clears the error it then looks for. A statement alone fails cleanly. Inside the
/// lane's transaction nothing can change the schema, so only a database whose tables no longer
/// fit the code could meet that, and the pool opens a new connection in the dead one's place.
#[derive(Default)]
pub(crate) struct Script {
    parts: Vec<(String, Vec<Value>)>,
}

/// Most values bound to one PostgreSQL statement: its protocol counts them in 16 bits.
const POSTGRES_VALUES: usize = 65_535;

impl Script {
    /// Adds a statement written with `$1`, `$2`… for its own `values`.
    pub(crate) fn push(&mut self, sql: String, values: Vec<Value>) {
        self.parts.push((sql, values));
    }

    /// Adds `{head} VALUES (…), (…) {tail}` for `rows`, [`CHUNK`] rows a statement (see
    /// [`insert_rows`]).
    pub(crate) fn insert_rows(&mut self, head: &str, tail: &str, rows: Vec<Vec<Value>>) {
        self.parts.extend(inserts(head, tail, rows));
    }

    /// Adds the insert of `models`, every column each sets. They must all set the same columns.
    pub(crate) fn insert_models<A: ActiveModelTrait>(&mut self, models: Vec<A>) -> Result<(), StoreError> {
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| models.first().is_some_and(|m| m.get(*c).into_value().is_some()))
            .collect();
        let mut rows = Vec::with_capacity(models.len());
        for model in models {
            let row: Option<Vec<Value>> = columns.iter().map(|c| model.get(*c).into_value()).collect();
            rows.push(row.ok_or_else(|| StoreError::internal("rows of one insert set different columns"))?);
        }
        let table = A::Entity::default().table_name().to_owned();
        let names: Vec<&str> = columns.iter().map(IdenStatic::as_str).collect();
        self.insert_rows(&format!("INSERT INTO {table} ({})", names.join(", ")), "", rows);
        Ok(())
    }

    /// Runs statements that do not depend on each other's effects, and returns the rows of those
    /// that answer with rows. On PostgreSQL they go as few statements as the bound values allow:
    /// each statement that returns no rows becomes a `WITH` part of the next one (or of the last
    /// such statement), so a batch's five inserts and its query cost one round trip, one parse
    /// and one plan, not six. The parts then see one snapshot: none may read what another writes
    /// (a foreign key may name a row another part inserts: it is checked when the statement ends).
    /// On SQLite the script is one call anyway, as [`Script::run`].
    pub(crate) async fn run_at_once<C: ConnectionTrait>(self, db: &C) -> Result<Vec<QueryResult>, StoreError> {
        let parts = match db.get_database_backend() {
            DbBackend::Postgres => at_once(self.parts)?,
            _ => self.parts,
        };
        Script { parts }.run(db).await
    }

    /// Runs the statements and returns their rows.
    pub(crate) async fn run<C: ConnectionTrait>(self, db: &C) -> Result<Vec<QueryResult>, StoreError> {
        let backend = db.get_database_backend();
        let mut rows = Vec::new();
        if backend == DbBackend::Postgres {
            for (sql, values) in self.parts {
                rows.extend(query(db, &sql, values).await?);
            }
            return Ok(rows);
        }
        // SQLite's limit on bound values is per statement: each statement binds its own `?`s.
        let (mut text, mut values) = (String::new(), Vec::new());
        for (sql, part) in self.parts {
            positional(&sql, part, &mut text, &mut values)?;
            text.push_str(";\n");
        }
        if !text.is_empty() {
            rows.extend(db.query_all_raw(Statement::from_sql_and_values(backend, text, values)).await?);
        }
        Ok(rows)
    }
}

/// Whether `sql` starts with the keyword `word`.
fn starts_with(sql: &str, word: &str) -> bool {
    sql.trim_start().get(..word.len()).is_some_and(|h| h.eq_ignore_ascii_case(word))
}

/// Statements that return no rows: an `INSERT`, `UPDATE` or `DELETE` without `RETURNING`. Anything
/// else may return rows.
fn quiet(sql: &str) -> bool {
    ["INSERT", "UPDATE", "DELETE"].iter().any(|w| starts_with(sql, w))
        && !sql.to_ascii_uppercase().contains("RETURNING")
}

/// [`Script::run_at_once`]'s statements on PostgreSQL: each run of statements that return no rows
/// joins the statement after it as `WITH` parts (`w1`, `w2`…), its `$n` numbered on from the
/// values before it, while the values fit one statement.
fn at_once(parts: Vec<(String, Vec<Value>)>) -> Result<Vec<(String, Vec<Value>)>, StoreError> {
    let mut out = Vec::new();
    // The `WITH` parts waiting for their statement, and their values.
    let (mut with, mut bound): (Vec<String>, Vec<Value>) = (Vec::new(), Vec::new());
    let mut parts = parts.into_iter().peekable();
    while let Some((sql, values)) = parts.next() {
        // A statement with a `WITH` of its own cannot take more parts: it goes after those waiting.
        if starts_with(&sql, "WITH") || bound.len() + values.len() > POSTGRES_VALUES {
            flush(&mut with, &mut bound, &mut out)?;
        }
        with.push(renumber(&sql, bound.len(), values.len())?);
        bound.extend(values);
        if !quiet(&sql) || parts.peek().is_none() {
            flush(&mut with, &mut bound, &mut out)?;
        }
    }
    Ok(out)
}

/// Ends the statements waiting in `with` as one: the last is the statement, the others its `WITH`
/// parts.
fn flush(
    with: &mut Vec<String>,
    bound: &mut Vec<Value>,
    out: &mut Vec<(String, Vec<Value>)>,
) -> Result<(), StoreError> {
    let Some(main) = with.pop() else {
        return if bound.is_empty() { Ok(()) } else { Err(StoreError::internal("values without a statement")) };
    };
    let text = if with.is_empty() { main } else { format!("{} {main}", withs(with)) };
    with.clear();
    out.push((text, std::mem::take(bound)));
    Ok(())
}

/// `WITH w1 AS (…), w2 AS (…)`.
fn withs(parts: &[String]) -> String {
    let named: Vec<String> = parts.iter().enumerate().map(|(i, p)| format!("w{} AS ({p})", i + 1)).collect();
    format!("WITH {}", named.join(", "))
}

/// Copies `sql` to `out`, handing each placeholder's number (`$n`, from 1) to `place`, which
/// writes what stands for it.
fn placeholders(
    sql: &str,
    out: &mut String,
    mut place: impl FnMut(&mut String, usize) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut n = 0usize;
        let mut digits = false;
        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
            n = n * 10 + d as usize;
            digits = true;
            chars.next();
        }
        if !digits {
            out.push('$');
            continue;
        }
        if n == 0 {
            return Err(StoreError::internal("a statement names parameter $0"));
        }
        place(out, n)?;
    }
    Ok(())
}

/// `sql` with each `$n` written `$(n + offset)`; each must name one of its `count` values.
fn renumber(sql: &str, offset: usize, count: usize) -> Result<String, StoreError> {
    let mut out = String::with_capacity(sql.len() + sql.len() / 8);
    placeholders(sql, &mut out, |out, n| {
        if n > count {
            return Err(StoreError::internal(format!("a statement names ${n} of {count} values")));
        }
        out.push('$');
        out.push_str(&(n + offset).to_string());
        Ok(())
    })?;
    Ok(out)
}

/// Appends `sql` to `out` with each `$n` written as a bare `?`, and its value to `bound`, in the
/// order they appear (a value used twice is bound twice). sqlx binds a string's bare `?`s in
/// order across its statements; with numbered ones, it numbers each statement's unused lower
/// slots on from its own count and stops binding once that count passes the values given.
fn positional(sql: &str, values: Vec<Value>, out: &mut String, bound: &mut Vec<Value>) -> Result<(), StoreError> {
    let count = values.len();
    let mut values: Vec<Option<Value>> = values.into_iter().map(Some).collect();
    // Where each value went in `bound`, once used.
    let mut placed: Vec<Option<usize>> = vec![None; count];
    placeholders(sql, out, |out, n| {
        let i = n - 1;
        // The first use takes the value, a later one a copy.
        let value = match (values.get_mut(i).and_then(Option::take), placed.get(i).copied().flatten()) {
            (Some(value), _) => value,
            (None, Some(at)) => {
                bound.get(at).cloned().ok_or_else(|| StoreError::internal("a bound value went missing"))?
            }
            (None, None) => return Err(StoreError::internal(format!("a statement names ${n} of {count} values"))),
        };
        if let Some(slot) = placed.get_mut(i) {
            slot.get_or_insert(bound.len());
        }
        out.push('?');
        bound.push(value);
        Ok(())
    })
}

/// Updates many rows with their own values in one statement per [`CHUNK`]: `rows` become the
/// common table `cte` (`v(id, a, b)`), which `update` (`UPDATE t SET a = v.a … FROM v WHERE …`)
/// joins. Each row should name a different record.
pub(crate) async fn update_rows<C: ConnectionTrait>(
    db: &C,
    cte: &str,
    update: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(CHUNK).collect();
        let cols = chunk.first().map_or(0, Vec::len);
        let text = format!("WITH {cte} AS (VALUES {}) {update}", tuples(chunk.len(), cols));
        execute(db, &text, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

/// Runs a query and returns its rows.
pub(crate) async fn query<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, StoreError> {
    Ok(db.query_all_raw(statement(db.get_database_backend(), sql, values)).await?)
}

/// Runs a statement and returns the number of rows it touched.
pub(crate) async fn execute<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
    Ok(db.execute_raw(statement(db.get_database_backend(), sql, values)).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let v = || {
            vec![
                Value::from(1),
                Value::from(2),
                Value::from(3),
                Value::from(4),
                Value::from(5),
                Value::from(6),
                Value::from(7),
                Value::from(8),
                Value::from(9),
                Value::from(10),
            ]
        };
        let pg = statement(DbBackend::Postgres, "a = $1 and b = $10", v());
        assert_eq!(pg.sql, "a = $1 and b = $10");
        let lite = statement(DbBackend::Sqlite, "a = $1 and b = $10", v());
        assert_eq!(lite.sql, "a = ?1 and b = ?10", "$10 is not read as $1 followed by 0");
    }

    #[test]
    fn a_script_binds_each_use_of_a_value_in_order() {
        let (mut out, mut bound) = (String::new(), Vec::new());
        positional("INSERT INTO t VALUES ($1, $2), ($3, $2)", vec![1.into(), 2.into(), 3.into()], &mut out, &mut bound)
            .unwrap();
        positional("SELECT $2, '$', $1", vec![4.into(), 5.into()], &mut out, &mut bound).unwrap();
        assert_eq!(out, "INSERT INTO t VALUES (?, ?), (?, ?)SELECT ?, '$', ?");
        assert_eq!(bound, vec![1.into(), 2.into(), 3.into(), 2.into(), 5.into(), 4.into()]);
        let unknown = positional("SELECT $3", vec![1.into()], &mut out, &mut bound);
        assert!(unknown.is_err(), "a parameter beyond the values is refused");
    }

    #[test]
    fn statements_at_once_join_as_with_parts_numbered_on() {
        let parts = vec![
            ("INSERT INTO a (x, y) VALUES ($1, $2)".to_owned(), vec![1.into(), 2.into()]),
            ("INSERT INTO b (x) VALUES ($1) ON CONFLICT (x) DO UPDATE SET x = $1".to_owned(), vec![3.into()]),
            ("SELECT x FROM c WHERE x IN ($1, $2)".to_owned(), vec![4.into(), 5.into()]),
            ("INSERT INTO d (x) VALUES ($1)".to_owned(), vec![6.into()]),
            ("INSERT INTO e (x) VALUES ($1)".to_owned(), vec![7.into()]),
        ];
        let out = at_once(parts).unwrap();
        assert_eq!(
            out,
            vec![
                (
                    "WITH w1 AS (INSERT INTO a (x, y) VALUES ($1, $2)), w2 AS (INSERT INTO b (x) VALUES ($3) ON \
                     CONFLICT (x) DO UPDATE SET x = $3) SELECT x FROM c WHERE x IN ($4, $5)"
                        .to_owned(),
                    vec![1.into(), 2.into(), 3.into(), 4.into(), 5.into()]
                ),
                (
                    "WITH w1 AS (INSERT INTO d (x) VALUES ($1)) INSERT INTO e (x) VALUES ($2)".to_owned(),
                    vec![6.into(), 7.into()]
                ),
            ]
        );
        // A query in the middle returns its rows: it ends a statement, and so do `RETURNING` and
        // anything that is not a plain write.
        let parts = vec![
            ("SELECT 1 WHERE $1".to_owned(), vec![true.into()]),
            ("UPDATE t SET x = $1 returning x".to_owned(), vec![1.into()]),
            ("WITH v AS (SELECT $1) DELETE FROM t".to_owned(), vec![1.into()]),
            ("INSERT INTO d (x) VALUES ($1)".to_owned(), vec![2.into()]),
        ];
        let texts: Vec<String> = at_once(parts).unwrap().into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            texts,
            [
                "SELECT 1 WHERE $1",
                "UPDATE t SET x = $1 returning x",
                "WITH v AS (SELECT $1) DELETE FROM t",
                "INSERT INTO d (x) VALUES ($1)"
            ]
        );
        let parts = vec![
            ("INSERT INTO d (x) VALUES ($1)".to_owned(), vec![2.into()]),
            ("WITH v AS (SELECT $1) DELETE FROM t".to_owned(), vec![1.into()]),
        ];
        let texts: Vec<String> = at_once(parts).unwrap().into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            texts,
            ["INSERT INTO d (x) VALUES ($1)", "WITH v AS (SELECT $1) DELETE FROM t"],
            "no WITH in a WITH"
        );
        assert!(at_once(vec![("SELECT $2".to_owned(), vec![1.into()])]).is_err(), "$2 of one value");
    }

    #[test]
    fn statements_at_once_stay_within_postgres_values() {
        let row = |n: usize| ("INSERT INTO a (x) VALUES ".to_owned() + &tuples(n, 1), vec![Value::from(1); n]);
        let out = at_once(vec![row(40_000), row(30_000), row(20_000)]).unwrap();
        let sizes: Vec<usize> = out.iter().map(|(_, v)| v.len()).collect();
        assert_eq!(sizes, [40_000, 50_000], "the second and third join; the first would have too many");
        assert!(out[1].0.starts_with("WITH w1 AS (INSERT INTO a (x) VALUES ($1), "), "{}", &out[1].0[..60]);
        assert!(out[1].0.ends_with("($50000)"));
    }

    async fn table() -> sea_orm::DatabaseConnection {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL)").await.unwrap();
        db
    }

    async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
        let rows = query(db, sql, Vec::new()).await.unwrap();
        rows[0].try_get::<i64>("", "n").unwrap()
    }

    #[tokio::test]
    async fn a_script_returns_every_statements_rows_in_order() {
        let db = table().await;
        let mut script = Script::default();
        let rows = (0..450).map(|i| vec![Value::from(i), Value::from(format!("r{i}"))]).collect();
        script.insert_rows("INSERT INTO t (a, b)", "", rows);
        script
            .push("SELECT 1 AS part, a FROM t WHERE a < $1 OR b = $2 ORDER BY a".into(), vec![2.into(), "r449".into()]);
        script.push("SELECT 2 AS part, count(*) AS a FROM t WHERE a >= $1 AND a >= $1".into(), vec![400.into()]);
        let got = script.run(&db).await.unwrap();
        let got: Vec<(i32, i64)> =
            got.iter().map(|r| (r.try_get("", "part").unwrap(), r.try_get("", "a").unwrap())).collect();
        assert_eq!(got, vec![(1, 0), (1, 1), (1, 449), (2, 50)], "the inserts' 3 statements ran first");
    }

    #[tokio::test]
    async fn a_script_may_bind_more_values_than_one_statement_may() {
        let db = table().await;
        let mut script = Script::default();
        // 86 statements of 400 values: 34,400 in all, past SQLite's 32,766 for one statement.
        let rows = (0..17_200).map(|i| vec![Value::from(i), Value::from("x")]).collect();
        script.insert_rows("INSERT INTO t (a, b)", "", rows);
        script.run(&db).await.unwrap();
        assert_eq!(count(&db, "SELECT count(*) AS n FROM t WHERE b = 'x'").await, 17_200);
    }

    #[tokio::test]
    async fn a_scripts_first_failure_ends_it() {
        let db = table().await;
        let mut script = Script::default();
        script.push("INSERT INTO t (a, b) VALUES ($1, $2)".into(), vec![1.into(), "before".into()]);
        script.push("INSERT INTO t (a, b) VALUES ($1, NULL)".into(), vec![2.into()]);
        script.push("INSERT INTO t (a, b) VALUES ($1, $2)".into(), vec![3.into(), "after".into()]);
        assert!(script.run(&db).await.is_err(), "the NULL is refused");
        assert_eq!(count(&db, "SELECT count(*) AS n FROM t WHERE a = 3").await, 0, "nothing after the failure ran");
    }

    #[test]
    fn tuples_number_every_value_once() {
        assert_eq!(tuples(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(tuples(1, 1), "($1)");
        assert_eq!(tuples(0, 4), "");
    }
}
