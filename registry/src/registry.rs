//! What the registry does, free of HTTP: register, look up, delete,
//! configure, check compatibility. Reads come from the in-memory
//! [`State`]; writes are records produced to the `_schemas` topic and
//! answered once read back (see [`crate::store::kafka`]).

use std::collections::HashSet;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::error::RegistryError;
use crate::schema::{Dependency, Parsed};
use crate::store::records::{ConfigValue, DeleteSubjectValue, MaxIdValue, ModeValue, SchemaValue};
use crate::store::{Content, KafkaStore, Key, State, Write};
use crate::types::{Compatibility, Mode, Reference, SchemaType};

/// A schema as a client sends it to be registered, looked up or checked.
#[derive(Debug, Clone)]
pub struct SchemaRequest {
    pub schema: String,
    pub schema_type: SchemaType,
    pub references: Vec<Reference>,
    /// IMPORT mode only: the id and version to register it under.
    pub id: Option<i32>,
    pub version: Option<i32>,
}

/// One version of one subject, with its schema.
#[derive(Debug, Clone)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub content: Content,
    pub deleted: bool,
}

/// A version as the REST API names it: a number or `latest` (also `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    pub fn parse(s: &str) -> Result<VersionSpec, RegistryError> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(VersionSpec::Latest);
        }
        match s.parse::<i32>() {
            Ok(-1) => Ok(VersionSpec::Latest),
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::InvalidVersion(s.to_string())),
        }
    }
}

pub struct Registry {
    store: KafkaStore,
    state: Arc<RwLock<State>>,
    /// `schema.compatibility.level`: the global level until one is set.
    default_compatibility: Compatibility,
    /// One write at a time: a write's id and version are chosen from the
    /// state, so the previous write must be in the state first. Held
    /// across the produce and read-back on purpose; reads never take it.
    writes: tokio::sync::Mutex<()>,
}

impl Registry {
    pub fn new(store: KafkaStore, default_compatibility: Compatibility) -> Registry {
        let state = store.state().clone();
        Registry {
            store,
            state,
            default_compatibility,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure every write acknowledged anywhere is in this instance's
    /// state: what a new leader does before it writes.
    pub async fn catch_up(&self) -> Result<(), RegistryError> {
        let _w = self.writes.lock().await;
        self.store.catch_up().await
    }

    // ---- reads ----

    pub fn subjects(&self, deleted: bool, prefix: &str) -> Vec<String> {
        self.state()
            .subjects(deleted)
            .into_iter()
            .filter(|s| s.starts_with(prefix))
            .collect()
    }

    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RegistryError> {
        let st = self.state();
        let vs = st
            .versions(subject, deleted)
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        Ok(vs.into_iter().map(|(n, _)| n).collect())
    }

    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        version_in(&self.state(), subject, spec, deleted)
    }

    pub fn schema(&self, id: i32) -> Result<Content, RegistryError> {
        self.state()
            .content(id)
            .cloned()
            .ok_or(RegistryError::SchemaIdNotFound(id))
    }

    /// `content` in the format a request asked for (`?format=serialized`
    /// for Protobuf); as stored for any other format or type, as Confluent
    /// ignores a format a type does not have.
    pub fn in_format(
        &self,
        mut content: Content,
        format: Option<&str>,
    ) -> Result<Content, RegistryError> {
        let Some(format) = format else {
            return Ok(content);
        };
        let st = self.state();
        let deps = dependencies(&st, &content.references)?;
        let parsed = Parsed::parse(content.schema_type, &content.text, &deps)?;
        if let Some(text) = parsed.in_format(format) {
            content.text = text;
        }
        Ok(content)
    }

    /// The (subject, version) pairs using an id.
    pub fn uses_of(&self, id: i32, deleted: bool) -> Result<Vec<(String, i32)>, RegistryError> {
        let st = self.state();
        if st.content(id).is_none() {
            return Err(RegistryError::SchemaIdNotFound(id));
        }
        Ok(st.uses_of(id, deleted))
    }

    /// Every live schema id, each with one of its subject versions.
    pub fn all_schemas(&self, prefix: &str, deleted: bool) -> Vec<SubjectVersion> {
        let st = self.state();
        let mut out = Vec::new();
        for subject in st.subjects(deleted) {
            if !subject.starts_with(prefix) {
                continue;
            }
            for (version, v) in st.versions(&subject, deleted).unwrap_or_default() {
                if let Some(content) = st.content(v.id) {
                    out.push(SubjectVersion {
                        subject: subject.clone(),
                        version,
                        id: v.id,
                        content: content.clone(),
                        deleted: v.deleted,
                    });
                }
            }
        }
        out
    }

    pub fn referenced_by(
        &self,
        subject: &str,
        spec: VersionSpec,
    ) -> Result<Vec<i32>, RegistryError> {
        let st = self.state();
        let v = version_in(&st, subject, spec, false)?;
        Ok(st.referenced_by(subject, v.version))
    }

    /// The schema's subject version, if the subject has it.
    pub fn lookup(
        &self,
        subject: &str,
        req: &SchemaRequest,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let st = self.state();
        if !st.subject_exists(subject) {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let (_, content) = parse_request(&st, req)?;
        let id = st.id_of(&content).ok_or(RegistryError::SchemaNotFound)?;
        let versions = st.versions(subject, deleted).unwrap_or_default();
        let (version, v) = versions
            .into_iter()
            .rev()
            .find(|(_, v)| v.id == id)
            .ok_or(RegistryError::SchemaNotFound)?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            content,
            deleted: v.deleted,
        })
    }

