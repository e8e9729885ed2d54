//! What stackd remembers between passes, and between runs: the desired state of each
//! component when it last converged, and the alerts already sent.
//!
//! The daemon keeps the record in memory, or in a file with `--alert-state`; a
//! `--once` run needs the file to tell drift from a pending change, because a new
//! process remembers nothing. [`RecordStore`] hides where it lives.

use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Version of the record's JSON form. A record of another version is rejected.
const VERSION: u32 = 1;

/// The record of one stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    /// Stack that the record belongs to, checked at load.
    pub stack: String,
    /// Component id to the fingerprint of its desired state when it last converged.
    pub converged: BTreeMap<String, String>,
    /// Component id to what the alerts know about it.
    pub tracks: BTreeMap<String, Track>,
}

impl Record {
    pub fn new(stack: &str) -> Self {
        Record {
            version: VERSION,
            stack: stack.to_owned(),
            converged: BTreeMap::new(),
            tracks: BTreeMap::new(),
        }
    }
}

/// The alert state of one component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Track {
    /// The drift last alerted, until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<OpenDrift>,
    /// The failure last alerted, until the component converges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<OpenFailure>,
    /// Passes in a row that ended in Error or stopped by a guard.
    #[serde(default)]
    pub failed_passes: u32,
    /// First of those passes.
    #[serde(
        default,
        with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub failing_since: Option<SystemTime>,
    /// Start of the current run of Progressing passes.
    #[serde(
        default,
        with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub progressing_since: Option<SystemTime>,
}

impl Track {
    /// Returns whether the track holds nothing worth keeping.
    pub fn is_empty(&self) -> bool {
        *self == Track::default()
    }
}

/// A drift that a message announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenDrift {
    /// Fingerprint of the component and its drifted fields.
    pub fingerprint: String,
    #[serde(with = "time")]
    pub first_seen: SystemTime,
    /// When the last message about it went out (or was dropped by the rate limit).
    #[serde(with = "time")]
    pub last_sent: SystemTime,
    /// Passes that showed it since the first message.
    pub occurrences: u32,
    /// Whether live state still differed at the end of the last pass that showed it:
    /// not put back (alert-only, a plan, a failed apply). Such a drift gets a
    /// "resolved" message when the component converges.
    pub unresolved: bool,
}

/// A component that kept failing or stayed Progressing, and that a message announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenFailure {
    pub kind: FailureKind,
    #[serde(with = "time")]
    pub since: SystemTime,
    #[serde(with = "time")]
    pub last_sent: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// Error, or stopped by a guard, for several passes in a row.
    Failed,
    /// Progressing for longer than the bound.
    Stuck,
}

/// Where the record lives.
#[async_trait]
pub trait RecordStore: Send + Sync + std::fmt::Debug {
    /// Reads the record, or returns an empty one for `stack` when there is none yet.
    async fn load(&self, stack: &str) -> anyhow::Result<Record>;
    /// Replaces the stored record.
    async fn save(&self, record: &Record) -> anyhow::Result<()>;
}

/// A record that lives as long as the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    record: Mutex<Option<Record>>,
}

#[async_trait]
impl RecordStore for MemoryStore {
    async fn load(&self, stack: &str) -> anyhow::Result<Record> {
        let record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        Ok(record.clone().unwrap_or_else(|| Record::new(stack)))
    }

    async fn save(&self, record: &Record) -> anyhow::Result<()> {
        *self.record.lock().unwrap_or_else(|e| e.into_inner()) = Some(record.clone());
        Ok(())
    }
}

/// A record in a JSON file, replaced atomically (written beside it, then renamed).
///
/// NOTE: two runs that share the file at the same time each write their own view,
/// and the last one wins; nothing locks the file.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: &Path) -> Self {
        FileStore {
            path: path.to_owned(),
        }
    }
}

