//! `JdbcSourceConnector` for PostgreSQL: each table (or the one `query`)
//! is polled every `poll.interval.ms` for rows past its stored offset.
//!
//! * `bulk`: every row, every poll.
//! * `incrementing`: rows whose `incrementing.column.name` is above the
//!   largest seen (new rows only), offset `{"incrementing": n}`.
//! * `timestamp`: rows whose `timestamp.column.name` (the first non-null of
//!   the listed columns) is after the newest seen and before now minus
//!   `timestamp.delay.interval.ms` (new and updated rows), offset
//!   `{"timestamp": ms, "timestamp_nanos": ns}`.
//! * `timestamp+incrementing`: ordered by both, so rows sharing a
//!   timestamp are neither skipped nor repeated; offset holds both.
//!
//! A table's records go to `topic.prefix` + its name (a query's to
//! `topic.prefix`), with no key and a struct value named after the table,
//! one field per column (optional where the column is nullable), under
//! the source partition `{"table": <name>}` (`{"query": "query"}`). Column
//! types map as the JDBC connector's: integers to int16/32/64, `real` and
//! `double precision` to float/double, `boolean`, `bytea` to bytes,
//! `timestamp[tz]` and `date` to Connect's Timestamp and Date, `numeric`
//! as its `numeric.mapping=best_fit` does (int64 for a scale of 0 and at
//! most 18 digits, double otherwise), and everything else as its text.
//!
//! In `incrementing` and `timestamp+incrementing` a query reads at most
//! `batch.max.rows` rows (the order is total, so the next query goes on
//! where it stopped); `bulk` and `timestamp` read all rows due and hand
//! them out `batch.max.rows` per poll.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio_postgres::types::Type as PgType;
use tokio_postgres::{Client, Row};

use super::{connect, quote, sql_error, ColumnInfo, TableId, DATE, TIMESTAMP};
use crate::data::{Data, Schema, SchemaAndValue, Type};
use crate::plugins::{checked, def, list, Check, Config, ConfigDef, ConfigType};
use crate::runtime::{SourceRecord, TaskError};

pub(in crate::plugins) static DEFS: &[ConfigDef] = &[
    checked(
        def(
            "mode",
            ConfigType::String,
            None,
            true,
            "The mode for updating a table each time it is polled: bulk, timestamp, incrementing or timestamp+incrementing",
        ),
        Check::OneOf(&["bulk", "timestamp", "incrementing", "timestamp+incrementing"]),
    ),
    def(
        "incrementing.column.name",
        ConfigType::String,
        Some(""),
        false,
        "The name of the strictly incrementing column to use to detect new rows.",
    ),
    def(
        "timestamp.column.name",
        ConfigType::List,
        Some(""),
        false,
        "Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function.",
    ),
    def(
        "table.whitelist",
        ConfigType::List,
        Some(""),
        false,
        "List of tables to include in copying. If specified, table.blacklist may not be set.",
    ),
    def(
        "table.blacklist",
        ConfigType::List,
        Some(""),
        false,
        "List of tables to exclude from copying. If specified, table.whitelist may not be set.",
    ),
    def(
        "query",
        ConfigType::String,
        Some(""),
        false,
        "If specified, the query to perform to select new or updated rows.",
    ),
    def(
        "topic.prefix",
        ConfigType::String,
        None,
        true,
        "Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case of a custom query, the full name of the topic to publish to.",
    ),
    checked(
        def(
            "poll.interval.ms",
            ConfigType::Int,
            Some("5000"),
            false,
            "Frequency in ms to poll for new data in each table.",
        ),
        Check::AtLeast(0),
    ),
    checked(
        def(
            "batch.max.rows",
            ConfigType::Int,
            Some("100"),
            false,
            "Maximum number of rows to include in a single batch when polling for new data.",
        ),
        Check::AtLeast(1),
    ),
    checked(
        def(
            "timestamp.delay.interval.ms",
            ConfigType::Long,
            Some("0"),
            false,
            "How long to wait after a row with certain timestamp appears before we include it in the result.",
        ),
        Check::AtLeast(0),
    ),
];

