//! The JDBC connectors for PostgreSQL, with the class and config names of
//! Confluent's JDBC connector (`io.confluent.connect.jdbc.*`), so the
//! connector JSON people already have works unchanged:
//!
//! * [`source`]: `JdbcSourceConnector`, polling tables (or one query) in
//!   `bulk`, `incrementing`, `timestamp` or `timestamp+incrementing` mode.
//! * [`sink`]: `JdbcSinkConnector`, inserting, upserting or updating rows
//!   keyed as `pk.mode` says, creating and widening tables when allowed.
//!
//! Both speak to PostgreSQL through `tokio-postgres` (no libpq, no JVM);
//! `connection.url` takes the JDBC form (`jdbc:postgresql://host:port/db`)
//! as well as a plain `postgresql://` URL.

pub mod sink;
pub mod source;

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::{checked, def, Check, Config, ConfigDef, ConfigType};
use crate::runtime::TaskError;

/// The connection keys both connectors take.
pub(super) static CONNECTION_DEFS: &[ConfigDef] = &[
    checked(
        def(
            "connection.url",
            ConfigType::String,
            None,
            true,
            "JDBC connection URL. For example: jdbc:postgresql://localhost:5432/db",
        ),
        Check::NonEmpty,
    ),
    def(
        "connection.user",
        ConfigType::String,
        None,
        false,
        "JDBC connection user.",
    ),
    def(
        "connection.password",
        ConfigType::String,
        None,
        false,
        "JDBC connection password.",
    ),
    checked(
        def(
            "connection.attempts",
            ConfigType::Int,
            Some("3"),
            false,
            "Maximum number of attempts to retrieve a valid JDBC connection. Must be a positive integer.",
        ),
        Check::AtLeast(1),
    ),
    checked(
        def(
            "connection.backoff.ms",
            ConfigType::Long,
            Some("10000"),
            false,
            "Backoff time in milliseconds between connection attempts.",
        ),
        Check::AtLeast(0),
    ),
];

/// `connection.url` as tokio-postgres reads it: the `jdbc:` prefix taken
/// off (the rest of a JDBC PostgreSQL URL is a libpq URL), and
/// `connection.user` / `connection.password` over the URL's own.
pub fn pg_config(config: &Config) -> Result<tokio_postgres::Config, TaskError> {
    let url = config.get("connection.url").map(|u| u.trim()).unwrap_or("");
    let libpq = url.strip_prefix("jdbc:").unwrap_or(url);
    if !libpq.starts_with("postgresql://") && !libpq.starts_with("postgres://") {
        return Err(TaskError::Config(format!(
            "connection.url {url:?} is not a PostgreSQL URL (jdbc:postgresql://host:port/database)"
        )));
    }
    let mut pg: tokio_postgres::Config = libpq
        .parse()
        .map_err(|e| TaskError::Config(format!("connection.url {url:?}: {e}")))?;
    if let Some(user) = config.get("connection.user").filter(|u| !u.is_empty()) {
        pg.user(user);
    }
    if let Some(password) = config.get("connection.password") {
        pg.password(password);
    }
    if pg.get_user().is_none() {
        return Err(TaskError::Config(
            "no database user: set connection.user or user= in connection.url".into(),
        ));
    }
    pg.application_name("runnel-connect");
    pg.connect_timeout(Duration::from_secs(10));
    Ok(pg)
}

/// A connection, tried `connection.attempts` times `connection.backoff.ms`
/// apart; its session works in UTC, so `TIMESTAMP` columns (no zone) are
/// read and written as UTC instants, as the JDBC connector's default
/// `db.timezone` does.
pub async fn connect(config: &Config) -> Result<Client, TaskError> {
    let pg = pg_config(config)?;
    let attempts = super::int(config, "connection.attempts", 3).max(1);
    let backoff =
        Duration::from_millis(super::int(config, "connection.backoff.ms", 10_000).max(0) as u64);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match pg.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::warn!(error = %e, "PostgreSQL connection closed");
                    }
                });
                client
                    .batch_execute("SET TIME ZONE 'UTC'")
                    .await
                    .map_err(sql_error)?;
                return Ok(client);
            }
            Err(e) if attempt < attempts => {
                tracing::warn!(error = %e, attempt, "cannot connect to PostgreSQL; retrying");
                tokio::time::sleep(backoff).await;
            }
            Err(e) => {
                return Err(TaskError::Database(format!(
                    "cannot connect to PostgreSQL after {attempt} attempt(s): {e}"
                )))
            }
        }
    }
}

