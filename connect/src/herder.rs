//! The connectors of a standalone worker (Kafka's `StandaloneHerder`):
//! their configs, target states and tasks, and what the REST API asks of
//! them. Answers are the JSON bodies Kafka's REST API gives.
//!
//! A connector's target state is started, paused (tasks keep their
//! place and stop moving data) or stopped (tasks shut down and its task
//! configs emptied, as Kafka 3.5's `PUT /stop`; its offsets can then be
//! altered or reset). Connector configs live in memory: as Kafka's
//! standalone mode, a restarted worker runs what its command line names.

use std::collections::BTreeMap;
use std::sync::Arc;

use runnel_common::kafka::group::{self, GroupConfig, GroupMember};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::error::ConnectError;
use crate::plugins::{self, Config, ConnectorType, Plugin};
use crate::runtime::sink::group_id;
use crate::runtime::{self, TargetState, TaskHandle, TaskSpec, TaskState, Worker};

/// A connector's target state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Started,
    Paused,
    Stopped,
}

impl Target {
    fn state(self) -> &'static str {
        match self {
            Target::Started => "RUNNING",
            Target::Paused => "PAUSED",
            Target::Stopped => "STOPPED",
        }
    }

    fn task_target(self) -> TargetState {
        match self {
            Target::Started => TargetState::Started,
            Target::Paused => TargetState::Paused,
            Target::Stopped => TargetState::Stopped,
        }
    }
}

struct Connector {
    config: Config,
    plugin: Plugin,
    target: Target,
    /// Task configs (empty while stopped) and their running tasks.
    tasks: Vec<(Config, Option<TaskHandle>)>,
}

pub struct Herder {
    worker: Arc<Worker>,
    connectors: Mutex<BTreeMap<String, Connector>>,
}

fn not_found(name: &str) -> ConnectError {
    ConnectError::ConnectorNotFound(name.to_string())
}

/// Connector names Kafka refuses (they would not fit in a URL path).
fn check_name(name: &str) -> Result<(), ConnectError> {
    if name.trim().is_empty() {
        return Err(ConnectError::BadRequest(
            "Connector name cannot be empty".into(),
        ));
    }
    if name.contains('/') {
        return Err(ConnectError::BadRequest(
            "connector name should not contain '/'".into(),
        ));
    }
    Ok(())
}