#[async_trait]
impl RecordStore for FileStore {
    async fn load(&self, stack: &str) -> anyhow::Result<Record> {
        let path = &self.path;
        let text = match tokio::fs::read_to_string(path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Record::new(stack));
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("failed to read the alert state {}", path.display()));
            }
        };
        let record: Record = serde_json::from_str(&text).with_context(|| {
            format!(
                "the alert state {} is not valid; delete it to start again, and stackd \
                 will treat every difference of its first pass as a pending change",
                path.display()
            )
        })?;
        anyhow::ensure!(
            record.version == VERSION,
            "the alert state {} has version {}, and this stackd reads version {VERSION}",
            path.display(),
            record.version
        );
        anyhow::ensure!(
            record.stack == stack,
            "the alert state {} belongs to stack {}, not {stack}; give each stack its own file",
            path.display(),
            record.stack
        );
        Ok(record)
    }

    async fn save(&self, record: &Record) -> anyhow::Result<()> {
        let path = &self.path;
        let mut text = serde_json::to_string_pretty(record)?;
        text.push('\n');
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        tokio::fs::write(&temporary, text)
            .await
            .with_context(|| format!("failed to write {}", temporary.display()))?;
        tokio::fs::rename(&temporary, path)
            .await
            .with_context(|| format!("failed to replace the alert state {}", path.display()))
    }
}

/// RFC 3339 times, to the second, as the /status document writes them.
mod time {
    use crate::daemon::time::{format_rfc3339, parse_rfc3339};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_rfc3339(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid time {text:?}: expected YYYY-MM-DDTHH:MM:SSZ"
            ))
        })
    }
}

mod optional_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => super::time::serialize(time, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            crate::daemon::time::parse_rfc3339(&text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid time {text:?}: expected YYYY-MM-DDTHH:MM:SSZ"
                ))
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn record() -> Record {
        let mut record = Record::new("beezyup-prod-c01");
        record
            .converged
            .insert("security-groups".to_owned(), "abc".to_owned());
        record.tracks.insert(
            "security-groups".to_owned(),
            Track {
                drift: Some(OpenDrift {
                    fingerprint: "f00d".to_owned(),
                    first_seen: UNIX_EPOCH + Duration::from_secs(1_796_428_800),
                    last_sent: UNIX_EPOCH + Duration::from_secs(1_796_432_400),
                    occurrences: 3,
                    unresolved: true,
                }),
                failed_passes: 1,
                failing_since: Some(UNIX_EPOCH + Duration::from_secs(1_796_428_800)),
                ..Track::default()
            },
        );
        record
    }

    fn temporary_file(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("stackd-record-{}-{name}.json", std::process::id()))
    }

    #[tokio::test]
    async fn file_store_round_trips() {
        let path = temporary_file("round-trip");
        let store = FileStore::new(&path);
        store.save(&record()).await.unwrap();
        let loaded = store.load("beezyup-prod-c01").await.unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded, record());
    }

    #[tokio::test]
    async fn missing_file_is_an_empty_record() {
        let store = FileStore::new(&temporary_file("missing"));
        let loaded = store.load("beezyup-prod-c01").await.unwrap();
        assert_eq!(loaded, Record::new("beezyup-prod-c01"));
    }

    #[tokio::test]
    async fn record_of_another_stack_is_rejected() {
        let path = temporary_file("other-stack");
        let store = FileStore::new(&path);
        store.save(&record()).await.unwrap();
        let error = store.load("staging").await.unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            format!("{error:#}").contains("belongs to stack beezyup-prod-c01"),
            "{error:#}"
        );
    }

    #[tokio::test]
    async fn invalid_file_names_the_fix() {
        let path = temporary_file("invalid");
        std::fs::write(&path, "{ not json").unwrap();
        let error = FileStore::new(&path).load("s").await.unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(format!("{error:#}").contains("delete it"), "{error:#}");
    }

    #[tokio::test]
    async fn memory_store_keeps_the_last_save() {
        let store = MemoryStore::default();
        assert_eq!(store.load("s").await.unwrap(), Record::new("s"));
        store.save(&record()).await.unwrap();
        assert_eq!(store.load("s").await.unwrap(), record());
    }
}
