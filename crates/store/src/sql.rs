//! Raw SQL for the few statements sea-orm's builder cannot say portably (`RETURNING` on an
//! update, `FOR UPDATE SKIP LOCKED`). Written with `$1`, `$2`…; rewritten to SQLite's numbered
//! `?1`, `?2`…, so a parameter may appear more than once.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

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
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(CHUNK).collect();
        let cols = chunk.first().map_or(0, Vec::len);
        let text = format!("{head} VALUES {} {tail}", tuples(chunk.len(), cols));
        execute(db, &text, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
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
    fn tuples_number_every_value_once() {
        assert_eq!(tuples(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(tuples(1, 1), "($1)");
        assert_eq!(tuples(0, 4), "");
    }
}
