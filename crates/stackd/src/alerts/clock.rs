//! The wall clock of the alerts, which tests can move forward without sleeping.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Environment variable naming a file that holds a number of seconds to add to the
/// wall clock of the alerts. Tests use it to reach a reminder without waiting for it;
/// it moves no other clock (passes, timeouts and the HTTP client keep real time).
pub const OFFSET_FILE_ENV: &str = "STACKD_TEST_CLOCK_OFFSET_FILE";

/// The current time, for reminders, "stuck Progressing" bounds and message timestamps.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The wall clock moved forward by the number of seconds in a file, read at each call.
/// A missing or unreadable file counts as no offset.
#[derive(Debug, Clone)]
pub struct OffsetClock {
    file: PathBuf,
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let offset = std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0);
        SystemTime::now() + Duration::from_secs(offset)
    }
}

/// Returns the system clock, or the offset clock when [`OFFSET_FILE_ENV`] is set.
pub fn from_env() -> Arc<dyn Clock> {
    match std::env::var_os(OFFSET_FILE_ENV) {
        Some(file) if !file.is_empty() => {
            tracing::warn!(
                variable = OFFSET_FILE_ENV,
                "the alerts' clock is offset by the number of seconds in a file, for tests"
            );
            Arc::new(OffsetClock {
                file: PathBuf::from(file),
            })
        }
        _ => Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_adds_the_file_seconds() {
        let file = std::env::temp_dir().join(format!("stackd-clock-{}", std::process::id()));
        std::fs::write(&file, "7200\n").unwrap();
        let clock = OffsetClock { file: file.clone() };
        let ahead = clock.now().duration_since(SystemTime::now()).unwrap();
        assert!(ahead > Duration::from_secs(7190), "{ahead:?}");
        std::fs::remove_file(&file).unwrap();
        let now = clock.now();
        assert!(now <= SystemTime::now(), "no file, no offset");
    }
}
