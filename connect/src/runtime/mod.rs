//! Running tasks: each task is a tokio task driven by its target state
//! (started, paused, stopped) and reporting its state (RUNNING, PAUSED,
//! FAILED with the error as trace) for the status endpoints.
//!
//! * [`source`]: poll the connector's task, transform, convert, produce with
//!   `acks=all`, then record the source offsets of what was acknowledged.
//! * [`sink`]: a member of the consumer group `connect-<connector>`
//!   fetching its partitions, converting and handing records to the task,
//!   and committing offsets only after the task flushed.

pub mod errors;
pub mod sink;
pub mod source;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runnel_common::kafka::{Client, ConnectionConfig};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::WorkerConfig;
use crate::convert::Converter;
use crate::data::SchemaAndValue;
use crate::offsets::OffsetStore;
use crate::plugins::{Config, ConnectorType, Plugin};

/// A record's headers: Kafka's (key, raw value) pairs, in order.
pub type Headers = Vec<(String, Option<bytes::Bytes>)>;

/// A record a source task produced, with where it came from.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The source partition (`{"filename": …}`), JSON as Kafka keys it.
    pub partition: Value,
    /// The position within it after this record (`{"position": …}`).
    pub offset: Value,
    pub topic: String,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: Headers,
}

/// A record a sink task receives.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: Headers,
}

/// Why a task failed; its text is the status's `trace`.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("invalid task configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
    #[error("conversion failed: {0}")]
    Convert(String),
    #[error("{0}")]
    Kafka(String),
    /// The database of a JDBC connector refused or failed (its message).
    #[error("{0}")]
    Database(String),
    /// A transform refused a record (Kafka's `DataException`).
    #[error("transformation failed: {0}")]
    Transform(String),
}

/// What the herder wants a task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    /// Stop and return (the task is going away or restarting).
    Stopped,
}

/// A task's state as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Unassigned,
    Running,
    Paused,
    Failed(String),
}

impl TaskState {
    pub fn name(&self) -> &'static str {
        match self {
            TaskState::Unassigned => "UNASSIGNED",
            TaskState::Running => "RUNNING",
            TaskState::Paused => "PAUSED",
            TaskState::Failed(_) => "FAILED",
        }
    }
}

/// What every task of this worker shares.
pub struct Worker {
    pub client: Arc<Client>,
    pub config: WorkerConfig,
    pub offsets: Arc<OffsetStore>,
}

/// One task to run.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub connector: String,
    pub id: u32,
    pub plugin: Plugin,
    pub config: Config,
    pub key_converter: Converter,
    pub value_converter: Converter,
}

/// A running task, as its connector holds it.
pub struct TaskHandle {
    control: watch::Sender<TargetState>,
    join: JoinHandle<()>,
    state: Arc<Mutex<TaskState>>,
}

/// How long a stopping task gets before it is cancelled.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl TaskHandle {
    pub fn state(&self) -> TaskState {
        lock(&self.state).clone()
    }

    pub fn set_target(&self, target: TargetState) {
        self.control.send_replace(target);
    }

    /// Tells the task to stop and waits for it (cancelled after a grace
    /// period).
    pub async fn stop(self) {
        self.control.send_replace(TargetState::Stopped);
        let abort = self.join.abort_handle();
        if tokio::time::timeout(STOP_GRACE, self.join).await.is_err() {
            tracing::warn!("a task did not stop within {STOP_GRACE:?}; cancelled");
            abort.abort();
        }
    }
}

fn lock(state: &Mutex<TaskState>) -> std::sync::MutexGuard<'_, TaskState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a task reports its state, and the target it follows.
pub struct TaskControl {
    target: watch::Receiver<TargetState>,
    state: Arc<Mutex<TaskState>>,
}

impl TaskControl {
    fn report(&self, state: TaskState) {
        let mut s = lock(&self.state);
        if *s != state {
            *s = state;
        }
    }

    /// The target now, reporting RUNNING or PAUSED to match; waits while
    /// paused (`on_pause` runs every `tick` meanwhile, for heartbeats).
    async fn current(&mut self) -> TargetState {
        let t = *self.target.borrow_and_update();
        match t {
            TargetState::Started => self.report(TaskState::Running),
            TargetState::Paused => self.report(TaskState::Paused),
            TargetState::Stopped => {}
        }
        t
    }

    /// Sleeps up to `d`, waking early when the target changes.
    async fn sleep(&mut self, d: Duration) {
        let _ = tokio::time::timeout(d, self.target.changed()).await;
    }
}

/// A task's own client (`connector-<role>-<connector>-<task>`, Kafka's
/// client ids), with the worker's bootstrap and security.
async fn task_client(worker: &Worker, spec: &TaskSpec, role: &str) -> Result<Client, TaskError> {
    let config = ConnectionConfig {
        client_id: format!("connector-{role}-{}-{}", spec.connector, spec.id),
        security: worker.config.security.clone(),
        ..ConnectionConfig::default()
    };
    Client::connect(&worker.config.bootstrap, config)
        .await
        .map_err(|e| TaskError::Kafka(e.to_string()))
}

/// Starts a task in `target` state.
pub fn start(worker: Arc<Worker>, spec: TaskSpec, target: TargetState) -> TaskHandle {
    let (control, rx) = watch::channel(target);
    let state = Arc::new(Mutex::new(TaskState::Unassigned));
    let mut ctl = TaskControl {
        target: rx,
        state: state.clone(),
    };
    let join = tokio::spawn(async move {
        let name = format!("{}-{}", spec.connector, spec.id);
        let result = match spec.plugin.kind() {
            ConnectorType::Source => source::run(&worker, &spec, &mut ctl).await,
            ConnectorType::Sink => sink::run(&worker, &spec, &mut ctl).await,
        };
        match result {
            Ok(()) => {
                tracing::info!(task = %name, "task stopped");
                ctl.report(TaskState::Unassigned);
            }
            Err(e) => {
                tracing::error!(task = %name, error = %e, "task failed");
                ctl.report(TaskState::Failed(format!(
                    "org.apache.kafka.connect.errors.ConnectException: {e}"
                )));
            }
        }
    });
    TaskHandle {
        control,
        join,
        state,
    }
}
