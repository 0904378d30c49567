//! The `_schemas` topic as the registry's log: one task reads it from the
//! start and applies every record to the [`State`]; a write is produced
//! with `acks=all` and answered once this instance has read it back, so
//! whoever asked sees their write in every later read.
//!
//! The topic has one partition (one order for every instance) and is
//! compacted (the latest record per key is the state).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use runnel_common::kafka::fetch::{self, FetchPosition};
use runnel_common::kafka::{
    BatchBuilder, Batches, Client, ClientSecurity, Codec, ConnectionConfig, ErrorCode, KafkaError,
    NewTopic,
};
use tokio::sync::watch;

use super::records::Write;
use super::state::State;
use crate::error::RegistryError;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `kafkastore.bootstrap.servers`.
    pub bootstrap: String,
    /// `kafkastore.topic` (`_schemas`).
    pub topic: String,
    /// `kafkastore.topic.replication.factor` (3; fewer when the cluster
    /// has fewer brokers).
    pub replication_factor: i16,
    /// `kafkastore.timeout.ms`: how long a write may take to be produced
    /// and read back.
    pub timeout: Duration,
    /// `kafkastore.init.timeout.ms`: how long start-up may take to create
    /// and read the topic.
    pub init_timeout: Duration,
    /// TLS and SASL of the store's connections, from
    /// `kafkastore.security.protocol`, `kafkastore.ssl.*` and
    /// `kafkastore.sasl.*` (PLAINTEXT when none is given).
    pub security: ClientSecurity,
}

/// The partition every registry record goes to.
const PARTITION: i32 = 0;

pub struct KafkaStore {
    client: Client,
    config: StoreConfig,
    state: Arc<RwLock<State>>,
    /// The next offset the reader will apply: everything below it is in
    /// the state.
    applied: watch::Receiver<i64>,
}

impl KafkaStore {
    /// Connects, creates the topic if it is missing, starts the reader and
    /// waits until it has read everything the topic held at start.
    pub async fn open(
        config: StoreConfig,
        state: Arc<RwLock<State>>,
    ) -> anyhow::Result<KafkaStore> {
        let connect = ConnectionConfig {
            client_id: "runnel-registry".into(),
            security: config.security.clone(),
            ..ConnectionConfig::default()
        };
        // A refused handshake or login fails here, at once, with the
        // broker's reason: a registry that cannot authenticate stops rather
        // than retrying until kafkastore.init.timeout.ms.
        let unreachable = || {
            format!(
                "cannot reach the cluster at {} (kafkastore.security.protocol={})",
                config.bootstrap,
                config.security.protocol().name()
            )
        };
        let client = Client::connect(&config.bootstrap, connect.clone())
            .await
            .with_context(unreachable)?;
        ensure_topic(&client, &config).await?;
        let reader_client = Client::connect(&config.bootstrap, connect)
            .await
            .with_context(unreachable)?;
        let (tx, applied) = watch::channel(0);
        tokio::spawn(read_loop(
            reader_client,
            config.topic.clone(),
            state.clone(),
            tx,
        ));
        let store = KafkaStore {
            client,
            config,
            state,
            applied,
        };
        let init = store.config.init_timeout;
        tokio::time::timeout(init, store.catch_up())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "could not read topic {} to its end within {init:?} (kafkastore.init.timeout.ms)",
                    store.config.topic
                )
            })??;
        Ok(store)
    }

    pub fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }

    /// Waits until the reader has applied everything the topic holds now.
    pub async fn catch_up(&self) -> Result<(), RegistryError> {
        let end = loop {
            match self
                .client
                .list_offsets(&self.config.topic, &[PARTITION], fetch::LATEST)
                .await
                .map(|mut m| m.remove(&PARTITION))
            {
                Ok(Some(Ok(end))) => break end,
                Ok(Some(Err(e))) | Err(e) if retriable(&e) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Some(Err(e))) | Err(e) => return Err(RegistryError::Store(e.to_string())),
                Ok(None) => return Err(RegistryError::Store("no offsets for the topic".into())),
            }
        };
        self.wait_applied(end, Duration::MAX).await
    }

    /// Writes records as one batch (all or nothing) and returns once this
    /// instance has applied them.
    pub async fn write(&self, writes: &[Write]) -> Result<(), RegistryError> {
        if writes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut batch = BatchBuilder::new(Codec::None);
        for w in writes {
            batch.push(now, Some(&w.key), w.value.as_deref(), &[]);
        }
        let batch = batch
            .finish()
            .map_err(|e| RegistryError::Store(e.to_string()))?;
        let timeout_ms = i32::try_from(self.config.timeout.as_millis()).unwrap_or(i32::MAX);
        let produced = tokio::time::timeout(
            self.config.timeout,
            self.client
                .produce(&self.config.topic, PARTITION, batch, -1, timeout_ms),
        )
        .await
        .map_err(|_| RegistryError::Timeout(format!("writing to {}", self.config.topic)))?;
        let base = match produced {
            Ok(Some(base)) => base,
            Ok(None) => return Err(RegistryError::Store("no offset for the write".into())),
            Err(e) => return Err(RegistryError::Store(e.to_string())),
        };
        let last = base + writes.len() as i64 - 1;
        self.wait_applied(last + 1, self.config.timeout).await
    }

    async fn wait_applied(&self, offset: i64, timeout: Duration) -> Result<(), RegistryError> {
        let mut applied = self.applied.clone();
        let wait = applied.wait_for(|&next| next >= offset);
        let res = if timeout == Duration::MAX {
            Ok(wait.await)
        } else {
            tokio::time::timeout(timeout, wait).await
        };
        match res {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(RegistryError::Store("the topic reader stopped".into())),
            Err(_) => Err(RegistryError::Timeout(format!(
                "reading back offset {} of {}",
                offset - 1,
                self.config.topic
            ))),
        }
    }
}