    pub fn compatibility(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Compatibility, RegistryError> {
        let st = self.state();
        match subject {
            None => Ok(st.compatibility(None).unwrap_or(self.default_compatibility)),
            Some(s) => match st.compatibility(Some(s)) {
                Some(level) => Ok(level),
                None if default_to_global => {
                    Ok(st.compatibility(None).unwrap_or(self.default_compatibility))
                }
                None => Err(RegistryError::SubjectCompatibilityNotConfigured(
                    s.to_string(),
                )),
            },
        }
    }

    fn effective_compatibility(&self, st: &State, subject: &str) -> Compatibility {
        st.compatibility(Some(subject))
            .or_else(|| st.compatibility(None))
            .unwrap_or(self.default_compatibility)
    }

    pub fn mode(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Mode, RegistryError> {
        let st = self.state();
        match subject {
            None => Ok(st.mode(None).unwrap_or(Mode::ReadWrite)),
            Some(s) => match st.mode(Some(s)) {
                Some(m) => Ok(m),
                None if default_to_global => Ok(st.mode(None).unwrap_or(Mode::ReadWrite)),
                None => Err(RegistryError::SubjectModeNotConfigured(s.to_string())),
            },
        }
    }

    /// What keeps `req` from being compatible with the subject's versions
    /// (one version, or all that the level asks for); empty when it is.
    pub fn check_compatibility(
        &self,
        subject: &str,
        spec: Option<VersionSpec>,
        req: &SchemaRequest,
    ) -> Result<Vec<String>, RegistryError> {
        let st = self.state();
        let (parsed, _) = parse_request(&st, req)?;
        let level = self.effective_compatibility(&st, subject);
        let against: Vec<SubjectVersion> = match spec {
            Some(spec) => {
                if !st.subject_exists(subject) && spec == VersionSpec::Latest {
                    // Nothing to be incompatible with.
                    return Ok(Vec::new());
                }
                vec![version_in(&st, subject, spec, false)?]
            }
            None => live_versions(&st, subject),
        };
        let against = if spec.is_none() && !level.transitive() {
            against.into_iter().last().into_iter().collect()
        } else {
            against
        };
        incompatibilities(&st, subject, &parsed, &against, level)
    }

    // ---- writes ----

    /// Registers a schema under a subject: its id (the existing one if the
    /// subject has the schema already, or another subject does).
    pub async fn register(&self, subject: &str, req: &SchemaRequest) -> Result<i32, RegistryError> {
        let _w = self.writes.lock().await;
        let (write, id) = {
            let st = self.state();
            let mode = st
                .mode(Some(subject))
                .or_else(|| st.mode(None))
                .unwrap_or(Mode::ReadWrite);
            if !mode.writable() {
                return Err(RegistryError::OperationNotPermitted(format!(
                    "Subject {subject} is in read-only mode"
                )));
            }
            let (parsed, content) = parse_request(&st, req)?;
            let existing = st.id_of(&content);
            if let Some(id) = existing {
                let live = st.versions(subject, false).unwrap_or_default();
                if live.iter().any(|(_, v)| v.id == id) && req.id.is_none_or(|want| want == id) {
                    return Ok(id);
                }
            }
            let (id, version) = if mode == Mode::Import {
                let id = req.id.ok_or_else(|| {
                    RegistryError::OperationNotPermitted(format!(
                        "Subject {subject} is in import mode: a schema id is required"
                    ))
                })?;
                if st.content(id).is_some_and(|c| *c != content) {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Overwrite new schema with id {id} is not permitted."
                    )));
                }
                (id, req.version.unwrap_or(st.max_version(subject) + 1))
            } else {
                if req.id.is_some() {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Subject {subject} is not in import mode"
                    )));
                }
                let level = self.effective_compatibility(&st, subject);
                let previous = live_versions(&st, subject);
                let previous = if level.transitive() {
                    previous
                } else {
                    previous.into_iter().last().into_iter().collect()
                };
                let problems = incompatibilities(&st, subject, &parsed, &previous, level)?;
                if !problems.is_empty() {
                    return Err(RegistryError::Incompatible {
                        subject: subject.to_string(),
                        details: problems,
                    });
                }
                let id = existing.unwrap_or(st.max_id() + 1);
                let version = req.version.unwrap_or(st.max_version(subject) + 1);
                (id, version)
            };
            let value = SchemaValue {
                subject: subject.to_string(),
                version,
                id,
                schema_type: content.schema_type.field(),
                references: content.references,
                schema: content.text,
                deleted: false,
            };
            (Write::new(&Key::schema(subject, version), Some(&value)), id)
        };
        self.store.write(&[write]).await?;
        Ok(id)
    }

    /// Deletes one version: soft (hidden, id kept) or, once soft-deleted,
    /// permanently. Returns the version number.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<i32, RegistryError> {
        let _w = self.writes.lock().await;
        let write = {
            let st = self.state();
            // A numbered version is found soft-deleted too, so deleting it
            // again says so (40406) rather than that it does not exist.
            let with_deleted = permanent || matches!(spec, VersionSpec::Number(_));
            let v = version_in(&st, subject, spec, with_deleted)?;
            if permanent && !v.deleted {
                return Err(RegistryError::VersionNotSoftDeleted(
                    subject.to_string(),
                    v.version,
                ));
            }
            if !permanent && v.deleted {
                return Err(RegistryError::VersionSoftDeleted(
                    subject.to_string(),
                    v.version,
                ));
            }
            if !st.referenced_by(subject, v.version).is_empty() {
                return Err(RegistryError::ReferenceExists {
                    subject: subject.to_string(),
                    version: v.version,
                });
            }
            let key = Key::schema(subject, v.version);
            if permanent {
                (vec![Write::tombstone(&key), high_water(&st)], v.version)
            } else {
                (
                    vec![Write::new(&key, Some(&schema_value(&v, true)))],
                    v.version,
                )
            }
        };
        self.store.write(&write.0).await?;
        Ok(write.1)
    }

    /// Deletes a subject: soft (every live version hidden) or, once soft
    /// deleted, permanently. Returns the versions deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, RegistryError> {
        let _w = self.writes.lock().await;
        let (writes, versions) = {
            let st = self.state();
            let all = st
                .versions(subject, true)
                .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
            let live: Vec<i32> = all
                .iter()
                .filter(|(_, v)| !v.deleted)
                .map(|(n, _)| *n)
                .collect();
            if permanent && !live.is_empty() {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
            }
            if !permanent && live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
            }
            let affected: Vec<i32> = if permanent {
                all.iter().map(|(n, _)| *n).collect()
            } else {
                live.clone()
            };
            for &n in &affected {
                if !st.referenced_by(subject, n).is_empty() {
                    return Err(RegistryError::ReferenceExists {
                        subject: subject.to_string(),
                        version: n,
                    });
                }
            }
            let mut writes = Vec::new();
            if permanent {
                writes.push(high_water(&st));
            }
            for &n in &affected {
                let key = Key::schema(subject, n);
                if permanent {
                    writes.push(Write::tombstone(&key));
                } else {
                    let v = version_in(&st, subject, VersionSpec::Number(n), true)?;
                    writes.push(Write::new(&key, Some(&schema_value(&v, true))));
                }
            }
            if !permanent {
                let latest = affected.last().copied().unwrap_or(0);
                writes.push(Write::new(
                    &Key::DeleteSubject {
                        subject: subject.to_string(),
                        magic: 0,
                    },
                    Some(&DeleteSubjectValue {
                        subject: subject.to_string(),
                        version: latest,
                    }),
                ));
                // A deleted subject's own level and mode go with it.
                if st.compatibility(Some(subject)).is_some() {
                    writes.push(Write::tombstone(&Key::config(Some(subject))));
                }
                if st.mode(Some(subject)).is_some() {
                    writes.push(Write::tombstone(&Key::mode(Some(subject))));
                }
            }
            (writes, affected)
        };
        self.store.write(&writes).await?;
        Ok(versions)
    }

    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<(), RegistryError> {
        let _w = self.writes.lock().await;
        let value = ConfigValue {
            compatibility_level: Some(level.name().to_string()),
        };
        self.store
            .write(&[Write::new(&Key::config(subject), Some(&value))])
            .await
    }

    /// Removes a subject's own level (or resets the global one); returns
    /// the level it had.
    pub async fn delete_compatibility(
        &self,
        subject: Option<&str>,
    ) -> Result<Compatibility, RegistryError> {
        let _w = self.writes.lock().await;
        let previous = {
            let st = self.state();
            if let Some(s) = subject {
                if !st.subject_exists(s) && st.compatibility(Some(s)).is_none() {
                    return Err(RegistryError::SubjectNotFound(s.to_string()));
                }
            }
            st.compatibility(subject)
                .or_else(|| st.compatibility(None))
                .unwrap_or(self.default_compatibility)
        };
        self.store
            .write(&[Write::tombstone(&Key::config(subject))])
            .await?;
        Ok(previous)
    }

    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<(), RegistryError> {
        let _w = self.writes.lock().await;
        if mode == Mode::Import && !force {
            let st = self.state();
            let has_schemas = match subject {
                None => !st.subjects(true).is_empty(),
                Some(s) => st.subject_exists(s),
            };
            if has_schemas {
                return Err(RegistryError::OperationNotPermitted(
                    "Cannot import since found existing subjects".into(),
                ));
            }
        }
        let value = ModeValue {
            mode: mode.name().to_string(),
        };
        self.store
            .write(&[Write::new(&Key::mode(subject), Some(&value))])
            .await
    }

    pub async fn delete_mode(&self, subject: &str) -> Result<Mode, RegistryError> {
        let _w = self.writes.lock().await;
        let previous = {
            let st = self.state();
            if !st.subject_exists(subject) && st.mode(Some(subject)).is_none() {
                return Err(RegistryError::SubjectNotFound(subject.to_string()));
            }
            st.mode(Some(subject))
                .or_else(|| st.mode(None))
                .unwrap_or(Mode::ReadWrite)
        };
        self.store
            .write(&[Write::tombstone(&Key::mode(Some(subject)))])
            .await?;
        Ok(previous)
    }
}