/// The errors of a config the key checks cannot see: the columns each
/// mode needs, and a table list with a query.
pub fn check(config: &Config) -> Vec<(&'static str, String)> {
    let set = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
    let mut errors = Vec::new();
    let mode = config.get("mode").map(|m| m.trim()).unwrap_or("");
    if mode.contains("incrementing") && !set("incrementing.column.name") {
        errors.push((
            "incrementing.column.name",
            format!("Mode {mode} needs incrementing.column.name"),
        ));
    }
    if mode.starts_with("timestamp") && !set("timestamp.column.name") {
        errors.push((
            "timestamp.column.name",
            format!("Mode {mode} needs timestamp.column.name"),
        ));
    }
    if set("query") && (set("table.whitelist") || set("table.blacklist")) {
        errors.push((
            "query",
            "Do not specify table filtering for query based source.".into(),
        ));
    }
    if set("table.whitelist") && set("table.blacklist") {
        errors.push((
            "table.whitelist",
            "table.whitelist and table.blacklist are exclusive.".into(),
        ));
    }
    errors
}

/// The task configs: with `table.whitelist`, its tables dealt round the
/// tasks (`tables` in each, as the JDBC connector's task configs have
/// it; no more tasks than tables); otherwise one task, which lists the
/// tables itself.
pub fn task_configs(config: &Config, max: usize) -> Vec<Config> {
    let tables = list(config, "table.whitelist");
    if tables.is_empty() || config.get("query").is_some_and(|q| !q.trim().is_empty()) {
        return vec![config.clone()];
    }
    let count = max.min(tables.len()).max(1);
    (0..count)
        .map(|i| {
            let mine: Vec<&str> = tables
                .iter()
                .skip(i)
                .step_by(count)
                .map(String::as_str)
                .collect();
            let mut c = config.clone();
            c.insert("tables".into(), mine.join(","));
            c
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    fn parse(text: &str) -> Result<Mode, TaskError> {
        Ok(match text.trim() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            other => return Err(TaskError::Config(format!("unknown mode {other:?}"))),
        })
    }

    fn incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    fn timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }

    /// Whether the rows come in a total order, so a query can stop after
    /// `batch.max.rows` and the next one go on from the last row.
    fn limited(self) -> bool {
        self.incrementing()
    }
}

/// How a column is selected and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    I16,
    I32,
    I64,
    F32,
    F64,
    Bool,
    Bytes,
    Timestamp,
    /// Days since 1970-01-01, selected as an integer.
    Date,
    /// `numeric` with scale 0 and at most 18 digits, selected as int8.
    NumericInt,
    /// Any other `numeric`, selected as float8.
    NumericFloat,
    /// Anything else, selected as its text.
    Text,
}

impl Kind {
    fn of_info(c: &ColumnInfo) -> Kind {
        match c.data_type.as_str() {
            "smallint" => Kind::I16,
            "integer" => Kind::I32,
            "bigint" => Kind::I64,
            "real" => Kind::F32,
            "double precision" => Kind::F64,
            "boolean" => Kind::Bool,
            "bytea" => Kind::Bytes,
            "timestamp without time zone" | "timestamp with time zone" => Kind::Timestamp,
            "date" => Kind::Date,
            "numeric" => match (c.numeric_precision, c.numeric_scale) {
                (Some(p), Some(0)) if p <= 18 => Kind::NumericInt,
                _ => Kind::NumericFloat,
            },
            _ => Kind::Text,
        }
    }

    fn of_type(t: &PgType) -> Kind {
        match *t {
            PgType::INT2 => Kind::I16,
            PgType::INT4 => Kind::I32,
            PgType::INT8 => Kind::I64,
            PgType::FLOAT4 => Kind::F32,
            PgType::FLOAT8 => Kind::F64,
            PgType::BOOL => Kind::Bool,
            PgType::BYTEA => Kind::Bytes,
            PgType::TIMESTAMP | PgType::TIMESTAMPTZ => Kind::Timestamp,
            PgType::DATE => Kind::Date,
            PgType::NUMERIC => Kind::NumericFloat,
            _ => Kind::Text,
        }
    }

