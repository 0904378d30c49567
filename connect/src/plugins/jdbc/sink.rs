//! `JdbcSinkConnector` for PostgreSQL: each record's struct value becomes
//! a row of the table `table.name.format` names (`${topic}` replaced).
//!
//! * `insert.mode`: `insert` (plain INSERT), `upsert` (INSERT … ON
//!   CONFLICT on the primary key DO UPDATE), `update` (UPDATE by key).
//! * `pk.mode`: `none`; `kafka` (the record's topic, partition and offset
//!   as `__connect_topic`, `__connect_partition`, `__connect_offset`);
//!   `record_key` (the key's struct fields in `pk.fields`, all when empty,
//!   or a primitive key as the one column `pk.fields` names);
//!   `record_value` (value fields in `pk.fields`, all when empty).
//! * `auto.create` creates a missing table (columns from the value's
//!   schema, NOT NULL where the field is required, the key columns as its
//!   primary key); `auto.evolve` adds columns for new optional fields.
//! * `delete.enabled` (with `pk.mode=record_key`) deletes the key's row
//!   for a tombstone.
//!
//! A `put` is written in one transaction, as multi-row statements of at
//! most `batch.size` rows, and committed before it returns: the worker
//! commits the group's offsets after the put, so what the group has
//! committed is in the table, and a repeat after a crash is an upsert of
//! the same rows (effectively once with `upsert`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::{connect, quote, sql_error, TableId, DATE, TIMESTAMP};
use crate::data::{Data, Schema, Type};
use crate::plugins::{checked, def, flag, list, Check, Config, ConfigDef, ConfigType};
use crate::runtime::{SinkRecord, TaskError};

pub(in crate::plugins) static DEFS: &[ConfigDef] = &[
    checked(
        def(
            "insert.mode",
            ConfigType::String,
            Some("insert"),
            false,
            "The insertion mode to use: insert, upsert or update.",
        ),
        Check::OneOf(&["insert", "upsert", "update"]),
    ),
    checked(
        def(
            "pk.mode",
            ConfigType::String,
            Some("none"),
            false,
            "The primary key mode: none, kafka, record_key or record_value.",
        ),
        Check::OneOf(&["none", "kafka", "record_key", "record_value"]),
    ),
    def(
        "pk.fields",
        ConfigType::List,
        Some(""),
        false,
        "List of comma-separated primary key field names. The runtime interpretation of this config depends on the pk.mode.",
    ),
    def(
        "fields.whitelist",
        ConfigType::List,
        Some(""),
        false,
        "List of comma-separated record value field names. If empty, all fields from the record value are utilized, otherwise used to filter to the desired fields.",
    ),
    def(
        "table.name.format",
        ConfigType::String,
        Some("${topic}"),
        false,
        "A format string for the destination table name, which may contain '${topic}' as a placeholder for the originating topic name.",
    ),
    checked(
        def(
            "batch.size",
            ConfigType::Int,
            Some("3000"),
            false,
            "Specifies how many records to attempt to batch together for insertion into the destination table, when possible.",
        ),
        Check::AtLeast(1),
    ),
    checked(
        def(
            "auto.create",
            ConfigType::Boolean,
            Some("false"),
            false,
            "Whether to automatically create the destination table based on record schema if it is found to be missing by issuing CREATE.",
        ),
        Check::None,
    ),
    checked(
        def(
            "auto.evolve",
            ConfigType::Boolean,
            Some("false"),
            false,
            "Whether to automatically add columns in the table schema when found to be missing relative to the record schema by issuing ALTER.",
        ),
        Check::None,
    ),
    checked(
        def(
            "delete.enabled",
            ConfigType::Boolean,
            Some("false"),
            false,
            "Whether to treat null record values as deletes. Requires pk.mode to be record_key.",
        ),
        Check::None,
    ),
];

