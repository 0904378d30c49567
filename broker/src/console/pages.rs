//! The console's pages (GET) and the fragments their live parts re-fetch.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use bytes::Bytes;
use kafka_protocol::messages::FetchRequest;
use runnel_common::kafka::fetch::{self, FetchPosition, EARLIEST, FETCH_VERSIONS, LATEST};
use runnel_common::kafka::Batches;

use super::html::{self, esc, ids, live, page, table, url, Format, Notice};
use super::view::{ClusterView, TopicView};
use super::Console;
use crate::metadata::groups::{GroupRecordJson, OffsetJson};

type Params = Query<HashMap<String, String>>;

fn notice(q: &HashMap<String, String>) -> Notice {
    Notice::from_query(q.get("ok"), q.get("error"))
}

fn state(up: bool) -> String {
    if up {
        r#"<span class="up">up</span>"#.into()
    } else {
        r#"<span class="down">down</span>"#.into()
    }
}

// ---------------------------------------------------------------- overview

pub async fn overview(State(c): State<Arc<Console>>, Query(q): Params) -> Html<String> {
    let body = live("/fragment/overview", &overview_html(&c.view()));
    Html(page("Overview", &notice(&q), &body))
}

pub async fn overview_fragment(State(c): State<Arc<Console>>) -> Html<String> {
    Html(overview_html(&c.view()))
}