use runnel_common::clock::now_ms;

/// Creates the topic (one partition, compacted, RF as configured or, once
/// `settle`, the number of brokers when fewer) unless it exists; false to
/// try again: fewer brokers than wanted before `settle`, or the controller
/// refused the replication factor.
async fn create_topic(client: &Client, config: &StoreConfig, settle: bool) -> anyhow::Result<bool> {
    let topic = config.topic.as_str();
    let md = client.metadata(Some(&[topic]), false).await?;
    let existing = md
        .topics
        .get(topic)
        .filter(|t| t.error != Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    if existing.is_none() {
        let brokers = md.brokers.len().max(1) as i16;
        if brokers < config.replication_factor && !settle {
            return Ok(false);
        }
        let rf = config.replication_factor.min(brokers).max(1);
        if rf < config.replication_factor {
            tracing::warn!(
                topic,
                wanted = config.replication_factor,
                brokers,
                "fewer live brokers than kafkastore.topic.replication.factor: creating the topic with replication factor {rf}"
            );
        }
        let new = NewTopic {
            name: topic.to_string(),
            partitions: Some(1),
            replication_factor: Some(rf),
            configs: vec![("cleanup.policy".into(), "compact".into())],
        };
        for (_, res) in client.create_topics(&[new], 30_000).await? {
            match res {
                Ok(()) => {
                    tracing::info!(topic, replication_factor = rf, "created the schemas topic")
                }
                Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
                Err(e) if e.code() == Some(ErrorCode::INVALID_REPLICATION_FACTOR) => {
                    return Ok(false)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(true)
}

fn retriable(e: &KafkaError) -> bool {
    match e.code() {
        Some(code) => code.is_retriable(),
        // Connection-level trouble: a broker went away; metadata will say
        // where to go next.
        None => !matches!(e, KafkaError::Invalid(_)),
    }
}

/// Creates the topic (one partition, compacted) or checks the one there.
async fn ensure_topic(client: &Client, config: &StoreConfig) -> anyhow::Result<()> {
    let topic = config.topic.as_str();
    let deadline = tokio::time::Instant::now() + config.init_timeout;
    // While a cluster starts, fewer brokers than the replication factor
    // may be up (a broker serving the registry itself starts before the
    // others): wait a while for them before settling for fewer. And the
    // controller may know fewer brokers than metadata shows:
    // INVALID_REPLICATION_FACTOR is retried until the deadline.
    let settle = tokio::time::Instant::now() + config.init_timeout.min(Duration::from_secs(10));
    while !create_topic(client, config, tokio::time::Instant::now() >= settle).await? {
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "could not create {topic}: the controller knows too few brokers (kafkastore.init.timeout.ms)"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Wait for it to have a leader, then check what it is.
    loop {
        let md = client.metadata(Some(&[topic]), false).await?;
        if let Some(t) = md.topics.get(topic) {
            if t.partitions.len() > 1 {
                anyhow::bail!(
                    "the schema topic {topic} should have only 1 partition but has {}",
                    t.partitions.len()
                );
            }
            if md.leader(topic, PARTITION).is_some() {
                break;
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the schema topic {topic} has no leader");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let configs = client.describe_topic_configs(topic).await?;
    let policy = configs
        .iter()
        .find(|c| c.name == "cleanup.policy")
        .and_then(|c| c.value.clone())
        .unwrap_or_default();
    if !policy.split(',').any(|p| p.trim() == "compact") {
        anyhow::bail!(
            "the retention policy of the schema topic {topic} is incorrect: it must be 'compact' (cleanup.policy={policy})"
        );
    }
    Ok(())
}

/// Reads the partition from the start, forever, applying every record.
async fn read_loop(
    client: Client,
    topic: String,
    state: Arc<RwLock<State>>,
    applied: watch::Sender<i64>,
) {
    let mut next = 0i64;
    let mut leader: Option<i32> = None;
    loop {
        if applied.is_closed() {
            return;
        }
        match read_once(&client, &topic, &state, &mut leader, &mut next).await {
            Ok(()) => {
                applied.send_if_modified(|a| std::mem::replace(a, next) != next);
            }
            Err(e) => {
                tracing::debug!(topic, error = %e, "reading the schemas topic; retrying");
                leader = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn read_once(
    client: &Client,
    topic: &str,
    state: &RwLock<State>,
    leader: &mut Option<i32>,
    next: &mut i64,
) -> Result<(), KafkaError> {
    let id = match *leader {
        Some(id) => id,
        None => {
            let md = client.metadata(Some(&[topic]), false).await?;
            let id = md.leader(topic, PARTITION).ok_or_else(|| {
                KafkaError::broker(
                    format!("read {topic}"),
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    None,
                )
            })?;
            *leader = Some(id);
            id
        }
    };
    let position = FetchPosition {
        partition: PARTITION,
        offset: *next,
        max_bytes: 4 << 20,
    };
    let fetched = client.fetch(id, topic, &[position], 500, 16 << 20).await?;
    for part in fetched {
        match part.error {
            None => {}
            Some(ErrorCode(1)) => {
                // OFFSET_OUT_OF_RANGE: the log start moved (DeleteRecords);
                // what is gone was deleted on purpose.
                // Above the end (the log lost what this reader read, which
                // acks=all writes do not allow): go on from the end.
                let start = client
                    .list_offsets(topic, &[PARTITION], fetch::EARLIEST)
                    .await?;
                let end = client
                    .list_offsets(topic, &[PARTITION], fetch::LATEST)
                    .await?;
                if let (Some(Ok(start)), Some(Ok(end))) =
                    (start.get(&PARTITION), end.get(&PARTITION))
                {
                    if *next > *end {
                        tracing::error!(
                            topic,
                            read = *next,
                            end,
                            "the schemas topic is shorter than what this registry read"
                        );
                    }
                    *next = (*next).clamp(*start, *end);
                }
                continue;
            }
            Some(code) => {
                return Err(KafkaError::broker(format!("read {topic}"), code, None));
            }
        }
        let mut st = state.write().unwrap_or_else(|e| e.into_inner());
        for batch in Batches::new(part.records) {
            let batch = batch.map_err(|e| KafkaError::Invalid(format!("reading {topic}: {e}")))?;
            if batch.header.next_offset() <= *next {
                continue;
            }
            if !batch.header.is_control() {
                let records = batch
                    .records()
                    .map_err(|e| KafkaError::Invalid(format!("reading {topic}: {e}")))?;
                for rec in records {
                    if rec.offset < *next {
                        continue;
                    }
                    if let Some(key) = rec.key.as_deref() {
                        st.apply(key, rec.value.as_deref());
                    }
                }
            }
            *next = batch.header.next_offset();
        }
    }
    Ok(())
}