/// The errors of a config the key checks cannot see.
pub fn check(config: &Config) -> Vec<(&'static str, String)> {
    let get = |k: &str| config.get(k).map(|v| v.trim()).unwrap_or("");
    let mut errors = Vec::new();
    let pk_mode = match get("pk.mode") {
        "" => "none",
        m => m,
    };
    if matches!(get("insert.mode"), "upsert" | "update") && pk_mode == "none" {
        errors.push((
            "pk.mode",
            format!(
                "insert.mode {} needs a primary key: pk.mode must not be none",
                get("insert.mode")
            ),
        ));
    }
    if crate::plugins::flag(config, "delete.enabled") && pk_mode != "record_key" {
        errors.push((
            "delete.enabled",
            "Primary key mode must be 'record_key' when delete support is enabled".into(),
        ));
    }
    errors
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertMode {
    Insert,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

/// The Kafka coordinates' column names in `pk.mode=kafka`.
const KAFKA_PK: [&str; 3] = ["__connect_topic", "__connect_partition", "__connect_offset"];
/// Bind parameters one statement may have (PostgreSQL's limit).
const MAX_PARAMS: usize = 65_535;

/// A column's type as the sink writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bool,
    Text,
    Bytes,
    Timestamp,
    Date,
}

impl ColType {
    fn of(schema: &Schema, field: &str) -> Result<ColType, TaskError> {
        Ok(match (schema.kind, schema.name.as_deref()) {
            (Type::Int64, Some(TIMESTAMP)) => ColType::Timestamp,
            (Type::Int32, Some(DATE)) => ColType::Date,
            (Type::Int8 | Type::Int16, _) => ColType::Int16,
            (Type::Int32, _) => ColType::Int32,
            (Type::Int64, _) => ColType::Int64,
            (Type::Float32, _) => ColType::Float32,
            (Type::Float64, _) => ColType::Float64,
            (Type::Boolean, _) => ColType::Bool,
            (Type::String, _) => ColType::Text,
            (Type::Bytes, _) => ColType::Bytes,
            (other, _) => {
                return Err(TaskError::Database(format!(
                    "field {field:?} is of type {} which has no column type",
                    other.name()
                )))
            }
        })
    }

    fn sql(self) -> &'static str {
        match self {
            ColType::Int16 => "SMALLINT",
            ColType::Int32 => "INTEGER",
            ColType::Int64 => "BIGINT",
            ColType::Float32 => "REAL",
            ColType::Float64 => "DOUBLE PRECISION",
            ColType::Bool => "BOOLEAN",
            ColType::Text => "TEXT",
            ColType::Bytes => "BYTEA",
            ColType::Timestamp => "TIMESTAMP",
            ColType::Date => "DATE",
        }
    }

    /// The placeholder for parameter `n` (dates are bound as days).
    fn placeholder(self, n: usize) -> String {
        match self {
            ColType::Date => format!("(DATE '1970-01-01' + ${n}::int4)"),
            _ => format!("${n}"),
        }
    }

    /// A value as the parameter this column binds.
    fn bind(self, v: &Data, column: &str) -> Result<Box<dyn ToSql + Sync + Send>, TaskError> {
        let wrong = || {
            TaskError::Database(format!(
                "value {} of type {} does not fit column {column:?} ({})",
                v.to_text(),
                v.java_class(),
                self.sql()
            ))
        };
        let int = |v: &Data| match v {
            Data::Int(i) => Ok(Some(*i)),
            Data::Null => Ok(None),
            _ => Err(wrong()),
        };
        Ok(match self {
            ColType::Int16 => Box::new(
                int(v)?
                    .map(i16::try_from)
                    .transpose()
                    .map_err(|_| wrong())?,
            ),
            ColType::Int32 | ColType::Date => Box::new(
                int(v)?
                    .map(i32::try_from)
                    .transpose()
                    .map_err(|_| wrong())?,
            ),
            ColType::Int64 => Box::new(int(v)?),
            ColType::Timestamp => Box::new(int(v)?.map(system_time)),
            ColType::Float32 | ColType::Float64 => {
                let f = match v {
                    Data::Float(f) => Some(*f),
                    Data::Int(i) => Some(*i as f64),
                    Data::Null => None,
                    _ => return Err(wrong()),
                };
                if self == ColType::Float32 {
                    Box::new(f.map(|f| f as f32))
                } else {
                    Box::new(f)
                }
            }
            ColType::Bool => Box::new(match v {
                Data::Boolean(b) => Some(*b),
                Data::Null => None,
                _ => return Err(wrong()),
            }),
            ColType::Text => Box::new(match v {
                Data::String(s) => Some(s.clone()),
                Data::Null => None,
                _ => return Err(wrong()),
            }),
            ColType::Bytes => Box::new(match v {
                Data::Bytes(b) => Some(b.to_vec()),
                Data::Null => None,
                _ => return Err(wrong()),
            }),
        })
    }
}