impl Herder {
    pub fn new(worker: Arc<Worker>) -> Herder {
        Herder {
            worker,
            connectors: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    fn worker_id(&self) -> &str {
        &self.worker.config.worker_id
    }

    pub async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    fn spec(
        &self,
        name: &str,
        c: &Connector,
        id: usize,
        config: &Config,
    ) -> Result<TaskSpec, ConnectError> {
        let wc = &self.worker.config;
        Ok(TaskSpec {
            connector: name.to_string(),
            id: id as u32,
            plugin: c.plugin,
            config: config.clone(),
            key_converter: plugins::converter(&c.config, "key.converter", &wc.key_converter)?,
            value_converter: plugins::converter(&c.config, "value.converter", &wc.value_converter)?,
        })
    }

    fn start_task(&self, name: &str, c: &Connector, id: usize) -> Result<TaskHandle, ConnectError> {
        let spec = self.spec(name, c, id, &c.tasks[id].0)?;
        Ok(runtime::start(
            self.worker.clone(),
            spec,
            c.target.task_target(),
        ))
    }

    /// Starts every task of a connector that is not stopped.
    fn start_tasks(&self, name: &str, c: &mut Connector) -> Result<(), ConnectError> {
        if c.target == Target::Stopped {
            c.tasks.clear();
            return Ok(());
        }
        c.tasks = c
            .plugin
            .task_configs(&c.config)
            .into_iter()
            .map(|t| (t, None))
            .collect();
        for id in 0..c.tasks.len() {
            let handle = self.start_task(name, c, id)?;
            c.tasks[id].1 = Some(handle);
        }
        Ok(())
    }

    async fn stop_tasks(c: &mut Connector) {
        for (_, handle) in &mut c.tasks {
            if let Some(h) = handle.take() {
                h.stop().await;
            }
        }
    }

    /// Creates a connector, or (with `allow_update`) replaces the config
    /// of an existing one; returns its info and whether it was created.
    pub async fn put(
        &self,
        name: &str,
        mut config: Config,
        allow_update: bool,
    ) -> Result<(Value, bool), ConnectError> {
        check_name(name)?;
        config.insert("name".into(), name.to_string());
        let plugin = plugins::check(&config)?;
        let wc = &self.worker.config;
        plugins::converter(&config, "key.converter", &wc.key_converter)?;
        plugins::converter(&config, "value.converter", &wc.value_converter)?;
        let mut all = self.connectors.lock().await;
        let created = match all.get_mut(name) {
            Some(_) if !allow_update => return Err(ConnectError::AlreadyExists(name.to_string())),
            Some(c) => {
                Self::stop_tasks(c).await;
                c.config = config;
                c.plugin = plugin;
                false
            }
            None => {
                all.insert(
                    name.to_string(),
                    Connector {
                        config,
                        plugin,
                        target: Target::Started,
                        tasks: Vec::new(),
                    },
                );
                true
            }
        };
        let c = all.get_mut(name).ok_or_else(|| not_found(name))?;
        self.start_tasks(name, c)?;
        tracing::info!(
            connector = name,
            class = plugin.class(),
            tasks = c.tasks.len(),
            created,
            "connector configured"
        );
        Ok((info(name, c), created))
    }

    pub async fn info(&self, name: &str) -> Result<Value, ConnectError> {
        let all = self.connectors.lock().await;
        all.get(name)
            .map(|c| info(name, c))
            .ok_or_else(|| not_found(name))
    }

    pub async fn config(&self, name: &str) -> Result<Config, ConnectError> {
        let all = self.connectors.lock().await;
        all.get(name)
            .map(|c| c.config.clone())
            .ok_or_else(|| not_found(name))
    }

    pub async fn tasks(&self, name: &str) -> Result<Value, ConnectError> {
        let all = self.connectors.lock().await;
        let c = all.get(name).ok_or_else(|| not_found(name))?;
        Ok(Value::Array(
            c.tasks
                .iter()
                .enumerate()
                .map(|(id, (config, _))| json!({"id": {"connector": name, "task": id}, "config": config}))
                .collect(),
        ))
    }

    pub async fn status(&self, name: &str) -> Result<Value, ConnectError> {
        let all = self.connectors.lock().await;
        let c = all.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.status_of(name, c, None))
    }

    /// Kafka's `ConnectorStateInfo`; `restarting` overrides the state of
    /// the connector (`None` key) and of the tasks listed.
    fn status_of(&self, name: &str, c: &Connector, restarting: Option<(bool, &[usize])>) -> Value {
        let connector_state = match restarting {
            Some((true, _)) => "RESTARTING",
            _ => c.target.state(),
        };
        let tasks: Vec<Value> = c
            .tasks
            .iter()
            .enumerate()
            .map(|(id, (_, h))| {
                let state = h.as_ref().map_or(TaskState::Unassigned, TaskHandle::state);
                let restarted = restarting.is_some_and(|(_, ids)| ids.contains(&id));
                self.task_state_json(id, &state, restarted)
            })
            .collect();
        json!({
            "name": name,
            "connector": {"state": connector_state, "worker_id": self.worker_id()},
            "tasks": tasks,
            "type": c.plugin.kind().name(),
        })
    }

    fn task_state_json(&self, id: usize, state: &TaskState, restarting: bool) -> Value {
        let mut v = json!({
            "id": id,
            "state": if restarting { "RESTARTING" } else { state.name() },
            "worker_id": self.worker_id(),
        });
        if let (TaskState::Failed(trace), false) = (state, restarting) {
            v["trace"] = json!(trace);
        }
        v
    }

    pub async fn task_status(&self, name: &str, id: usize) -> Result<Value, ConnectError> {
        let all = self.connectors.lock().await;
        let c = all.get(name).ok_or_else(|| not_found(name))?;
        match c.tasks.get(id) {
            Some((_, h)) => {
                let state = h.as_ref().map_or(TaskState::Unassigned, TaskHandle::state);
                Ok(self.task_state_json(id, &state, false))
            }
            None => Err(ConnectError::NotFound(format!(
                "No status found for task {name}-{id}"
            ))),
        }
    }

    /// Pause, resume or stop.
    pub async fn set_target(&self, name: &str, target: Target) -> Result<(), ConnectError> {
        let mut all = self.connectors.lock().await;
        let c = all.get_mut(name).ok_or_else(|| not_found(name))?;
        if c.target == target {
            return Ok(());
        }
        let was = c.target;
        c.target = target;
        tracing::info!(
            connector = name,
            state = target.state(),
            "connector target state changed"
        );
        match (was, target) {
            (_, Target::Stopped) => {
                Self::stop_tasks(c).await;
                c.tasks.clear();
            }
            (Target::Stopped, _) => self.start_tasks(name, c)?,
            _ => {
                for h in c.tasks.iter().filter_map(|(_, h)| h.as_ref()) {
                    h.set_target(target.task_target());
                }
            }
        }
        Ok(())
    }

    /// `POST /restart`: `None` when only the connector restarts (204),
    /// else the status with what is restarting (202).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<Value>, ConnectError> {
        let mut all = self.connectors.lock().await;
        let c = all.get_mut(name).ok_or_else(|| not_found(name))?;
        if !include_tasks && !only_failed {
            return Ok(None);
        }
        let restart: Vec<usize> = if include_tasks {
            c.tasks
                .iter()
                .enumerate()
                .filter(|(_, (_, h))| {
                    !only_failed
                        || matches!(
                            h.as_ref().map(TaskHandle::state),
                            Some(TaskState::Failed(_))
                        )
                })
                .map(|(id, _)| id)
                .collect()
        } else {
            Vec::new()
        };
        // The connector itself never fails here, so onlyFailed spares it.
        let status = self.status_of(name, c, Some((!only_failed, &restart)));
        for &id in &restart {
            self.restart_one(name, c, id).await?;
        }
        Ok(Some(status))
    }

