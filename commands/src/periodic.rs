//! A job that runs a round every interval until it is told to stop: the promotion scheduler and
//! the cart expiry sweep. A failed round is retried at the next tick (the round reports its own
//! failure); a round that did something is logged.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Runs `round` every `interval` (a late tick is delayed, not bunched) until `shutdown` turns
/// true; logs every round whose report differs from the default as `what`.
pub async fn every<R, E, F>(
    what: &'static str,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut round: impl FnMut() -> F,
) where
    R: Default + PartialEq + std::fmt::Debug,
    F: Future<Output = Result<R, E>>,
{
    tracing::info!(interval = ?interval, "{what} starting");
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        if let Ok(report) = round().await {
            if report != R::default() {
                tracing::info!(report = ?report, "{what} round");
            }
        }
    }
    tracing::info!("{what} stopped");
}