fn system_time(millis: i64) -> SystemTime {
    let d = Duration::from_millis(millis.unsigned_abs());
    if millis >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

/// One column of a row to write: its name, type and whether it may be
/// NULL.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    kind: ColType,
    optional: bool,
}

/// A record as the row it writes (or deletes).
struct Row {
    table: TableId,
    /// Key columns first, then the others; `values` in the same order.
    columns: Vec<Column>,
    keys: usize,
    values: Vec<Data>,
    delete: bool,
}

pub struct JdbcSinkTask {
    config: Config,
    insert_mode: InsertMode,
    pk_mode: PkMode,
    pk_fields: Vec<String>,
    fields: BTreeSet<String>,
    table_format: String,
    batch_size: usize,
    auto_create: bool,
    auto_evolve: bool,
    delete_enabled: bool,
    client: Option<Client>,
    /// Columns known to exist, per table.
    tables: BTreeMap<TableId, BTreeSet<String>>,
}

impl JdbcSinkTask {
    pub fn new(config: &Config) -> Result<JdbcSinkTask, TaskError> {
        super::pg_config(config)?;
        if let Some((key, why)) = check(config).into_iter().next() {
            return Err(TaskError::Config(format!("{key}: {why}")));
        }
        let get = |k: &str| config.get(k).map(|v| v.trim()).unwrap_or("");
        Ok(JdbcSinkTask {
            config: config.clone(),
            insert_mode: match get("insert.mode") {
                "upsert" => InsertMode::Upsert,
                "update" => InsertMode::Update,
                _ => InsertMode::Insert,
            },
            pk_mode: match get("pk.mode") {
                "kafka" => PkMode::Kafka,
                "record_key" => PkMode::RecordKey,
                "record_value" => PkMode::RecordValue,
                _ => PkMode::None,
            },
            pk_fields: list(config, "pk.fields"),
            fields: list(config, "fields.whitelist").into_iter().collect(),
            table_format: match get("table.name.format") {
                "" => "${topic}".to_string(),
                f => f.to_string(),
            },
            batch_size: crate::plugins::int(config, "batch.size", 3000).max(1) as usize,
            auto_create: flag(config, "auto.create"),
            auto_evolve: flag(config, "auto.evolve"),
            delete_enabled: flag(config, "delete.enabled"),
            client: None,
            tables: BTreeMap::new(),
        })
    }