fn schema_value(v: &SubjectVersion, deleted: bool) -> SchemaValue {
    SchemaValue {
        subject: v.subject.clone(),
        version: v.version,
        id: v.id,
        schema_type: v.content.schema_type.field(),
        references: v.content.references.clone(),
        schema: v.content.text.clone(),
        deleted,
    }
}

fn version_in(
    st: &State,
    subject: &str,
    spec: VersionSpec,
    deleted: bool,
) -> Result<SubjectVersion, RegistryError> {
    let versions = st
        .versions(subject, deleted)
        .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
    let (version, v) = match spec {
        VersionSpec::Latest => versions.last().copied(),
        VersionSpec::Number(n) => versions.iter().find(|(m, _)| *m == n).copied(),
    }
    .ok_or_else(|| {
        RegistryError::VersionNotFound(match spec {
            VersionSpec::Latest => "latest".to_string(),
            VersionSpec::Number(n) => n.to_string(),
        })
    })?;
    let content = st
        .content(v.id)
        .cloned()
        .ok_or(RegistryError::SchemaIdNotFound(v.id))?;
    Ok(SubjectVersion {
        subject: subject.to_string(),
        version,
        id: v.id,
        content,
        deleted: v.deleted,
    })
}

/// The highest id allocated, written with every permanent delete: the
/// schema records it removes may be compacted away, and their ids must
/// never come back.
fn high_water(st: &State) -> Write {
    Write::new(
        &Key::noop(),
        Some(&MaxIdValue {
            max_id: st.max_id(),
        }),
    )
}