    /// The select-list expression for column `c` of `q`.
    fn select(self, c: &str) -> String {
        let c = format!("q.{}", quote(c));
        match self {
            Kind::NumericInt => format!("{c}::int8"),
            Kind::NumericFloat => format!("{c}::float8"),
            Kind::Date => format!("({c} - DATE '1970-01-01')"),
            Kind::Text => format!("{c}::text"),
            _ => c,
        }
    }

    fn schema(self) -> Schema {
        match self {
            Kind::I16 => Schema::of(Type::Int16),
            Kind::I32 => Schema::of(Type::Int32),
            Kind::I64 | Kind::NumericInt => Schema::of(Type::Int64),
            Kind::F32 => Schema::of(Type::Float32),
            Kind::F64 | Kind::NumericFloat => Schema::of(Type::Float64),
            Kind::Bool => Schema::of(Type::Boolean),
            Kind::Bytes => Schema::of(Type::Bytes),
            Kind::Text => Schema::of(Type::String),
            Kind::Timestamp => {
                let mut s = Schema::of(Type::Int64).named(TIMESTAMP);
                s.version = Some(1);
                s
            }
            Kind::Date => {
                let mut s = Schema::of(Type::Int32).named(DATE);
                s.version = Some(1);
                s
            }
        }
    }

    fn read(self, row: &Row, i: usize) -> Result<Data, tokio_postgres::Error> {
        fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Data) -> Data {
            v.map_or(Data::Null, f)
        }
        Ok(match self {
            Kind::I16 => opt(row.try_get::<_, Option<i16>>(i)?, |v| Data::Int(v.into())),
            Kind::I32 | Kind::Date => {
                opt(row.try_get::<_, Option<i32>>(i)?, |v| Data::Int(v.into()))
            }
            Kind::I64 | Kind::NumericInt => opt(row.try_get::<_, Option<i64>>(i)?, Data::Int),
            Kind::F32 => opt(row.try_get::<_, Option<f32>>(i)?, |v| {
                Data::Float(f64::from(v))
            }),
            Kind::F64 | Kind::NumericFloat => opt(row.try_get::<_, Option<f64>>(i)?, Data::Float),
            Kind::Bool => opt(row.try_get::<_, Option<bool>>(i)?, Data::Boolean),
            Kind::Bytes => opt(row.try_get::<_, Option<Vec<u8>>>(i)?, |v| {
                Data::Bytes(v.into())
            }),
            Kind::Text => opt(row.try_get::<_, Option<String>>(i)?, Data::String),
            Kind::Timestamp => opt(row.try_get::<_, Option<SystemTime>>(i)?, |t| {
                Data::Int(Stamp::from_system(t).millis)
            }),
        })
    }
}

/// A point in time as the JDBC connector's offsets hold it: milliseconds
/// since the epoch and the nanoseconds within the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    millis: i64,
    nanos: u32,
}

impl Stamp {
    fn from_system(t: SystemTime) -> Stamp {
        let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let mut secs = -(d.as_secs() as i64);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                (secs, nanos)
            }
        };
        Stamp {
            millis: secs * 1000 + i64::from(nanos / 1_000_000),
            nanos,
        }
    }

    fn to_system(self) -> SystemTime {
        let secs = self.millis.div_euclid(1000);
        let d = Duration::new(secs.unsigned_abs(), 0);
        let whole = if secs >= 0 {
            UNIX_EPOCH + d
        } else {
            UNIX_EPOCH - d
        };
        whole + Duration::from_nanos(u64::from(self.nanos.min(999_999_999)))
    }
}

/// Where a table's reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Offset {
    incrementing: Option<i64>,
    timestamp: Option<Stamp>,
}

