//! The console's forms. Each checks its input first and answers with a
//! redirect back to the page it came from, carrying `?ok=` or `?error=`:
//! bad input is named on the page and nothing is changed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::Redirect;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::fetch::{EARLIEST, LATEST};
use runnel_common::kafka::{BatchBuilder, Codec, ErrorCode, NewTopic};

use super::html::url;
use super::pages::load_group;
use super::view::now_ms;
use super::Console;

type Fields = Form<HashMap<String, String>>;

fn back(to: &str, result: Result<String, String>) -> Redirect {
    let sep = if to.contains('?') { '&' } else { '?' };
    match result {
        Ok(m) => Redirect::to(&format!("{to}{sep}ok={}", url(&m))),
        Err(e) => Redirect::to(&format!("{to}{sep}error={}", url(&e))),
    }
}

fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> &'a str {
    f.get(name).map_or("", |s| s.trim())
}

fn number<T: std::str::FromStr>(
    f: &HashMap<String, String>,
    name: &str,
    what: &str,
) -> Result<T, String> {
    let v = field(f, name);
    v.parse()
        .map_err(|_| format!("{what} must be a whole number, got {v:?}."))
}

/// `key=value` lines (blank lines skipped).
fn key_values(text: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("{what}: {line:?} is not key=value."));
        };
        if k.trim().is_empty() {
            return Err(format!("{what}: {line:?} has no key."));
        }
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

pub async fn create_topic(State(c): State<Arc<Console>>, Form(f): Fields) -> Redirect {
    let name = field(&f, "name").to_string();
    let result = async {
        crate::api::topic_names::validate(&name)?;
        let partitions: i32 = number(&f, "partitions", "Partitions")?;
        let rf: i16 = number(&f, "replication_factor", "Replication factor")?;
        if partitions < 1 {
            return Err("Partitions must be at least 1.".to_string());
        }
        if rf < 1 {
            return Err("Replication factor must be at least 1.".to_string());
        }
        let configs = key_values(field(&f, "configs"), "Configs")?;
        let topic = NewTopic {
            name: name.clone(),
            partitions: Some(partitions),
            replication_factor: Some(rf),
            configs,
        };
        let answers = c
            .client
            .create_topics(&[topic], 30_000)
            .await
            .map_err(|e| e.to_string())?;
        for (_, r) in answers {
            r.map_err(|e| e.to_string())?;
        }
        // The controller answered; the other brokers read the new topic from
        // coord a moment later. Wait (briefly) until metadata shows it, so the
        // topic page the browser goes to next does not say it is missing.
        for _ in 0..50 {
            let known = c
                .client
                .metadata(Some(&[name.as_str()]), false)
                .await
                .is_ok_and(|md| md.topics.get(&name).is_some_and(|t| t.error.is_none()));
            if known {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(format!("Created topic {name}."))
    }
    .await;
    match result {
        Ok(m) => back(&format!("/topics/{}", url(&name)), Ok(m)),
        Err(e) => back("/topics", Err(e)),
    }
}

pub async fn delete_topic(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Form(f): Fields,
) -> Redirect {
    if field(&f, "confirm") != topic {
        return back(
            &format!("/topics/{}", url(&topic)),
            Err(format!("Type {topic} to confirm; nothing was deleted.")),
        );
    }
    let result = async {
        for (_, r) in c
            .client
            .delete_topics(&[topic.as_str()], 30_000)
            .await
            .map_err(|e| e.to_string())?
        {
            r.map_err(|e| e.to_string())?;
        }
        Ok(format!("Deleted topic {topic}."))
    }
    .await;
    match result {
        Ok(m) => back("/topics", Ok(m)),
        Err(e) => back(&format!("/topics/{}", url(&topic)), Err(e)),
    }
}

pub async fn add_partitions(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Form(f): Fields,
) -> Redirect {
    let result = async {
        let count: i32 = number(&f, "count", "The partition count")?;
        c.client
            .create_partitions(&topic, count, 30_000)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("{topic} now has {count} partitions."))
    }
    .await;
    back(&format!("/topics/{}", url(&topic)), result)
}

pub async fn alter_config(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Form(f): Fields,
) -> Redirect {
    let result = async {
        let name = field(&f, "name");
        if name.is_empty() {
            return Err("Name the config to set.".to_string());
        }
        let value = field(&f, "value");
        c.client
            .alter_topic_configs(&topic, &[(name.to_string(), value.to_string())])
            .await
            .map_err(|e| e.to_string())?;
        Ok(if value.is_empty() {
            format!("{name} is back to its default.")
        } else {
            format!("Set {name}={value}.")
        })
    }
    .await;
    back(&format!("/topics/{}", url(&topic)), result)
}

pub async fn produce(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Form(f): Fields,
) -> Redirect {
    let result = async {
        let partition: i32 = number(&f, "partition", "Partition")?;
        let headers = key_values(field(&f, "headers"), "Headers")?;
        let key = f.get("key").filter(|k| !k.is_empty());
        let value = f.get("value").map(String::as_str).unwrap_or("");
        let mut b = BatchBuilder::new(Codec::None);
        let hdrs: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_bytes())))
            .collect();
        b.push(
            now_ms(),
            key.map(|k| k.as_bytes()),
            Some(value.as_bytes()),
            &hdrs,
        );
        let batch = b.finish().map_err(|e| e.to_string())?;
        let offset = c
            .client
            .produce(&topic, partition, batch, -1, 30_000)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Produced to {topic}-{partition} at offset {}.",
            offset.unwrap_or(-1)
        ))
    }
    .await;
    back(&format!("/topics/{}", url(&topic)), result)
}

