//! Sources of the daemon's events: the desired-state file's watcher and the Unix signals.

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use stackd_spec::Loaded;
use std::path::{Path, PathBuf};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

/// Exit code after a second SIGTERM or SIGINT: 128 + SIGINT, as shells report
/// an interrupted program.
pub const EXIT_INTERRUPTED: i32 = 130;

/// What asks for the file to be read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadCause {
    /// The watcher saw the file change. Reloading is skipped when the text did not change.
    FileChanged,
    /// SIGHUP: always reload.
    Hangup,
}

/// A desired-state file that passed validation, and its text.
#[derive(Debug)]
pub struct Desired {
    pub loaded: Loaded,
    pub text: String,
}

/// Reads and validates the file. The error is every diagnostic, one per line.
pub fn read_desired(path: &Path) -> Result<Desired, String> {
    let read = crate::desired::read(path)?;
    let loaded = read.loaded;
    crate::commands::check_referenced_files(path, &loaded)?;
    for warning in &loaded.warnings {
        tracing::warn!(file = %path.display(), "{warning}");
    }
    // NOTE: only `path` is watched for changes; an edit to the file it
    // extends is picked up on SIGHUP or the next change to `path`.
    Ok(Desired {
        loaded,
        text: read.text,
    })
}

/// Watches the folder of `file`, so that an editor that replaces the file
/// (write to a temporary file, then rename) is seen too, and sends
/// [`ReloadCause::FileChanged`] for every event that names the file. The
/// watch stops when the returned watcher is dropped.
///
/// NOTE: when `file` is a symbolic link, only changes to the link itself are
/// seen, not to its target in another folder.
pub fn watch_file(
    file: &Path,
    sender: mpsc::UnboundedSender<ReloadCause>,
) -> notify::Result<RecommendedWatcher> {
    let name = file.file_name().map(ToOwned::to_owned);
    let folder: PathBuf = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "the desired-state file watcher failed");
                return;
            }
        };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        if event
            .paths
            .iter()
            .any(|path| path.file_name() == name.as_deref())
        {
            let _ = sender.send(ReloadCause::FileChanged);
        }
    })?;
    watcher.watch(&folder, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Installs the handlers of SIGTERM, SIGINT and SIGHUP and spawns the task
/// that serves them. The first SIGTERM or SIGINT sets `shutdown`; the second
/// exits at once with [`EXIT_INTERRUPTED`]. SIGHUP sends [`ReloadCause::Hangup`].
pub fn handle_signals(
    shutdown: watch::Sender<bool>,
    reloads: mpsc::UnboundedSender<ReloadCause>,
) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP received, reloading the desired-state file");
                    let _ = reloads.send(ReloadCause::Hangup);
                    continue;
                }
            };
            if *shutdown.borrow() {
                tracing::warn!(signal = name, "second stop signal, exiting at once");
                std::process::exit(EXIT_INTERRUPTED);
            }
            tracing::info!(signal = name, "stopping after the pass in flight");
            let _ = shutdown.send(true);
        }
    });
    Ok(())
}