    /// Writes the records and commits them.
    pub async fn put(&mut self, records: &[SinkRecord]) -> Result<(), TaskError> {
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            if let Some(row) = self.row(r)? {
                rows.push(row);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        if self.client.is_none() {
            self.client = Some(connect(&self.config).await?);
        }
        let result = self.write(&rows).await;
        if result.is_err() {
            // The transaction rolled back; the next put starts afresh
            // (on a new connection should this one be broken).
            self.client = None;
            self.tables.clear();
        }
        result
    }

    async fn write(&mut self, rows: &[Row]) -> Result<(), TaskError> {
        for row in rows {
            if !row.delete {
                self.ensure_table(row).await?;
            }
        }
        let Some(client) = self.client.as_mut() else {
            return Ok(());
        };
        let txn = client.transaction().await.map_err(sql_error)?;
        let mut start = 0;
        while start < rows.len() {
            // A run of rows with the same table, columns and kind of
            // statement goes as one statement.
            let first = &rows[start];
            let per_row = first.columns.len().max(1);
            let cap = self.batch_size.min(MAX_PARAMS / per_row).max(1);
            let mut end = start + 1;
            while end < rows.len()
                && end - start < cap
                && rows[end].table == first.table
                && rows[end].delete == first.delete
                && rows[end].columns == first.columns
            {
                end += 1;
            }
            let run = &rows[start..end];
            if first.delete {
                for r in run {
                    let (sql, params) = delete_statement(r)?;
                    txn.execute(&sql, &refs(&params)).await.map_err(sql_error)?;
                }
            } else if self.insert_mode == InsertMode::Update {
                for r in run {
                    let (sql, params) = update_statement(r)?;
                    txn.execute(&sql, &refs(&params)).await.map_err(sql_error)?;
                }
            } else {
                let (sql, params) = insert_statement(run, self.insert_mode == InsertMode::Upsert)?;
                txn.execute(&sql, &refs(&params)).await.map_err(sql_error)?;
            }
            start = end;
        }
        txn.commit().await.map_err(sql_error)
    }

    /// The row a record writes, `None` for a tombstone that is not a
    /// delete.
    fn row(&self, r: &SinkRecord) -> Result<Option<Row>, TaskError> {
        let table = TableId::parse(&self.table_format.replace("${topic}", &r.topic));
        let mut columns = Vec::new();
        let mut values = Vec::new();
        // The key columns.
        match self.pk_mode {
            PkMode::None => {}
            PkMode::Kafka => {
                let names: Vec<String> = if self.pk_fields.is_empty() {
                    KAFKA_PK.iter().map(|s| s.to_string()).collect()
                } else if self.pk_fields.len() == 3 {
                    self.pk_fields.clone()
                } else {
                    return Err(TaskError::Config(
                        "pk.mode kafka needs three pk.fields (topic, partition, offset) or none"
                            .into(),
                    ));
                };
                let kinds = [ColType::Text, ColType::Int32, ColType::Int64];
                let vals = [
                    Data::String(r.topic.clone()),
                    Data::Int(r.partition.into()),
                    Data::Int(r.offset),
                ];
                for ((name, kind), v) in names.into_iter().zip(kinds).zip(vals) {
                    columns.push(Column {
                        name,
                        kind,
                        optional: false,
                    });
                    values.push(v);
                }
            }
            PkMode::RecordKey => {
                let schema = r.key.schema.as_ref().ok_or_else(|| {
                    TaskError::Database(format!(
                        "pk.mode record_key needs a key with a schema ({} has none at offset {})",
                        r.topic, r.offset
                    ))
                })?;
                if schema.kind == Type::Struct {
                    let Data::Struct(fields) = &r.key.value else {
                        return Err(TaskError::Database(format!(
                            "the record key at {}-{}@{} is null",
                            r.topic, r.partition, r.offset
                        )));
                    };
                    self.struct_columns(
                        schema,
                        fields,
                        &self.pk_fields,
                        &mut columns,
                        &mut values,
                    )?;
                } else {
                    let [name] = self.pk_fields.as_slice() else {
                        return Err(TaskError::Config(
                            "pk.mode record_key with a primitive key needs exactly one pk.fields name"
                                .into(),
                        ));
                    };
                    columns.push(Column {
                        name: name.clone(),
                        kind: ColType::of(schema, name)?,
                        optional: false,
                    });
                    values.push(r.key.value.clone());
                }
            }
            PkMode::RecordValue => {}
        }
        if r.value.value == Data::Null {
            if self.delete_enabled {
                let keys = columns.len();
                return Ok(Some(Row {
                    table,
                    columns,
                    keys,
                    values,
                    delete: true,
                }));
            }
            return Ok(None);
        }
        let (Some(schema), Data::Struct(fields)) = (&r.value.schema, &r.value.value) else {
            return Err(TaskError::Database(format!(
                "the record value at {}-{}@{} is not a struct with a schema (JDBC sinks need one: use a converter with schemas, e.g. JsonConverter with schemas.enable=true)",
                r.topic, r.partition, r.offset
            )));
        };
        if schema.kind != Type::Struct {
            return Err(TaskError::Database(format!(
                "the record value at {}-{}@{} has a {} schema, not a struct",
                r.topic,
                r.partition,
                r.offset,
                schema.kind.name()
            )));
        }
        if self.pk_mode == PkMode::RecordValue {
            self.struct_columns(schema, fields, &self.pk_fields, &mut columns, &mut values)?;
        }
        let keys = columns.len();
        for f in &schema.fields {
            if columns[..keys].iter().any(|c| c.name == f.name)
                || (!self.fields.is_empty() && !self.fields.contains(&f.name))
            {
                continue;
            }
            columns.push(Column {
                name: f.name.clone(),
                kind: ColType::of(&f.schema, &f.name)?,
                optional: f.schema.optional,
            });
            values.push(field_value(fields, &f.name));
        }
        Ok(Some(Row {
            table,
            columns,
            keys,
            values,
            delete: false,
        }))
    }

    /// The struct's fields named in `wanted` (all when empty) as key
    /// columns.
    fn struct_columns(
        &self,
        schema: &Schema,
        fields: &[(String, Data)],
        wanted: &[String],
        columns: &mut Vec<Column>,
        values: &mut Vec<Data>,
    ) -> Result<(), TaskError> {
        let names: Vec<&str> = if wanted.is_empty() {
            schema.fields.iter().map(|f| f.name.as_str()).collect()
        } else {
            wanted.iter().map(String::as_str).collect()
        };
        for name in names {
            let f = schema
                .fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| {
                    TaskError::Database(format!(
                        "pk.fields names {name:?}, which the record has no field for"
                    ))
                })?;
            columns.push(Column {
                name: name.to_string(),
                kind: ColType::of(&f.schema, name)?,
                optional: false,
            });
            values.push(field_value(fields, name));
        }
        Ok(())
    }