impl Offset {
    fn from_json(v: &Value) -> Offset {
        let timestamp = v
            .get("timestamp")
            .and_then(Value::as_i64)
            .map(|millis| Stamp {
                millis,
                nanos: v
                    .get("timestamp_nanos")
                    .and_then(Value::as_u64)
                    .map_or(((millis.rem_euclid(1000)) * 1_000_000) as u32, |n| n as u32),
            });
        Offset {
            incrementing: v.get("incrementing").and_then(Value::as_i64),
            timestamp,
        }
    }

    fn to_json(self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(i) = self.incrementing {
            o.insert("incrementing".into(), json!(i));
        }
        if let Some(t) = self.timestamp {
            o.insert("timestamp".into(), json!(t.millis));
            o.insert("timestamp_nanos".into(), json!(t.nanos));
        }
        Value::Object(o)
    }
}

/// What one source reads from: a table or the configured query.
#[derive(Debug, Clone)]
enum Origin {
    Table(TableId),
    Query(String),
}

struct Source {
    from: Origin,
    partition: Value,
    topic: String,
    offset: Offset,
}

/// The stored offset of a source partition.
pub type StoredOffsets = Box<dyn Fn(&Value) -> Option<Value> + Send + Sync>;

pub struct JdbcSourceTask {
    config: Config,
    mode: Mode,
    incrementing: Option<String>,
    timestamps: Vec<String>,
    prefix: String,
    poll_interval: Duration,
    batch_max_rows: usize,
    delay_ms: i64,
    stored: StoredOffsets,
    client: Option<Client>,
    /// `None` until the tables are known (listed at the first poll when
    /// no `tables` / `table.whitelist` names them).
    sources: Option<Vec<Source>>,
    pending: VecDeque<SourceRecord>,
    next_round: std::time::Instant,
}

impl JdbcSourceTask {
    pub fn new(config: &Config, stored: StoredOffsets) -> Result<JdbcSourceTask, TaskError> {
        super::pg_config(config)?;
        let mode = Mode::parse(config.get("mode").map(String::as_str).unwrap_or(""))?;
        let incrementing = config
            .get("incrementing.column.name")
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let timestamps = list(config, "timestamp.column.name");
        if mode.incrementing() && incrementing.is_none() {
            return Err(TaskError::Config(
                "mode needs incrementing.column.name".into(),
            ));
        }
        if mode.timestamp() && timestamps.is_empty() {
            return Err(TaskError::Config("mode needs timestamp.column.name".into()));
        }
        let mut task = JdbcSourceTask {
            config: config.clone(),
            mode,
            incrementing,
            timestamps,
            prefix: config.get("topic.prefix").cloned().unwrap_or_default(),
            poll_interval: Duration::from_millis(
                crate::plugins::int(config, "poll.interval.ms", 5000).max(0) as u64,
            ),
            batch_max_rows: crate::plugins::int(config, "batch.max.rows", 100).max(1) as usize,
            delay_ms: crate::plugins::int(config, "timestamp.delay.interval.ms", 0).max(0),
            stored,
            client: None,
            sources: None,
            pending: VecDeque::new(),
            next_round: std::time::Instant::now(),
        };
        if let Some(q) = config.get("query").filter(|q| !q.trim().is_empty()) {
            let source = task.source(Origin::Query(q.trim().to_string()));
            task.sources = Some(vec![source]);
        } else {
            let named = match config.get("tables") {
                Some(_) => list(config, "tables"),
                None => list(config, "table.whitelist"),
            };
            if !named.is_empty() {
                let sources = named
                    .iter()
                    .map(|t| task.source(Origin::Table(TableId::parse(t))))
                    .collect();
                task.sources = Some(sources);
            }
        }
        Ok(task)
    }