    async fn restart_one(
        &self,
        name: &str,
        c: &mut Connector,
        id: usize,
    ) -> Result<(), ConnectError> {
        if let Some(h) = c.tasks[id].1.take() {
            h.stop().await;
        }
        let handle = self.start_task(name, c, id)?;
        c.tasks[id].1 = Some(handle);
        tracing::info!(task = %format!("{name}-{id}"), "task restarted");
        Ok(())
    }

    pub async fn restart_task(&self, name: &str, id: usize) -> Result<(), ConnectError> {
        let mut all = self.connectors.lock().await;
        let c = all.get_mut(name).ok_or_else(|| not_found(name))?;
        if id >= c.tasks.len() {
            return Err(ConnectError::NotFound(format!(
                "Task {name}-{id} not found"
            )));
        }
        self.restart_one(name, c, id).await
    }

    pub async fn delete(&self, name: &str) -> Result<(), ConnectError> {
        let mut all = self.connectors.lock().await;
        let mut c = all.remove(name).ok_or_else(|| not_found(name))?;
        Self::stop_tasks(&mut c).await;
        tracing::info!(connector = name, "connector deleted");
        Ok(())
    }

    /// Stops every task (at shutdown).
    pub async fn stop_all(&self) {
        let mut all = self.connectors.lock().await;
        for c in all.values_mut() {
            Self::stop_tasks(c).await;
        }
    }

    async fn plugin_of(&self, name: &str, must_be_stopped: bool) -> Result<Plugin, ConnectError> {
        let all = self.connectors.lock().await;
        let c = all.get(name).ok_or_else(|| not_found(name))?;
        if must_be_stopped && c.target != Target::Stopped {
            return Err(ConnectError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(c.plugin)
    }

    fn group_member(&self, name: &str) -> GroupMember {
        GroupMember::new(
            self.worker.client.clone(),
            GroupConfig::consumer(&group_id(name)),
        )
    }

    /// `GET /offsets`: source offsets from the store, sink offsets from
    /// the connector's consumer group.
    pub async fn offsets(&self, name: &str) -> Result<Value, ConnectError> {
        let plugin = self.plugin_of(name, false).await?;
        let offsets: Vec<Value> = match plugin.kind() {
            ConnectorType::Source => self
                .worker
                .offsets
                .connector_offsets(name)
                .into_iter()
                .map(|(p, o)| json!({"partition": p, "offset": o}))
                .collect(),
            ConnectorType::Sink => self
                .group_member(name)
                .fetch_offsets(None)
                .await
                .map_err(|e| {
                    ConnectError::Internal(format!(
                        "Failed to retrieve consumer group offsets for sink connector {name}: {e}"
                    ))
                })?
                .into_iter()
                .filter(|(_, o)| *o >= 0)
                .map(|((t, p), o)| {
                    json!({
                        "partition": {"kafka_topic": t, "kafka_partition": p},
                        "offset": {"kafka_offset": o},
                    })
                })
                .collect(),
        };
        Ok(json!({ "offsets": offsets }))
    }

    /// `PATCH /offsets` on a stopped connector.
    pub async fn alter_offsets(&self, name: &str, body: &Value) -> Result<Value, ConnectError> {
        let plugin = self.plugin_of(name, true).await?;
        let bad = |m: &str| ConnectError::BadRequest(m.to_string());
        let entries = body
            .get("offsets")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                bad("Partitions / offsets need to be provided for an alter offsets request")
            })?;
        match plugin.kind() {
            ConnectorType::Source => {
                let mut changes = Vec::new();
                for e in entries {
                    let partition = e
                        .get("partition")
                        .filter(|p| p.is_object())
                        .ok_or_else(|| bad("Source partitions may not be null"))?;
                    let offset = e.get("offset").cloned().unwrap_or(Value::Null);
                    check_source_offset(plugin, partition, &offset)?;
                    changes.push((partition.clone(), offset));
                }
                for (p, o) in changes {
                    self.worker.offsets.put(name, &p, o);
                }
                self.worker
                    .offsets
                    .flush()
                    .map_err(|e| ConnectError::Internal(e.to_string()))?;
            }
            ConnectorType::Sink => {
                let mut commits = BTreeMap::new();
                for e in entries {
                    let p = e
                        .get("partition")
                        .ok_or_else(|| bad("Kafka partitions may not be null"))?;
                    let topic = p.get("kafka_topic").and_then(Value::as_str).ok_or_else(|| {
                        bad("Kafka partitions must contain the key 'kafka_topic' with a string value")
                    })?;
                    let partition = p.get("kafka_partition").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()).ok_or_else(|| {
                        bad("Kafka partitions must contain the key 'kafka_partition' with an integer value")
                    })?;
                    let offset = e
                        .get("offset")
                        .and_then(|o| o.get("kafka_offset"))
                        .and_then(Value::as_i64)
                        .filter(|o| *o >= 0)
                        .ok_or_else(|| bad("Offsets for sink connectors must contain the key 'kafka_offset' with a non-negative integer value (removing one offset is done with DELETE /offsets)"))?;
                    commits.insert((topic.to_string(), partition), offset);
                }
                self.group_member(name)
                    .commit_offsets(&commits)
                    .await
                    .map_err(|e| {
                        ConnectError::Internal(format!(
                            "Failed to alter consumer group offsets for connector {name}: {e}"
                        ))
                    })?;
            }
        }
        Ok(json!({"message": "The offsets for this connector have been altered successfully"}))
    }

    /// `DELETE /offsets` on a stopped connector.
    pub async fn reset_offsets(&self, name: &str) -> Result<Value, ConnectError> {
        let plugin = self.plugin_of(name, true).await?;
        match plugin.kind() {
            ConnectorType::Source => {
                self.worker.offsets.remove_connector(name);
                self.worker
                    .offsets
                    .flush()
                    .map_err(|e| ConnectError::Internal(e.to_string()))?;
            }
            ConnectorType::Sink => group::delete_group(self.worker.client.clone(), &group_id(name))
                .await
                .map_err(|e| {
                    ConnectError::Internal(format!(
                        "Failed to reset consumer group offsets for connector {name}: {e}"
                    ))
                })?,
        }
        Ok(json!({"message": "The offsets for this connector have been reset successfully"}))
    }
}