    /// Creates the table or adds its missing columns, as `auto.create` and
    /// `auto.evolve` allow.
    async fn ensure_table(&mut self, row: &Row) -> Result<(), TaskError> {
        if let Some(known) = self.tables.get(&row.table) {
            if row.columns.iter().all(|c| known.contains(&c.name)) {
                return Ok(());
            }
        }
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        let existing: BTreeSet<String> = super::columns(client, &row.table)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let table = &row.table;
        if existing.is_empty() {
            if !self.auto_create {
                return Err(TaskError::Database(format!(
                    "Table {table} is missing and auto-creation is disabled"
                )));
            }
            let mut defs: Vec<String> = row
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let null = if i < row.keys || !c.optional {
                        " NOT NULL"
                    } else {
                        ""
                    };
                    format!("{} {}{null}", quote(&c.name), c.kind.sql())
                })
                .collect();
            if row.keys > 0 {
                let pk: Vec<String> = row.columns[..row.keys]
                    .iter()
                    .map(|c| quote(&c.name))
                    .collect();
                defs.push(format!("PRIMARY KEY({})", pk.join(", ")));
            }
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} ({})",
                table.sql(),
                defs.join(", ")
            );
            tracing::info!(%table, %sql, "creating the table");
            client.batch_execute(&sql).await.map_err(sql_error)?;
        } else {
            let missing: Vec<&Column> = row
                .columns
                .iter()
                .filter(|c| !existing.contains(&c.name))
                .collect();
            if !missing.is_empty() {
                let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
                if !self.auto_evolve {
                    return Err(TaskError::Database(format!(
                        "Table {table} is missing fields {names:?} and auto-evolution is disabled"
                    )));
                }
                if let Some(c) = missing.iter().find(|c| !c.optional) {
                    return Err(TaskError::Database(format!(
                        "Cannot ALTER TABLE {table} to add missing field {:?}, as the field is not optional and does not have a default value",
                        c.name
                    )));
                }
                let adds: Vec<String> = missing
                    .iter()
                    .map(|c| {
                        format!(
                            "ADD COLUMN IF NOT EXISTS {} {}",
                            quote(&c.name),
                            c.kind.sql()
                        )
                    })
                    .collect();
                let sql = format!("ALTER TABLE {} {}", table.sql(), adds.join(", "));
                tracing::info!(%table, %sql, "adding columns");
                client.batch_execute(&sql).await.map_err(sql_error)?;
            }
        }
        let known = self.tables.entry(table.clone()).or_default();
        known.extend(existing);
        known.extend(row.columns.iter().map(|c| c.name.clone()));
        Ok(())
    }
}

