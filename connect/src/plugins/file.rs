//! Kafka's file connectors.
//!
//! `FileStreamSource` tails a file: each complete line becomes a record
//! (a STRING value, no key) with Kafka's source partition
//! `{"filename": <file>}` and offset `{"position": <byte after the line>}`,
//! so a restarted task goes on from the stored position. A line still
//! being written (no newline yet) waits for its newline.
//!
//! `FileStreamSink` appends each record's value as a line (the value's
//! text, as Kafka's task prints it) to `file`, or to standard output when
//! no file is set; its flush runs before the worker commits offsets.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use serde_json::{json, Value};

use super::{checked, def, Check, Config, ConfigDef, ConfigType};
use crate::data::SchemaAndValue;
use crate::runtime::{SinkRecord, SourceRecord, TaskError};

pub(super) static SOURCE_DEFS: &[ConfigDef] = &[
    def(
        "file",
        ConfigType::String,
        None,
        false,
        "Source filename. If not specified, the standard input will be used",
    ),
    checked(
        def("topic", ConfigType::String, None, true, "The topic to publish data to"),
        Check::NonEmpty,
    ),
    checked(
        def(
            "batch.size",
            ConfigType::Int,
            Some("2000"),
            false,
            "The maximum number of records the source task can read from the file each time it is polled",
        ),
        Check::AtLeast(1),
    ),
];

pub(super) static SINK_DEFS: &[ConfigDef] = &[def(
    "file",
    ConfigType::String,
    None,
    false,
    "Destination filename. If not specified, the standard output will be used",
)];

/// The most bytes one poll reads.
const READ_CHUNK: usize = 1 << 20;

pub struct FileSourceTask {
    path: PathBuf,
    /// `file` as configured: the source partition's `filename`.
    filename: String,
    topic: String,
    batch_size: usize,
    /// The byte after the last line emitted.
    position: u64,
    file: Option<File>,
    /// Whether "file not found" was already logged.
    warned_missing: bool,
}

impl FileSourceTask {
    /// A task reading from the stored offset of `{"filename": file}`.
    pub fn new(config: &Config, stored: Option<Value>) -> Result<FileSourceTask, TaskError> {
        let Some(path) = config.get("file").filter(|f| !f.is_empty()) else {
            return Err(TaskError::Config(
                "reading standard input is not supported by this worker; set \"file\"".into(),
            ));
        };
        let position = match &stored {
            None => 0,
            Some(offset) => offset
                .get("position")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    TaskError::Config(format!("stored offset {offset} has no \"position\""))
                })?,
        };
        if position > 0 {
            tracing::info!(file = %path, position, "resuming the file from its stored offset");
        }
        Ok(FileSourceTask {
            path: PathBuf::from(path),
            filename: path.clone(),
            topic: config.get("topic").cloned().unwrap_or_default(),
            batch_size: super::int(config, "batch.size", 2000).max(1) as usize,
            position,
            file: None,
            warned_missing: false,
        })
    }

    /// The source partition this task's offsets are stored under.
    pub fn partition(config: &Config) -> Value {
        json!({"filename": config.get("file").cloned().unwrap_or_default()})
    }

    /// The complete lines written since the last poll (at most
    /// `batch.size`), none when there are none yet.
    pub fn poll(&mut self) -> Result<Vec<SourceRecord>, TaskError> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if !self.warned_missing {
                        tracing::warn!(file = %self.path.display(), "couldn't find the file; waiting for it");
                        self.warned_missing = true;
                    }
                    return Ok(Vec::new());
                }
                Err(e) => {
                    return Err(TaskError::Io(format!(
                        "cannot open {}: {e}",
                        self.path.display()
                    )))
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let io = |e: std::io::Error| TaskError::Io(format!("reading {}: {e}", self.path.display()));
        file.seek(SeekFrom::Start(self.position)).map_err(io)?;
        let mut buf = Vec::new();
        file.take(READ_CHUNK as u64)
            .read_to_end(&mut buf)
            .map_err(io)?;
        let partition = json!({"filename": self.filename});
        let mut records = Vec::new();
        let mut start = 0usize;
        while records.len() < self.batch_size {
            let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let mut line = &buf[start..start + nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            start += nl + 1;
            let position = self.position + start as u64;
            records.push(SourceRecord {
                headers: Vec::new(),
                partition: partition.clone(),
                offset: json!({"position": position}),
                topic: self.topic.clone(),
                key: SchemaAndValue::NULL,
                value: SchemaAndValue::string(String::from_utf8_lossy(line).into_owned()),
            });
        }
        self.position += start as u64;
        Ok(records)
    }
}

pub struct FileSinkTask {
    out: Box<dyn Write + Send>,
    what: String,
}

impl FileSinkTask {
    pub fn new(config: &Config) -> Result<FileSinkTask, TaskError> {
        match config.get("file").filter(|f| !f.is_empty()) {
            None => Ok(FileSinkTask {
                out: Box::new(std::io::stdout()),
                what: "standard output".into(),
            }),
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| TaskError::Io(format!("cannot open {path} for appending: {e}")))?;
                Ok(FileSinkTask {
                    out: Box::new(BufWriter::new(f)),
                    what: path.clone(),
                })
            }
        }
    }

    pub fn put(&mut self, records: &[SinkRecord]) -> Result<(), TaskError> {
        for r in records {
            let line = r.value.value.to_text();
            self.out
                .write_all(line.as_bytes())
                .and_then(|()| self.out.write_all(b"\n"))
                .map_err(|e| TaskError::Io(format!("writing {}: {e}", self.what)))?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), TaskError> {
        self.out
            .flush()
            .map_err(|e| TaskError::Io(format!("flushing {}: {e}", self.what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Data;

    #[test]
    fn source_emits_complete_lines_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "one\r\ntwo\nthr").unwrap();
        let config: Config = [
            ("file".to_string(), path.display().to_string()),
            ("topic".to_string(), "t".to_string()),
            ("batch.size".to_string(), "1".to_string()),
        ]
        .into_iter()
        .collect();
        let mut task = FileSourceTask::new(&config, None).unwrap();
        let r = task.poll().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].value.value, Data::String("one".into()));
        assert_eq!(r[0].offset, json!({"position": 5}));
        assert_eq!(
            r[0].partition,
            json!({"filename": path.display().to_string()})
        );
        let r = task.poll().unwrap();
        assert_eq!((r.len(), &r[0].offset), (1, &json!({"position": 9})));
        assert!(task.poll().unwrap().is_empty());
        std::fs::write(&path, "one\r\ntwo\nthree\n").unwrap();
        let mut resumed = FileSourceTask::new(&config, Some(json!({"position": 9}))).unwrap();
        let r = resumed.poll().unwrap();
        assert_eq!(r[0].value.value, Data::String("three".into()));
        assert_eq!(r[0].offset, json!({"position": 15}));
    }
}