/// Commits new offsets for an inactive group, as
/// `kafka-consumer-groups.sh --reset-offsets --execute` does (an
/// OffsetCommit with generation -1 to the group's coordinator).
pub async fn reset_offsets(
    State(c): State<Arc<Console>>,
    Path(group): Path<String>,
    Form(f): Fields,
) -> Redirect {
    let page = format!("/groups/{}", url(&group));
    let result = async {
        let topic = field(&f, "topic").to_string();
        let v = c.view();
        let t = v
            .topics
            .get(&topic)
            .ok_or_else(|| format!("Topic {topic:?} does not exist; nothing was reset."))?;
        let g = load_group(&c, &group)
            .await?
            .ok_or_else(|| format!("Consumer group {group} does not exist."))?;
        if g.state() != "Empty" {
            return Err(format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
                g.state()
            ));
        }
        let parts: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
        let targets: Vec<(i32, i64)> = match field(&f, "to") {
            "earliest" | "latest" => {
                let when = if field(&f, "to") == "earliest" { EARLIEST } else { LATEST };
                let found = c
                    .client
                    .list_offsets(&topic, &parts, when)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                for (p, r) in found {
                    out.push((p, r.map_err(|e| e.to_string())?));
                }
                out
            }
            "offset" => {
                let o: i64 = number(&f, "offset", "Offset")?;
                if o < 0 {
                    return Err("Offset must not be negative.".into());
                }
                parts.iter().map(|p| (*p, o)).collect()
            }
            other => return Err(format!("Reset to {other:?}? Choose earliest, latest or offset.")),
        };
        commit(&c, &group, &topic, &targets).await?;
        let list: Vec<String> = targets.iter().map(|(p, o)| format!("{p}→{o}")).collect();
        Ok(format!("Reset {group} on {topic}: {}.", list.join(", ")))
    }
    .await;
    back(&page, result)
}

async fn commit(
    c: &Console,
    group: &str,
    topic: &str,
    targets: &[(i32, i64)],
) -> Result<(), String> {
    let e = |e: runnel_common::kafka::KafkaError| e.to_string();
    let any = c.client.any().await.map_err(e)?;
    let version = any.version::<FindCoordinatorRequest>((1, 3)).map_err(e)?;
    let mut find = FindCoordinatorRequest::default();
    find.key = StrBytes::from_string(group.to_string());
    let found = any.call(&find, version).await.map_err(e)?;
    ErrorCode::check(found.error_code)
        .map_err(|code| format!("finding the coordinator of {group}: {code}"))?;
    let conn = c.client.node(found.node_id.0).await.map_err(e)?;
    let version = conn.version::<OffsetCommitRequest>((2, 8)).map_err(e)?;
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(StrBytes::from_string(group.to_string()));
    req.generation_id_or_member_epoch = -1;
    req.member_id = StrBytes::from_static_str("");
    req.retention_time_ms = -1;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = targets
        .iter()
        .map(|(p, o)| {
            let mut x = OffsetCommitRequestPartition::default();
            x.partition_index = *p;
            x.committed_offset = *o;
            x.committed_leader_epoch = -1;
            x
        })
        .collect();
    req.topics.push(t);
    let resp = conn.call(&req, version).await.map_err(e)?;
    for t in resp.topics {
        for p in t.partitions {
            ErrorCode::check(p.error_code)
                .map_err(|code| format!("committing {topic}-{}: {code}", p.partition_index))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_checked_before_anything_is_sent() {
        assert_eq!(
            key_values("a=1\n\n b = 2 ", "c").expect("parses"),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert!(key_values("nokey", "Configs").is_err());
    }
}