fn field_value(fields: &[(String, Data)], name: &str) -> Data {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or(Data::Null, |(_, v)| v.clone())
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// One INSERT of every row of the run (same table and columns); with
/// `upsert`, ON CONFLICT on the key columns updating the others, and only
/// the last row of each key (PostgreSQL refuses to update one row twice
/// in a statement; the last is what the table must end with).
fn insert_statement(run: &[Row], upsert: bool) -> Result<(String, Params), TaskError> {
    let first = &run[0];
    let mut chosen: Vec<&Row> = Vec::with_capacity(run.len());
    if upsert && first.keys > 0 {
        let mut last: BTreeMap<String, usize> = BTreeMap::new();
        for (i, r) in run.iter().enumerate() {
            let key: Vec<String> = r.values[..r.keys].iter().map(Data::to_text).collect();
            last.insert(key.join("\u{0}"), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        chosen.extend(keep.into_iter().map(|i| &run[i]));
    } else {
        chosen.extend(run.iter());
    }
    let names: Vec<String> = first.columns.iter().map(|c| quote(&c.name)).collect();
    let mut params: Params = Vec::with_capacity(chosen.len() * names.len());
    let mut tuples = Vec::with_capacity(chosen.len());
    for r in chosen {
        let mut holders = Vec::with_capacity(r.columns.len());
        for (c, v) in r.columns.iter().zip(&r.values) {
            params.push(c.kind.bind(v, &c.name)?);
            holders.push(c.kind.placeholder(params.len()));
        }
        tuples.push(format!("({})", holders.join(", ")));
    }
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        first.table.sql(),
        names.join(", "),
        tuples.join(", ")
    );
    if upsert && first.keys > 0 {
        let keys = names[..first.keys].join(", ");
        let sets: Vec<String> = names[first.keys..]
            .iter()
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            .collect();
        if sets.is_empty() {
            sql.push_str(&format!(" ON CONFLICT ({keys}) DO NOTHING"));
        } else {
            sql.push_str(&format!(
                " ON CONFLICT ({keys}) DO UPDATE SET {}",
                sets.join(", ")
            ));
        }
    }
    Ok((sql, params))
}

/// `col = $n AND …` over the key columns, binding their values.
fn key_filter(r: &Row, params: &mut Params) -> Result<String, TaskError> {
    let mut conds = Vec::with_capacity(r.keys);
    for (c, v) in r.columns[..r.keys].iter().zip(&r.values) {
        params.push(c.kind.bind(v, &c.name)?);
        conds.push(format!(
            "{} = {}",
            quote(&c.name),
            c.kind.placeholder(params.len())
        ));
    }
    Ok(conds.join(" AND "))
}

fn update_statement(r: &Row) -> Result<(String, Params), TaskError> {
    let mut params: Params = Vec::new();
    let mut sets = Vec::new();
    for (c, v) in r.columns[r.keys..].iter().zip(&r.values[r.keys..]) {
        params.push(c.kind.bind(v, &c.name)?);
        sets.push(format!(
            "{} = {}",
            quote(&c.name),
            c.kind.placeholder(params.len())
        ));
    }
    if sets.is_empty() {
        return Err(TaskError::Database(format!(
            "insert.mode update on {} with no columns besides the key",
            r.table
        )));
    }
    let filter = key_filter(r, &mut params)?;
    Ok((
        format!(
            "UPDATE {} SET {} WHERE {filter}",
            r.table.sql(),
            sets.join(", ")
        ),
        params,
    ))
}

fn delete_statement(r: &Row) -> Result<(String, Params), TaskError> {
    let mut params: Params = Vec::new();
    let filter = key_filter(r, &mut params)?;
    Ok((
        format!("DELETE FROM {} WHERE {filter}", r.table.sql()),
        params,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaAndValue;
    use crate::plugins::config_of;

    fn task(pairs: &[(&str, &str)]) -> JdbcSinkTask {
        let mut c = config_of(&[("connection.url", "jdbc:postgresql://127.0.0.1/db?user=u")]);
        c.extend(config_of(pairs));
        JdbcSinkTask::new(&c).unwrap()
    }

    fn record(id: i64, name: &str, offset: i64) -> SinkRecord {
        SinkRecord {
            headers: Vec::new(),
            topic: "orders".into(),
            partition: 0,
            offset,
            timestamp: 0,
            key: SchemaAndValue::NULL,
            value: SchemaAndValue {
                schema: Some(
                    Schema::of(Type::Struct)
                        .field("id", Schema::of(Type::Int64))
                        .field("name", Schema::of(Type::String).optional()),
                ),
                value: Data::Struct(vec![
                    ("id".into(), Data::Int(id)),
                    ("name".into(), Data::String(name.into())),
                ]),
            },
        }
    }

    #[test]
    fn upsert_keeps_the_last_row_of_each_key() {
        let t = task(&[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_value"),
            ("pk.fields", "id"),
        ]);
        let rows: Vec<Row> = [record(1, "a", 0), record(2, "b", 1), record(1, "c", 2)]
            .iter()
            .map(|r| t.row(r).unwrap().unwrap())
            .collect();
        let (sql, params) = insert_statement(&rows, true).unwrap();
        assert_eq!(
            sql,
            "INSERT INTO \"orders\" (\"id\", \"name\") VALUES ($1, $2), ($3, $4) \
             ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\""
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn kafka_keys_and_bad_configs() {
        let t = task(&[("pk.mode", "kafka"), ("table.name.format", "sink_${topic}")]);
        let row = t.row(&record(1, "a", 7)).unwrap().unwrap();
        assert_eq!(row.table.name, "sink_orders");
        let names: Vec<&str> = row.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "__connect_topic",
                "__connect_partition",
                "__connect_offset",
                "id",
                "name"
            ]
        );
        assert_eq!(row.values[2], Data::Int(7));
        let mut c = config_of(&[
            ("connection.url", "jdbc:postgresql://h/db?user=u"),
            ("insert.mode", "upsert"),
        ]);
        let e = JdbcSinkTask::new(&c).err().unwrap().to_string();
        assert!(e.contains("pk.mode"), "{e}");
        c.insert("insert.mode".into(), "insert".into());
        c.insert("delete.enabled".into(), "true".into());
        let e = JdbcSinkTask::new(&c).err().unwrap().to_string();
        assert!(e.contains("record_key"), "{e}");
    }

    #[test]
    fn schemaless_values_are_refused_with_a_hint() {
        let t = task(&[]);
        let mut r = record(1, "a", 0);
        r.value.schema = None;
        let e = t.row(&r).err().unwrap().to_string();
        assert!(e.contains("schemas.enable=true"), "{e}");
        r.value = SchemaAndValue::NULL;
        assert!(t.row(&r).unwrap().is_none());
    }
}