/// A database error with PostgreSQL's own message and detail (its
/// `Display` says only "db error").
pub fn sql_error(e: tokio_postgres::Error) -> TaskError {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            TaskError::Database(text)
        }
        None => TaskError::Database(e.to_string()),
    }
}

/// An identifier quoted for SQL (`"Order ""x"""`), so any table or column
/// name is taken as it is written.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A table name, possibly schema-qualified (`sales.orders`): its schema
/// (none: the session's `current_schema()`) and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableId {
    pub schema: Option<String>,
    pub name: String,
}

impl TableId {
    pub fn parse(text: &str) -> TableId {
        let text = text.trim();
        match text.rsplit_once('.') {
            Some((schema, name)) if !schema.is_empty() => TableId {
                schema: Some(schema.to_string()),
                name: name.to_string(),
            },
            _ => TableId {
                schema: None,
                name: text.to_string(),
            },
        }
    }

    /// The name as SQL text, each part quoted.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A column as `information_schema.columns` describes it.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub name: String,
    /// `data_type` (`integer`, `timestamp without time zone`, …).
    pub data_type: String,
    pub nullable: bool,
    pub numeric_precision: Option<i32>,
    pub numeric_scale: Option<i32>,
}

/// The table's columns in their order; empty when there is no such table.
pub async fn columns(client: &Client, table: &TableId) -> Result<Vec<ColumnInfo>, TaskError> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable = 'YES', \
                    numeric_precision::int4, numeric_scale::int4 \
             FROM information_schema.columns \
             WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 \
             ORDER BY ordinal_position",
            &[&table.schema, &table.name],
        )
        .await
        .map_err(sql_error)?;
    rows.iter()
        .map(|r| {
            Ok(ColumnInfo {
                name: r.try_get(0).map_err(sql_error)?,
                data_type: r.try_get(1).map_err(sql_error)?,
                nullable: r.try_get(2).map_err(sql_error)?,
                numeric_precision: r.try_get(3).map_err(sql_error)?,
                numeric_scale: r.try_get(4).map_err(sql_error)?,
            })
        })
        .collect()
}

/// Kafka Connect's logical type names the connectors read and write.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
pub const DATE: &str = "org.apache.kafka.connect.data.Date";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::config_of as config;

    #[test]
    fn jdbc_urls_and_credentials() {
        let pg = pg_config(&config(&[
            ("connection.url", "jdbc:postgresql://127.0.0.1:5544/shop"),
            ("connection.user", "app"),
            ("connection.password", "pw"),
        ]))
        .unwrap();
        assert_eq!(pg.get_dbname(), Some("shop"));
        assert_eq!(pg.get_ports(), &[5544]);
        assert_eq!(pg.get_user(), Some("app"));
        assert_eq!(pg.get_password(), Some(&b"pw"[..]));
        let pg = pg_config(&config(&[(
            "connection.url",
            "postgresql://127.0.0.1/shop?user=u&password=p",
        )]))
        .unwrap();
        assert_eq!(pg.get_user(), Some("u"));
        let e = pg_config(&config(&[("connection.url", "jdbc:mysql://h/db")])).unwrap_err();
        assert!(e.to_string().contains("not a PostgreSQL URL"), "{e}");
        let e = pg_config(&config(&[("connection.url", "jdbc:postgresql://h/db")])).unwrap_err();
        assert!(e.to_string().contains("connection.user"), "{e}");
    }

    #[test]
    fn table_names_are_quoted_per_part() {
        let t = TableId::parse("sales.Orders");
        assert_eq!(t.sql(), "\"sales\".\"Orders\"");
        assert_eq!(t.to_string(), "sales.Orders");
        assert_eq!(TableId::parse("a\"b").sql(), "\"a\"\"b\"");
        assert_eq!(TableId::parse("orders").schema, None);
    }
}