fn overview_html(v: &ClusterView) -> String {
    let mut out = String::new();
    if let Some(e) = &v.error {
        let _ = write!(out, r#"<p class="error">{}</p>"#, esc(e));
    }
    let up = v.brokers.iter().filter(|b| b.up).count();
    let partitions: usize = v.topics.values().map(|t| t.partitions.len()).sum();
    let _ = write!(
        out,
        r#"<div class="figures">
<span id="brokers-up">brokers up<b>{up} / {}</b></span>
<span id="controller">controller<b>{}</b></span>
<span id="urp">under-replicated<b>{}</b></span>
<span id="offline">offline partitions<b>{}</b></span>
<span id="rate">messages in /s<b>{:.0}</b></span>
<span id="bytes-in">bytes in /s<b>{}</b></span>
<span id="bytes-out">bytes out /s<b>{}</b></span>
<span>topics / partitions<b>{} / {partitions}</b></span>
</div>"#,
        v.brokers.len(),
        if v.controller >= 0 {
            format!("broker {}", v.controller)
        } else {
            "none".into()
        },
        v.under_replicated,
        v.offline,
        v.messages_in_per_sec,
        v.bytes_in_per_sec.map_or("-".into(), |b| format!("{b:.0}")),
        v.bytes_out_per_sec
            .map_or("-".into(), |b| format!("{b:.0}")),
        v.topics.len(),
    );
    out.push_str("<h2>Brokers</h2>");
    let rows: Vec<Vec<String>> = v
        .brokers
        .iter()
        .map(|b| {
            let leads = v
                .topics
                .values()
                .flat_map(|t| &t.partitions)
                .filter(|p| p.leader == b.id)
                .count();
            vec![
                b.id.to_string(),
                esc(&b.addr),
                state(b.up),
                if b.controller {
                    "controller".into()
                } else {
                    "broker".into()
                },
                leads.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        "brokers",
        &["id", "address", "state", "role", "leaderships"],
        &rows,
    ));
    out.push_str("<h2>Coord members</h2>");
    let rows: Vec<Vec<String>> = v
        .coord
        .iter()
        .map(|m| {
            let mode = if m.mode == "down" {
                state(false)
            } else {
                esc(&m.mode)
            };
            vec![esc(&m.addr), mode, esc(&m.zxid)]
        })
        .collect();
    out.push_str(&table("coord", &["address", "mode", "zxid"], &rows));
    out.push_str(r#"<h2>Latest events <a href="/timeline">(all)</a></h2>"#);
    out.push_str(&timeline_html(v, 10));
    out
}

// ---------------------------------------------------------------- timeline

pub async fn timeline(State(c): State<Arc<Console>>) -> Html<String> {
    let body = live("/fragment/timeline", &timeline_html(&c.view(), usize::MAX));
    Html(page("Failover timeline", &Notice::None, &body))
}

pub async fn timeline_fragment(State(c): State<Arc<Console>>) -> Html<String> {
    Html(timeline_html(&c.view(), usize::MAX))
}

fn timeline_html(v: &ClusterView, max: usize) -> String {
    if v.timeline.is_empty() {
        return r#"<p id="timeline-empty">Nothing has happened since the console started.</p>"#
            .into();
    }
    let rows: Vec<Vec<String>> = v
        .timeline
        .iter()
        .take(max)
        .map(|e| vec![html::time(e.at_ms), esc(e.kind), esc(&e.text)])
        .collect();
    table("timeline", &["time (UTC)", "what", "details"], &rows)
}

// ---------------------------------------------------------------- topics

pub async fn topics(State(c): State<Arc<Console>>, Query(q): Params) -> Html<String> {
    let mut body = live("/fragment/topics", &topics_html(&c.view()));
    body.push_str(
        r#"<h2>Create a topic</h2>
<form method="post" action="/topics" id="create-topic">
<label>name <input name="name" required></label>
<label>partitions <input name="partitions" value="1" size="4"></label>
<label>replication factor <input name="replication_factor" value="1" size="3"></label>
<label>configs (key=value per line) <textarea name="configs" rows="2" cols="30"></textarea></label>
<button type="submit">Create</button>
</form>"#,
    );
    Html(page("Topics", &notice(&q), &body))
}

pub async fn topics_fragment(State(c): State<Arc<Console>>) -> Html<String> {
    Html(topics_html(&c.view()))
}

fn topics_html(v: &ClusterView) -> String {
    let rows: Vec<Vec<String>> = v
        .topics
        .values()
        .map(|t| {
            let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
            let urp = t
                .partitions
                .iter()
                .filter(|p| p.isr.len() < p.replicas.len())
                .count();
            let offline = t.partitions.iter().filter(|p| !v.available(p)).count();
            let end: i64 = t.partitions.iter().filter_map(|p| p.end_offset).sum();
            vec![
                format!(r#"<a href="/topics/{}">{}</a>"#, url(&t.name), esc(&t.name)),
                t.partitions.len().to_string(),
                rf.to_string(),
                urp.to_string(),
                offline.to_string(),
                end.to_string(),
            ]
        })
        .collect();
    table(
        "topics",
        &[
            "topic",
            "partitions",
            "replication factor",
            "under-replicated",
            "offline",
            "sum of end offsets",
        ],
        &rows,
    )
}

/// A topic as the last poll saw it, or, for one created since (the page
/// a creation redirects to), as the cluster describes it now.
pub async fn topic_view(c: &Console, v: &ClusterView, name: &str) -> Option<TopicView> {
    if let Some(t) = v.topics.get(name) {
        return Some(t.clone());
    }
    let md = c.client.metadata(Some(&[name]), false).await.ok()?;
    let t = md.topics.get(name).filter(|t| t.error.is_none())?;
    Some(TopicView::from_metadata(t))
}

pub async fn topic(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Query(q): Params,
) -> Html<String> {
    let v = c.view();
    let Some(t) = topic_view(&c, &v, &topic).await else {
        let n = Notice::Error(format!("Topic {topic} does not exist."));
        return Html(page(
            "Topic",
            &n,
            r#"<p><a href="/topics">All topics</a></p>"#,
        ));
    };
    let t = &t;
    let src = format!("/fragment/topics/{}", url(&topic));
    let mut body = live(&src, &topic_html(&c, &v, t).await);
    let t_url = url(&topic);
    let options: String = t
        .partitions
        .iter()
        .map(|p| format!("<option>{}</option>", p.partition))
        .collect();
    let _ = write!(
        body,
        r#"<h2>Records</h2>
<form method="get" action="/topics/{t_url}/messages" id="browse">
<label>partition <select name="partition">{options}</select></label>
<label>from offset <input name="offset" size="8" placeholder="earliest"></label>
<label>or timestamp (ms) <input name="timestamp" size="14"></label>
<label>show <select name="format"><option>auto</option><option>text</option><option>json</option><option>hex</option></select></label>
<button type="submit">Browse</button>
</form>
<form method="post" action="/topics/{t_url}/produce" id="produce">
<label>partition <select name="partition">{options}</select></label>
<label>key <input name="key" size="10"></label>
<label>value <textarea name="value" rows="2" cols="30"></textarea></label>
<label>headers (k=v per line) <textarea name="headers" rows="2" cols="16"></textarea></label>
<button type="submit">Produce</button>
</form>
<h2>Change</h2>
<form method="post" action="/topics/{t_url}/partitions" id="add-partitions">
<label>partitions <input name="count" size="4" value="{}"></label>
<button type="submit">Set partition count</button>
</form>
<form method="post" action="/topics/{t_url}/config" id="alter-config">
<label>config <input name="name" size="22" placeholder="retention.ms"></label>
<label>value <input name="value" size="12"></label>
<button type="submit">Set (empty value: back to default)</button>
</form>
<form method="post" action="/topics/{t_url}/delete" id="delete-topic">
<label>type the topic's name to delete it <input name="confirm" size="16"></label>
<button type="submit">Delete topic</button>
</form>"#,
        t.partitions.len()
    );
    body.push_str("<h2>Configs</h2>");
    match c.client.describe_topic_configs(&topic).await {
        Ok(entries) => {
            let row = |e: &runnel_common::kafka::ConfigEntry| {
                vec![
                    esc(&e.name),
                    esc(e.value.as_deref().unwrap_or("")),
                    esc(&format!("{:?}", e.source)),
                ]
            };
            let set: Vec<Vec<String>> = entries
                .iter()
                .filter(|e| e.source == runnel_common::kafka::ConfigSource::DynamicTopic)
                .map(row)
                .collect();
            let all: Vec<Vec<String>> = entries.iter().map(row).collect();
            body.push_str(&table("configs", &["name", "value", "source"], &set));
            let _ = write!(
                body,
                "<details><summary>All {} configs</summary>{}</details>",
                all.len(),
                table("all-configs", &["name", "value", "source"], &all)
            );
        }
        Err(e) => {
            let _ = write!(
                body,
                r#"<p class="error">configs: {}</p>"#,
                esc(&e.to_string())
            );
        }
    }
    Html(page(&format!("Topic {topic}"), &notice(&q), &body))
}

pub async fn topic_fragment(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
) -> Html<String> {
    let v = c.view();
    match topic_view(&c, &v, &topic).await {
        Some(t) => Html(topic_html(&c, &v, &t).await),
        None => Html(format!(
            r#"<p class="error">Topic {} does not exist.</p>"#,
            esc(&topic)
        )),
    }
}

async fn topic_html(c: &Console, v: &ClusterView, t: &TopicView) -> String {
    let parts: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    let starts = c
        .client
        .list_offsets(&t.name, &parts, EARLIEST)
        .await
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = t
        .partitions
        .iter()
        .map(|p| {
            let leader = if p.leader < 0 {
                state(false)
            } else if !v.alive(p.leader) {
                format!(r#"{} <span class="down">(down)</span>"#, p.leader)
            } else {
                p.leader.to_string()
            };
            let start = starts.get(&p.partition).and_then(|r| r.as_ref().ok());
            vec![
                p.partition.to_string(),
                leader,
                p.leader_epoch.to_string(),
                ids(&p.replicas),
                ids(&p.isr),
                start.map_or("-".into(), i64::to_string),
                p.end_offset.map_or("-".into(), |e| e.to_string()),
            ]
        })
        .collect();
    table(
        "partitions",
        &[
            "partition",
            "leader",
            "leader epoch",
            "replicas",
            "isr",
            "log start",
            "log end",
        ],
        &rows,
    )
}

// ---------------------------------------------------------------- records

pub async fn messages(
    State(c): State<Arc<Console>>,
    Path(topic): Path<String>,
    Query(q): Params,
) -> Html<String> {
    let back = format!(
        r#"<p><a href="/topics/{}">Back to {}</a></p>"#,
        url(&topic),
        esc(&topic)
    );
    let title = format!("Records of {topic}");
    match read_records(&c, &topic, &q).await {
        Ok(body) => Html(page(&title, &Notice::None, &format!("{back}{body}"))),
        Err(e) => Html(page(&title, &Notice::Error(e), &back)),
    }
}

/// Up to `limit` records of one partition from an offset or a timestamp.
async fn read_records(
    c: &Console,
    topic: &str,
    q: &HashMap<String, String>,
) -> Result<String, String> {
    let v = c.view();
    let t = topic_view(c, &v, topic)
        .await
        .ok_or_else(|| format!("Topic {topic} does not exist."))?;
    let partition: i32 = q
        .get("partition")
        .map(|s| s.trim())
        .unwrap_or("0")
        .parse()
        .map_err(|_| "partition must be a number".to_string())?;
    let p = t
        .partitions
        .iter()
        .find(|p| p.partition == partition)
        .ok_or_else(|| {
            format!(
                "{topic} has no partition {partition} (it has {}).",
                t.partitions.len()
            )
        })?;
    let limit: usize = match q.get("limit").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse()
            .map_err(|_| "limit must be a number".to_string())?,
        None => 50,
    };
    let format = Format::parse(q.get("format").map(String::as_str));
    let earliest = c
        .client
        .list_offsets(topic, &[partition], EARLIEST)
        .await
        .map_err(|e| e.to_string())?
        .remove(&partition)
        .and_then(Result::ok)
        .unwrap_or(0);
    let end = c
        .client
        .list_offsets(topic, &[partition], LATEST)
        .await
        .map_err(|e| e.to_string())?
        .remove(&partition)
        .and_then(Result::ok)
        .or(p.end_offset)
        .unwrap_or(0);
    let offset_field = q.get("offset").map(|s| s.trim()).filter(|s| !s.is_empty());
    let ts_field = q
        .get("timestamp")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let from = match (offset_field, ts_field) {
        (Some(o), _) => {
            let o: i64 = o
                .parse()
                .map_err(|_| format!("offset {o:?} is not a number"))?;
            if o < earliest || o > end {
                return Err(format!(
                    "Offset {o} is out of range: {topic}-{partition} holds offsets {earliest} to {}.",
                    end - 1
                ));
            }
            o
        }
        (None, Some(ts)) => {
            let ts: i64 = ts
                .parse()
                .map_err(|_| format!("timestamp {ts:?} is not milliseconds since the epoch"))?;
            c.client
                .list_offsets(topic, &[partition], ts)
                .await
                .map_err(|e| e.to_string())?
                .remove(&partition)
                .and_then(Result::ok)
                .filter(|o| *o >= 0)
                .unwrap_or(end)
        }
        (None, None) => earliest,
    };
    let mut rows = Vec::new();
    let mut next = from;
    while rows.len() < limit && next < end {
        let records = fetch_from(c, topic, partition, p.leader, next).await?;
        if records.is_empty() {
            break;
        }
        for r in records {
            if r.offset < next || rows.len() >= limit {
                continue;
            }
            next = r.offset + 1;
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("{}={}", esc(k), html::bytes(v.as_deref(), Format::Text)))
                .collect();
            rows.push(vec![
                r.offset.to_string(),
                html::time(r.timestamp),
                html::bytes(r.key.as_deref(), format),
                html::bytes(r.value.as_deref(), format),
                headers.join("<br>"),
            ]);
        }
    }
    let mut out = format!(
        "<p>{topic}-{partition}: offsets {earliest} to {}; showing {} from offset {from}.</p>",
        end - 1,
        rows.len(),
        topic = esc(topic),
    );
    out.push_str(&table(
        "records",
        &["offset", "timestamp (UTC)", "key", "value", "headers"],
        &rows,
    ));
    if next < end {
        let _ = write!(
            out,
            r#"<p><a id="next" href="/topics/{}/messages?partition={partition}&offset={next}&format={}">Next records</a></p>"#,
            url(topic),
            q.get("format").map_or("auto".into(), |f| url(f))
        );
    }
    Ok(out)
}

async fn fetch_from(
    c: &Console,
    topic: &str,
    partition: i32,
    leader: i32,
    offset: i64,
) -> Result<Vec<runnel_common::kafka::Record>, String> {
    if leader < 0 {
        return Err(format!("{topic}-{partition} has no leader right now."));
    }
    let conn = c.client.node(leader).await.map_err(|e| e.to_string())?;
    let version = conn
        .version::<FetchRequest>(FETCH_VERSIONS)
        .map_err(|e| e.to_string())?;
    let pos = FetchPosition {
        partition,
        offset,
        max_bytes: 1 << 20,
    };
    let req = fetch::request(topic, &[pos], 0, 1, 4 << 20);
    let resp = conn.call(&req, version).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for part in fetch::partitions(resp).map_err(|e| e.to_string())? {
        if let Some(code) = part.error {
            return Err(format!("fetch from {topic}-{partition}: {code}"));
        }
        let data: Bytes = part.records;
        for batch in Batches::new(data) {
            let Ok(batch) = batch else { break };
            if batch.header.is_control() {
                continue;
            }
            out.extend(batch.records().map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- groups

/// A group as coord keeps it: its record and committed offsets.
pub struct GroupView {
    pub name: String,
    pub record: Option<GroupRecordJson>,
    pub offsets: BTreeMap<(String, i32), i64>,
}

impl GroupView {
    /// Kafka's state names, as far as coord tells: members of the last
    /// generation means Stable, none Empty.
    pub fn state(&self) -> &'static str {
        match &self.record {
            Some(r) if !r.members.is_empty() => "Stable",
            _ => "Empty",
        }
    }

    /// Lag per partition from the console's end offsets.
    pub fn lag(&self, v: &ClusterView, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        v.topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)?
            .end_offset
            .map(|e| (e - offset).max(0))
    }
}

async fn group_names(c: &Console) -> Result<Vec<String>, String> {
    let zk = c.zk().await.map_err(|e| e.to_string())?;
    let path = format!("{}/consumers", c.chroot);
    match zk.list_children(&path).await {
        Ok(mut names) => {
            names.sort();
            Ok(names)
        }
        Err(zookeeper_client::Error::NoNode) => Ok(Vec::new()),
        Err(e) => Err(format!("reading {path}: {e}")),
    }
}

pub async fn load_group(c: &Console, name: &str) -> Result<Option<GroupView>, String> {
    let zk = c.zk().await.map_err(|e| e.to_string())?;
    let base = format!("{}/consumers/{name}", c.chroot);
    let record = match zk.get_data(&base).await {
        Ok((data, _)) => serde_json::from_slice::<GroupRecordJson>(&data).ok(),
        Err(zookeeper_client::Error::NoNode) => return Ok(None),
        Err(e) => return Err(format!("reading {base}: {e}")),
    };
    let mut offsets = BTreeMap::new();
    let topics = match zk.list_children(&format!("{base}/offsets")).await {
        Ok(t) => t,
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => return Err(format!("reading {base}/offsets: {e}")),
    };
    for topic in topics {
        let tpath = format!("{base}/offsets/{topic}");
        let parts = zk.list_children(&tpath).await.unwrap_or_default();
        for p in parts {
            let Ok(partition) = p.parse::<i32>() else {
                continue;
            };
            if let Ok((data, _)) = zk.get_data(&format!("{tpath}/{p}")).await {
                if let Ok(o) = serde_json::from_slice::<OffsetJson>(&data) {
                    offsets.insert((topic.clone(), partition), o.offset);
                }
            }
        }
    }
    Ok(Some(GroupView {
        name: name.to_string(),
        record,
        offsets,
    }))
}

pub async fn groups(State(c): State<Arc<Console>>, Query(q): Params) -> Html<String> {
    let body = live("/fragment/groups", &groups_html(&c).await);
    Html(page("Consumer groups", &notice(&q), &body))
}

pub async fn groups_fragment(State(c): State<Arc<Console>>) -> Html<String> {
    Html(groups_html(&c).await)
}

async fn groups_html(c: &Console) -> String {
    let names = match group_names(c).await {
        Ok(n) => n,
        Err(e) => return format!(r#"<p class="error">{}</p>"#, esc(&e)),
    };
    let v = c.view();
    let mut rows = Vec::new();
    for name in names {
        let Ok(Some(g)) = load_group(c, &name).await else {
            continue;
        };
        let lag: i64 = g
            .offsets
            .iter()
            .filter_map(|((t, p), o)| g.lag(&v, t, *p, *o))
            .sum();
        rows.push(vec![
            format!(r#"<a href="/groups/{}">{}</a>"#, url(&name), esc(&name)),
            g.state().into(),
            g.record.as_ref().map_or(0, |r| r.members.len()).to_string(),
            g.offsets.len().to_string(),
            lag.to_string(),
        ]);
    }
    table(
        "groups",
        &[
            "group",
            "state",
            "members",
            "partitions committed",
            "total lag",
        ],
        &rows,
    )
}

pub async fn group(
    State(c): State<Arc<Console>>,
    Path(group): Path<String>,
    Query(q): Params,
) -> Html<String> {
    let src = format!("/fragment/groups/{}", url(&group));
    let mut body = live(&src, &group_html(&c, &group).await);
    let _ = write!(
        body,
        r#"<h2>Reset offsets</h2>
<p>Only while the group has no members, as kafka-consumer-groups.sh --reset-offsets.</p>
<form method="post" action="/groups/{}/reset" id="reset-offsets">
<label>topic <input name="topic" size="16"></label>
<label>to <select name="to"><option>earliest</option><option>latest</option><option>offset</option></select></label>
<label>offset <input name="offset" size="8"></label>
<button type="submit">Reset</button>
</form>"#,
        url(&group)
    );
    Html(page(&format!("Consumer group {group}"), &notice(&q), &body))
}

pub async fn group_fragment(
    State(c): State<Arc<Console>>,
    Path(group): Path<String>,
) -> Html<String> {
    Html(group_html(&c, &group).await)
}

async fn group_html(c: &Console, name: &str) -> String {
    let g = match load_group(c, name).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return format!(
                r#"<p class="error">Consumer group {} does not exist.</p>"#,
                esc(name)
            )
        }
        Err(e) => return format!(r#"<p class="error">{}</p>"#, esc(&e)),
    };
    let v = c.view();
    let mut out = format!(
        r#"<p>State <b id="group-state">{}</b>, generation {}, protocol {}.</p>"#,
        g.state(),
        g.record.as_ref().map_or(-1, |r| r.generation),
        esc(g
            .record
            .as_ref()
            .and_then(|r| r.protocol.as_deref())
            .unwrap_or("-")),
    );
    out.push_str("<h2>Members</h2>");
    let rows: Vec<Vec<String>> = g
        .record
        .iter()
        .flat_map(|r| &r.members)
        .map(|m| vec![esc(&m.member_id), esc(&m.client_id), esc(&m.client_host)])
        .collect();
    out.push_str(&table(
        "members",
        &["member id", "client id", "host"],
        &rows,
    ));
    out.push_str("<h2>Offsets</h2>");
    let rows: Vec<Vec<String>> = g
        .offsets
        .iter()
        .map(|((t, p), o)| {
            let end = v
                .topics
                .get(t)
                .and_then(|tv| tv.partitions.iter().find(|x| x.partition == *p))
                .and_then(|x| x.end_offset);
            vec![
                esc(t),
                p.to_string(),
                o.to_string(),
                end.map_or("-".into(), |e| e.to_string()),
                g.lag(&v, t, *p, *o).map_or("-".into(), |l| l.to_string()),
            ]
        })
        .collect();
    out.push_str(&table(
        "offsets",
        &[
            "topic",
            "partition",
            "current offset",
            "log end offset",
            "lag",
        ],
        &rows,
    ));
    out
}

// ---------------------------------------------------------------- coord tree

pub async fn coord(State(c): State<Arc<Console>>, Query(q): Params) -> Html<String> {
    let path = q.get("path").map_or("/", String::as_str).to_string();
    let title = "Coord tree";
    if !path.starts_with('/') || (path.len() > 1 && path.ends_with('/')) || path.contains("//") {
        let n = Notice::Error(format!(
            "Path {path:?} is not a znode path (absolute, no trailing slash)."
        ));
        return Html(page(title, &n, r#"<p><a href="/coord">/</a></p>"#));
    }
    let zk = match c.zk().await {
        Ok(z) => z,
        Err(e) => return Html(page(title, &Notice::Error(e.to_string()), "")),
    };
    let (data, stat) = match zk.get_data(&path).await {
        Ok(d) => d,
        Err(zookeeper_client::Error::NoNode) => {
            let n = Notice::Error(format!("No znode at {path}."));
            return Html(page(title, &n, r#"<p><a href="/coord">/</a></p>"#));
        }
        Err(e) => return Html(page(title, &Notice::Error(format!("{path}: {e}")), "")),
    };
    let mut children = zk.list_children(&path).await.unwrap_or_default();
    children.sort();
    let mut crumbs = String::from(r#"<p id="crumbs"><a href="/coord">/</a>"#);
    let mut so_far = String::new();
    for part in path.split('/').filter(|s| !s.is_empty()) {
        so_far.push('/');
        so_far.push_str(part);
        let _ = write!(
            crumbs,
            r#" <a href="/coord?path={}">{}</a> /"#,
            url(&so_far),
            esc(part)
        );
    }
    crumbs.push_str("</p>");
    let child = |name: &str| {
        if path == "/" {
            format!("/{name}")
        } else {
            format!("{path}/{name}")
        }
    };
    let rows: Vec<Vec<String>> = children
        .iter()
        .map(|n| {
            vec![format!(
                r#"<a href="/coord?path={}">{}</a>"#,
                url(&child(n)),
                esc(n)
            )]
        })
        .collect();
    let stat_rows = vec![
        vec!["czxid".into(), format!("{:#x}", stat.czxid)],
        vec!["mzxid".into(), format!("{:#x}", stat.mzxid)],
        vec!["ctime".into(), html::time(stat.ctime)],
        vec!["mtime".into(), html::time(stat.mtime)],
        vec!["version".into(), stat.version.to_string()],
        vec!["cversion".into(), stat.cversion.to_string()],
        vec![
            "ephemeralOwner".into(),
            format!("{:#x}", stat.ephemeral_owner),
        ],
        vec!["dataLength".into(), stat.data_length.to_string()],
        vec!["numChildren".into(), stat.num_children.to_string()],
    ];
    let body = format!(
        "{crumbs}<h2>Data</h2><div id=\"data\">{}</div><h2>Stat</h2>{}<h2>Children ({})</h2>{}",
        html::bytes(Some(&data), Format::Auto),
        table("stat", &["field", "value"], &stat_rows),
        children.len(),
        table("children", &["znode"], &rows),
    );
    Html(page(title, &Notice::None, &body))
}
