//! Rebuild jobs: empty a read model and replay the whole log into it through the same projector
//! code, with a progress bar. A rebuild is resumable: it is just the projector catching up from
//! checkpoint 0, so an interrupted rebuild continues where it stopped when run with `--resume`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use shopcore_event_store::{GlobalLog, LogPosition};

use crate::runtime::ProjectionRunner;

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    pub events: u64,
    pub elapsed: Duration,
    pub checkpoint: LogPosition,
}

impl RebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Resets the projector (unless `resume`) and applies every event up to the log's head as it was
/// when the rebuild started. Stops at the first failure, which names the event at fault when
/// one is (the checkpoint stays where it was, so `--resume` continues from there).
pub async fn rebuild(
    runner: &ProjectionRunner,
    log: &GlobalLog,
    resume: bool,
    show_progress: bool,
) -> anyhow::Result<RebuildReport> {
    if !resume {
        runner.projector().reset().await?;
    }
    let head = log.head().await?;
    let start = runner.projector().checkpoint().await?;
    let total = log.lag(start, u32::MAX).await?.events;
    let bar = if show_progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(runner.projector().name());
    let started = Instant::now();
    let mut events = 0u64;
    let mut checkpoint = start;
    while checkpoint < head {
        let step = runner.step().await?;
        if step.events == 0 {
            break;
        }
        events += step.events as u64;
        checkpoint = step.checkpoint;
        bar.set_position(events.min(total));
    }
    bar.finish();
    Ok(RebuildReport {
        events,
        elapsed: started.elapsed(),
        checkpoint,
    })
}