fn live_versions(st: &State, subject: &str) -> Vec<SubjectVersion> {
    st.versions(subject, false)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(n, _)| version_in(st, subject, VersionSpec::Number(n), false).ok())
        .collect()
}

/// Parses a requested schema against the state (its references must be
/// registered) and gives its canonical content.
fn parse_request(st: &State, req: &SchemaRequest) -> Result<(Parsed, Content), RegistryError> {
    let deps = dependencies(st, &req.references)?;
    let parsed = Parsed::parse(req.schema_type, &req.schema, &deps)?;
    let content = Content {
        schema_type: req.schema_type,
        text: parsed.canonical(),
        references: req.references.clone(),
    };
    Ok((parsed, content))
}

/// The texts of everything `refs` name, transitively, dependencies first.
fn dependencies(st: &State, refs: &[Reference]) -> Result<Vec<Dependency>, RegistryError> {
    fn visit(
        st: &State,
        r: &Reference,
        seen: &mut HashSet<(String, i32)>,
        out: &mut Vec<Dependency>,
    ) -> Result<(), RegistryError> {
        if !seen.insert((r.subject.clone(), r.version)) {
            return Ok(());
        }
        let spec = if r.version == -1 {
            VersionSpec::Latest
        } else {
            VersionSpec::Number(r.version)
        };
        let v = version_in(st, &r.subject, spec, false).map_err(|_| {
            RegistryError::InvalidSchema(format!(
                "Invalid schema: reference {} to subject {} version {} is not registered",
                r.name, r.subject, r.version
            ))
        })?;
        for inner in &v.content.references {
            visit(st, inner, seen, out)?;
        }
        out.push(Dependency {
            name: r.name.clone(),
            text: v.content.text,
        });
        Ok(())
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in refs {
        visit(st, r, &mut seen, &mut out)?;
    }
    Ok(out)
}

/// What keeps `new` from being compatible with each of `against` under
/// `level`, each problem followed by the version it concerns.
fn incompatibilities(
    st: &State,
    subject: &str,
    new: &Parsed,
    against: &[SubjectVersion],
    level: Compatibility,
) -> Result<Vec<String>, RegistryError> {
    if level == Compatibility::None {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for old in against {
        if old.content.schema_type != new.schema_type() {
            out.push(format!(
                "{{errorType:'TYPE_MISMATCH', description:'Incompatible schema type {} for subject {subject} version {} of type {}'}}",
                new.schema_type().name(),
                old.version,
                old.content.schema_type.name()
            ));
            continue;
        }
        let deps = dependencies(st, &old.content.references)?;
        let Ok(parsed_old) = Parsed::parse(old.content.schema_type, &old.content.text, &deps)
        else {
            continue;
        };
        let problems = new.incompatibilities(&parsed_old, level);
        if !problems.is_empty() {
            out.extend(problems);
            out.push(format!("{{oldSchemaVersion: {}}}", old.version));
            out.push(format!("{{oldSchema: '{}'}}", old.content.text));
        }
    }
    if !out.is_empty() {
        out.push(format!("{{compatibility: '{}'}}", level.name()));
    }
    Ok(out)
}