    fn source(&self, from: Origin) -> Source {
        let (partition, topic) = match &from {
            Origin::Table(t) => (
                json!({"table": t.to_string()}),
                format!("{}{}", self.prefix, t.name),
            ),
            Origin::Query(_) => (json!({"query": "query"}), self.prefix.clone()),
        };
        let offset = (self.stored)(&partition)
            .map(|o| Offset::from_json(&o))
            .unwrap_or_default();
        if offset != Offset::default() {
            tracing::info!(%partition, offset = %offset.to_json(), "resuming from the stored offset");
        }
        Source {
            from,
            partition,
            topic,
            offset,
        }
    }

    /// The rows due, at most `batch.max.rows` of them; none until the
    /// next round when every table is read up to date.
    pub async fn poll(&mut self) -> Result<Vec<SourceRecord>, TaskError> {
        if self.pending.is_empty() && std::time::Instant::now() >= self.next_round {
            if let Err(e) = self.round().await {
                // A lost connection is opened again at the next poll; the
                // offsets in memory are those of the rows already handed
                // out, so nothing is skipped.
                self.client = None;
                return Err(e);
            }
        }
        let n = self.pending.len().min(self.batch_max_rows);
        Ok(self.pending.drain(..n).collect())
    }

    /// Queries every source once.
    async fn round(&mut self) -> Result<(), TaskError> {
        if self.client.is_none() {
            self.client = Some(connect(&self.config).await?);
        }
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        if self.sources.is_none() {
            let tables = list_tables(client, &list(&self.config, "table.blacklist")).await?;
            tracing::info!(?tables, "reading the tables of the current schema");
            let sources = tables
                .into_iter()
                .map(|t| self.source(Origin::Table(t)))
                .collect();
            self.sources = Some(sources);
        }
        let mut again = false;
        let mut sources = self.sources.take().unwrap_or_default();
        let mut result = Ok(());
        let mut due = Vec::new();
        for source in &mut sources {
            match self.read(client, source).await {
                Ok((records, full)) => {
                    due.extend(records);
                    again |= full;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.sources = Some(sources);
        self.pending.extend(due);
        self.next_round = if again {
            std::time::Instant::now()
        } else {
            std::time::Instant::now() + self.poll_interval
        };
        result
    }

    /// Reads one source's due rows into `pending`; true when it stopped
    /// at `batch.max.rows` and has more.
    async fn read(
        &self,
        client: &Client,
        source: &mut Source,
    ) -> Result<(Vec<SourceRecord>, bool), TaskError> {
        let (columns, from_sql, schema_name) = match &source.from {
            Origin::Table(t) => {
                let info = super::columns(client, t).await?;
                if info.is_empty() {
                    return Err(TaskError::Database(format!("table {t} does not exist")));
                }
                let cols: Vec<(String, Kind, bool)> = info
                    .iter()
                    .map(|c| (c.name.clone(), Kind::of_info(c), c.nullable))
                    .collect();
                (cols, format!("{} AS q", t.sql()), Some(t.name.clone()))
            }
            Origin::Query(q) => {
                let stmt = client
                    .prepare(&format!("SELECT * FROM ({q}) AS q LIMIT 0"))
                    .await
                    .map_err(sql_error)?;
                let cols = stmt
                    .columns()
                    .iter()
                    .map(|c| (c.name().to_string(), Kind::of_type(c.type_()), true))
                    .collect();
                (cols, format!("({q}) AS q"), None)
            }
        };
        let mut select: Vec<String> = columns.iter().map(|(n, k, _)| k.select(n)).collect();
        let inc_expr = self
            .incrementing
            .as_ref()
            .map(|c| format!("q.{}", quote(c)));
        let ts_expr = match self.timestamps.len() {
            0 => None,
            1 => Some(format!("q.{}", quote(&self.timestamps[0]))),
            _ => Some(format!(
                "COALESCE({})",
                self.timestamps
                    .iter()
                    .map(|c| format!("q.{}", quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        // The offset columns after the record's own.
        let inc_at = select.len();
        if let (true, Some(e)) = (self.mode.incrementing(), &inc_expr) {
            select.push(format!("({e})::int8"));
        }
        let ts_at = select.len();
        if let (true, Some(e)) = (self.mode.timestamp(), &ts_expr) {
            select.push(format!("({e})::timestamptz"));
        }
        let upper = format!(
            "CURRENT_TIMESTAMP - INTERVAL '{} milliseconds'",
            self.delay_ms
        );
        let inc_from = source.offset.incrementing.unwrap_or(-1);
        let ts_from = source
            .offset
            .timestamp
            .unwrap_or(Stamp {
                millis: 0,
                nanos: 0,
            })
            .to_system();
        let (filter, order): (String, String) = match (self.mode, &inc_expr, &ts_expr) {
            (Mode::Bulk, _, _) => (String::new(), String::new()),
            (Mode::Incrementing, Some(i), _) => {
                (format!(" WHERE {i} > $1::int8"), format!(" ORDER BY {i} ASC"))
            }
            (Mode::Timestamp, _, Some(t)) => (
                format!(" WHERE {t} > $1::timestamptz AND {t} < {upper}"),
                format!(" ORDER BY {t} ASC"),
            ),
            (Mode::TimestampIncrementing, Some(i), Some(t)) => (
                format!(
                    " WHERE {t} < {upper} AND (({t} = $1::timestamptz AND {i} > $2::int8) OR {t} > $1::timestamptz)"
                ),
                format!(" ORDER BY {t} ASC, {i} ASC"),
            ),
            _ => return Err(TaskError::Config("mode without its columns".into())),
        };
        let limit = if self.mode.limited() {
            format!(" LIMIT {}", self.batch_max_rows)
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {} FROM {from_sql}{filter}{order}{limit}",
            select.join(", ")
        );
        let rows = match self.mode {
            Mode::Bulk => client.query(&sql, &[]).await,
            Mode::Incrementing => client.query(&sql, &[&inc_from]).await,
            Mode::Timestamp => client.query(&sql, &[&ts_from]).await,
            Mode::TimestampIncrementing => client.query(&sql, &[&ts_from, &inc_from]).await,
        }
        .map_err(sql_error)?;
        let mut schema = Schema::of(Type::Struct);
        schema.name = schema_name;
        for (name, kind, nullable) in &columns {
            let s = kind.schema();
            schema = schema.field(name, if *nullable { s.optional() } else { s });
        }
        let full = self.mode.limited() && rows.len() >= self.batch_max_rows;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut fields = Vec::with_capacity(columns.len());
            for (i, (name, kind, _)) in columns.iter().enumerate() {
                fields.push((name.clone(), kind.read(row, i).map_err(sql_error)?));
            }
            if self.mode.incrementing() {
                source.offset.incrementing = Some(
                    row.try_get::<_, Option<i64>>(inc_at)
                        .map_err(sql_error)?
                        .ok_or_else(|| {
                            TaskError::Database("the incrementing column is NULL in a row".into())
                        })?,
                );
            }
            if self.mode.timestamp() {
                if let Some(t) = row
                    .try_get::<_, Option<SystemTime>>(ts_at)
                    .map_err(sql_error)?
                {
                    source.offset.timestamp = Some(Stamp::from_system(t));
                }
            }
            out.push(SourceRecord {
                headers: Vec::new(),
                partition: source.partition.clone(),
                offset: source.offset.to_json(),
                topic: source.topic.clone(),
                key: SchemaAndValue::NULL,
                value: SchemaAndValue {
                    schema: Some(schema.clone()),
                    value: Data::Struct(fields),
                },
            });
        }
        Ok((out, full))
    }
}

async fn list_tables(client: &Client, exclude: &[String]) -> Result<Vec<TableId>, TaskError> {
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
            &[],
        )
        .await
        .map_err(sql_error)?;
    let mut tables = Vec::new();
    for r in rows {
        let name: String = r.try_get(0).map_err(sql_error)?;
        if !exclude.iter().any(|e| TableId::parse(e).name == name) {
            tables.push(TableId { schema: None, name });
        }
    }
    Ok(tables)
}
