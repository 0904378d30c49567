//! What the `_schemas` topic says, folded into maps: every registry
//! instance applies the same records in the same order and so holds the
//! same state. Nothing here does I/O.

use std::collections::{BTreeMap, HashMap};

use super::records::{ConfigValue, DeleteSubjectValue, Key, MaxIdValue, ModeValue, SchemaValue};
use crate::types::{Compatibility, Mode, Reference, SchemaType};

/// A schema's content: what gets one id however many subjects use it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Content {
    pub schema_type: SchemaType,
    /// Canonical text (see [`crate::schema::Parsed::canonical`]).
    pub text: String,
    pub references: Vec<Reference>,
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub id: i32,
    pub deleted: bool,
}

#[derive(Debug, Default)]
pub struct State {
    subjects: BTreeMap<String, BTreeMap<i32, Version>>,
    by_id: HashMap<i32, Content>,
    /// How many versions (soft-deleted ones too) use each id.
    uses: HashMap<i32, usize>,
    ids: HashMap<Content, i32>,
    /// The highest id ever read: a leader allocates above it.
    max_id: i32,
    /// Compatibility levels; `None` is the global one.
    configs: HashMap<Option<String>, Compatibility>,
    modes: HashMap<Option<String>, Mode>,
}

impl State {
    /// Applies one record of the topic. Records this version cannot read
    /// are logged and skipped: the topic may have been written by a newer
    /// registry.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let key: Key = match serde_json::from_slice(key) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, key = %String::from_utf8_lossy(key), "skipping a _schemas record with an unreadable key");
                return;
            }
        };
        if let Err(e) = self.apply_key(key, value) {
            tracing::warn!(error = %e, "skipping a _schemas record with an unreadable value");
        }
    }

    fn apply_key(&mut self, key: Key, value: Option<&[u8]>) -> Result<(), serde_json::Error> {
        match (key, value) {
            (
                Key::Schema {
                    subject, version, ..
                },
                Some(v),
            ) => {
                let v: SchemaValue = serde_json::from_slice(v)?;
                let Ok(schema_type) = SchemaType::parse(v.schema_type.as_deref()) else {
                    tracing::warn!(subject, version, "skipping a schema of an unknown type");
                    return Ok(());
                };
                let content = Content {
                    schema_type,
                    text: v.schema,
                    references: v.references,
                };
                self.remove_version(&subject, version);
                self.max_id = self.max_id.max(v.id);
                *self.uses.entry(v.id).or_default() += 1;
                self.ids.entry(content.clone()).or_insert(v.id);
                self.by_id.entry(v.id).or_insert(content);
                self.subjects.entry(subject).or_default().insert(
                    version,
                    Version {
                        id: v.id,
                        deleted: v.deleted,
                    },
                );
            }
            (
                Key::Schema {
                    subject, version, ..
                },
                None,
            ) => self.remove_version(&subject, version),
            (Key::Config { subject, .. }, value) => {
                let level = match value {
                    Some(v) => serde_json::from_slice::<ConfigValue>(v)?.compatibility_level,
                    None => None,
                };
                match level.and_then(|l| Compatibility::parse(&l).ok()) {
                    Some(l) => self.configs.insert(subject, l),
                    None => self.configs.remove(&subject),
                };
            }
            (Key::Mode { subject, .. }, value) => {
                let mode = match value {
                    Some(v) => Mode::parse(&serde_json::from_slice::<ModeValue>(v)?.mode).ok(),
                    None => None,
                };
                match mode {
                    Some(m) => self.modes.insert(subject, m),
                    None => self.modes.remove(&subject),
                };
            }
            (Key::DeleteSubject { subject, .. }, Some(v)) => {
                let v: DeleteSubjectValue = serde_json::from_slice(v)?;
                if let Some(versions) = self.subjects.get_mut(&subject) {
                    for (_, ver) in versions.range_mut(..=v.version) {
                        ver.deleted = true;
                    }
                }
            }
            (Key::ClearSubject { subject, .. }, Some(_)) => {
                let deleted: Vec<i32> = self
                    .subjects
                    .get(&subject)
                    .map(|vs| {
                        vs.iter()
                            .filter(|(_, v)| v.deleted)
                            .map(|(n, _)| *n)
                            .collect()
                    })
                    .unwrap_or_default();
                for version in deleted {
                    self.remove_version(&subject, version);
                }
            }
            // Another registry's no-op value is not ours to read: skipped.
            (Key::Noop { .. }, Some(v)) => {
                if let Ok(m) = serde_json::from_slice::<MaxIdValue>(v) {
                    self.max_id = self.max_id.max(m.max_id);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(old) = versions.remove(&version) else {
            return;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let uses = self.uses.entry(old.id).or_default();
        *uses = uses.saturating_sub(1);
        if *uses == 0 {
            self.uses.remove(&old.id);
            if let Some(content) = self.by_id.remove(&old.id) {
                self.ids.remove(&content);
            }
        }
    }

    /// Subject names, soft-deleted subjects (all versions deleted) only
    /// with `deleted`.
    pub fn subjects(&self, deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, vs)| deleted || vs.values().any(|v| !v.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// A subject's versions in order; `None` when it has none (or, without
    /// `deleted`, only soft-deleted ones).
    pub fn versions(&self, subject: &str, deleted: bool) -> Option<Vec<(i32, Version)>> {
        let vs: Vec<(i32, Version)> = self
            .subjects
            .get(subject)?
            .iter()
            .filter(|(_, v)| deleted || !v.deleted)
            .map(|(n, v)| (*n, *v))
            .collect();
        (!vs.is_empty()).then_some(vs)
    }

    /// Whether the subject has any version at all, soft-deleted ones too.
    pub fn subject_exists(&self, subject: &str) -> bool {
        self.subjects.contains_key(subject)
    }

    pub fn version(&self, subject: &str, version: i32) -> Option<Version> {
        self.subjects.get(subject)?.get(&version).copied()
    }

    /// The highest version number the subject ever had that is still in
    /// the topic: a new version is one above it.
    pub fn max_version(&self, subject: &str) -> i32 {
        self.subjects
            .get(subject)
            .and_then(|vs| vs.keys().next_back().copied())
            .unwrap_or(0)
    }

    pub fn content(&self, id: i32) -> Option<&Content> {
        self.by_id.get(&id)
    }

    pub fn id_of(&self, content: &Content) -> Option<i32> {
        self.ids.get(content).copied()
    }

    pub fn max_id(&self) -> i32 {
        self.max_id
    }

    /// Every (subject, version) using an id.
    pub fn uses_of(&self, id: i32, deleted: bool) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (subject, vs) in &self.subjects {
            for (n, v) in vs {
                if v.id == id && (deleted || !v.deleted) {
                    out.push((subject.clone(), *n));
                }
            }
        }
        out
    }

    /// Ids of the live versions whose schemas reference `subject` `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| !v.deleted)
            .map(|v| v.id)
            .filter(|id| {
                self.by_id.get(id).is_some_and(|c| {
                    c.references
                        .iter()
                        .any(|r| r.subject == subject && r.version == version)
                })
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Every schema id in use, in order.
    pub fn ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.by_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub fn compatibility(&self, subject: Option<&str>) -> Option<Compatibility> {
        self.configs.get(&subject.map(str::to_string)).copied()
    }

    pub fn mode(&self, subject: Option<&str>) -> Option<Mode> {
        self.modes.get(&subject.map(str::to_string)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Write;

    fn schema(state: &mut State, subject: &str, version: i32, id: i32, deleted: bool) {
        let w = Write::new(
            &Key::schema(subject, version),
            Some(&SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: None,
                references: vec![],
                schema: format!("\"s{id}\""),
                deleted,
            }),
        );
        state.apply(&w.key, w.value.as_deref());
    }

    #[test]
    fn soft_deleted_versions_are_hidden_but_keep_their_id() {
        let mut s = State::default();
        schema(&mut s, "a", 1, 1, false);
        schema(&mut s, "a", 2, 2, false);
        schema(&mut s, "a", 2, 2, true);
        assert_eq!(s.versions("a", false).unwrap().len(), 1);
        assert_eq!(s.versions("a", true).unwrap().len(), 2);
        assert!(s.content(2).is_some());
        assert_eq!(s.max_version("a"), 2);
    }

    #[test]
    fn a_tombstone_removes_a_version_and_its_unused_id() {
        let mut s = State::default();
        schema(&mut s, "a", 1, 1, true);
        schema(&mut s, "b", 1, 1, false);
        let t = Write::tombstone(&Key::schema("a", 1));
        s.apply(&t.key, None);
        assert!(!s.subject_exists("a"));
        assert!(s.content(1).is_some(), "b still uses id 1");
        let t = Write::tombstone(&Key::schema("b", 1));
        s.apply(&t.key, None);
        assert!(s.content(1).is_none());
        assert_eq!(
            s.max_id(),
            1,
            "ids are never handed out twice by one process"
        );
    }

    #[test]
    fn the_high_water_mark_outlives_compacted_schemas() {
        // What a restarted instance reads once compaction removed a
        // permanently deleted id 7's records: only the no-op high water.
        let mut s = State::default();
        schema(&mut s, "a", 1, 3, false);
        let w = Write::new(&Key::noop(), Some(&MaxIdValue { max_id: 7 }));
        s.apply(&w.key, w.value.as_deref());
        assert_eq!(s.max_id(), 7);
        // Confluent's own no-op records carry no such value: skipped.
        s.apply(&w.key, Some(b"null"));
        s.apply(&w.key, None);
        assert_eq!(s.max_id(), 7);
    }

    #[test]
    fn configs_and_garbage() {
        let mut s = State::default();
        let w = Write::new(
            &Key::config(Some("a")),
            Some(&ConfigValue {
                compatibility_level: Some("FULL".into()),
            }),
        );
        s.apply(&w.key, w.value.as_deref());
        s.apply(b"not json", Some(b"{}"));
        s.apply(
            br#"{"keytype":"SCHEMA","subject":"x","version":1,"magic":1}"#,
            Some(b"[1]"),
        );
        assert_eq!(s.compatibility(Some("a")), Some(Compatibility::Full));
        assert_eq!(s.compatibility(None), None);
        assert!(!s.subject_exists("x"));
    }
}