/// Kafka's `ConnectorInfo`.
fn info(name: &str, c: &Connector) -> Value {
    json!({
        "name": name,
        "config": c.config,
        "tasks": (0..c.tasks.len()).map(|t| json!({"connector": name, "task": t})).collect::<Vec<_>>(),
        "type": c.plugin.kind().name(),
    })
}

/// A JDBC source's offset: `{"table": …}` (or `{"query": "query"}`) with
/// `incrementing` and/or `timestamp` (and `timestamp_nanos`) integers.
fn check_jdbc_offset(partition: &Value, offset: &Value) -> Result<(), ConnectError> {
    if partition.get("table").is_none() && partition.get("query").is_none() {
        return Err(ConnectError::BadRequest(
            "The partition for JdbcSourceConnector must contain the key 'table' or 'query'".into(),
        ));
    }
    if offset.is_null() {
        return Ok(());
    }
    let fields = ["incrementing", "timestamp", "timestamp_nanos"];
    let bad = offset.as_object().is_none_or(|o| {
        o.iter()
            .any(|(k, v)| !fields.contains(&k.as_str()) || v.as_i64().is_none())
    });
    if bad {
        return Err(ConnectError::BadRequest(
            "The offset for JdbcSourceConnector may hold only the integer keys 'incrementing', 'timestamp' and 'timestamp_nanos'".into(),
        ));
    }
    Ok(())
}

/// The offsets a source connector accepts (its `alterOffsets`).
fn check_source_offset(
    plugin: Plugin,
    partition: &Value,
    offset: &Value,
) -> Result<(), ConnectError> {
    let (pkey, okey) = match plugin {
        Plugin::FileSource => ("filename", "position"),
        Plugin::DataGen => ("task", "id"),
        Plugin::JdbcSource => return check_jdbc_offset(partition, offset),
        Plugin::FileSink | Plugin::JdbcSink => return Ok(()),
    };
    if partition.get(pkey).is_none() {
        return Err(ConnectError::BadRequest(format!(
            "The partition for {} must contain the key '{pkey}'",
            plugin.class().rsplit('.').next().unwrap_or_default()
        )));
    }
    if !offset.is_null()
        && offset
            .get(okey)
            .and_then(Value::as_i64)
            .is_none_or(|n| n < 0)
    {
        return Err(ConnectError::BadRequest(format!(
            "The offset for {} must contain the key '{okey}' with a non-negative integer value",
            plugin.class().rsplit('.').next().unwrap_or_default()
        )));
    }
    Ok(())
}
