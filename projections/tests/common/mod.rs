//! Helpers shared by the projector tests.

use std::time::Duration;

use rand::Rng as _;
use shopcore_event_store::LogPosition;
use shopcore_projections::runtime::ProjectionRunner;
use tokio::sync::watch;

/// Runs the projector in a task and kills it after a random moment, again and again, until it
/// has reached `head`. Returns how many times it was killed. When a life was too short to apply
/// anything (a loaded machine), the next ones get longer, so the test ends on any machine.
pub async fn run_with_crashes(runner: ProjectionRunner, head: LogPosition) -> anyhow::Result<u32> {
    let mut kills = 0;
    let mut longest_life_ms = 30;
    let mut checkpoint = runner.projector().checkpoint().await?;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(180);
    while checkpoint < head {
        anyhow::ensure!(
            tokio::time::Instant::now() < give_up,
            "{} stayed at {checkpoint} for 3 minutes (halted? see its log)",
            runner.projector().name()
        );
        let (_stop, stopped) = watch::channel(false);
        let task = {
            let runner = runner.clone();
            tokio::spawn(async move { runner.run(stopped).await })
        };
        let life = rand::rng().random_range(1..=longest_life_ms);
        tokio::time::sleep(Duration::from_millis(life)).await;
        task.abort();
        let _ = task.await;
        kills += 1;
        let reached = runner.projector().checkpoint().await?;
        longest_life_ms = if reached == checkpoint {
            (longest_life_ms * 2).min(5_000)
        } else {
            30
        };
        checkpoint = reached;
    }
    Ok(kills)
}
