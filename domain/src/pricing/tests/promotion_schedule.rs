//! Given / when / then tests of scheduled activation: scheduling at creation and later, the
//! schedule moving with the window, activation and deactivation clearing it, and the
//! scheduler's guarded activation (once, and only while still scheduled and due).

use super::at;
use super::promotion::{activated, create, created, promotions, ten_percent};
use crate::error_kind::DomainErrorKind;
use crate::pricing::*;

fn scheduled(hour: i64) -> PromotionEvent {
    PromotionEvent::PromotionActivationScheduled {
        activate_at: at(hour),
    }
}

fn schedule(hour: i64) -> PromotionCommand {
    PromotionCommand::SchedulePromotionActivation { now: at(hour) }
}

fn activate_scheduled(scheduled_for: i64, now: i64) -> PromotionCommand {
    PromotionCommand::ActivateScheduledPromotion {
        scheduled_for: at(scheduled_for),
        now: at(now),
    }
}

fn activated_at(hour: i64) -> PromotionEvent {
    PromotionEvent::PromotionActivated {
        activated_at: at(hour),
        discount: ten_percent(),
        valid_from: at(0),
        valid_until: at(24),
    }
}

fn create_scheduled(now: i64) -> PromotionCommand {
    let mut command = create(&["bf-2026"]);
    if let PromotionCommand::CreatePromotion {
        activate_at_start,
        now: at_now,
        ..
    } = &mut command
    {
        *activate_at_start = true;
        *at_now = at(now);
    }
    command
}

fn folded(events: Vec<PromotionEvent>) -> Promotion {
    let mut state = Promotion::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut state, event);
    }
    state
}

#[test]
fn a_promotion_created_with_activate_at_start_is_scheduled_for_its_valid_from() {
    promotions()
        .given_no_previous_events()
        .when(create_scheduled(-2))
        .then_expect_events(vec![created(), scheduled(0)]);
    // Created inside its window: due at once (valid_from has passed), still the same instant.
    promotions()
        .given_no_previous_events()
        .when(create_scheduled(3))
        .then_expect_events(vec![created(), scheduled(0)]);
    let state = folded(vec![created(), scheduled(0)]);
    assert_eq!(state.activation_scheduled_at, Some(at(0)));
    assert!(!state.active);
    // Without the flag, nothing is scheduled.
    assert_eq!(folded(vec![created()]).activation_scheduled_at, None);
}

#[test]
fn scheduling_a_promotion_whose_window_has_ended_is_refused_naming_the_field() {
    for command in [create_scheduled(24), create_scheduled(30)] {
        let error = promotions()
            .given_no_previous_events()
            .when(command)
            .inspect_result()
            .expect_err("window ended");
        assert_eq!(error.field(), Some("validUntil"), "{error}");
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    }
    let error = promotions()
        .given(vec![created()])
        .when(schedule(24))
        .inspect_result()
        .expect_err("window ended");
    assert_eq!(error.field(), Some("validUntil"), "{error}");
    assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    promotions()
        .given_no_previous_events()
        .when(schedule(1))
        .then_expect_error(PromotionError::NotCreated);
}

#[test]
fn an_existing_promotion_is_scheduled_once() {
    promotions()
        .given(vec![created()])
        .when(schedule(-1))
        .then_expect_events(vec![scheduled(0)]);
    // Already scheduled for that instant, or active: nothing to record.
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(schedule(-1))
        .then_expect_events(vec![]);
    promotions()
        .given(vec![created(), activated()])
        .when(schedule(1))
        .then_expect_events(vec![]);
    // Switched off again after its activation: it can be scheduled anew.
    promotions()
        .given(vec![
            created(),
            scheduled(0),
            activated_at(0),
            PromotionEvent::PromotionDeactivated {
                deactivated_at: at(2),
            },
        ])
        .when(schedule(3))
        .then_expect_events(vec![scheduled(0)]);
}

#[test]
fn a_change_of_valid_from_moves_the_schedule() {
    let changed = |valid_from: i64, name: &str| PromotionEvent::PromotionChanged {
        name: name.into(),
        discount: ten_percent(),
        valid_from: at(valid_from),
        valid_until: at(24),
        usage_limit_total: Some(2),
        usage_limit_per_customer: Some(1),
        changed_at: at(-1),
    };
    let change = |changes: PromotionChanges| PromotionCommand::ChangePromotion {
        changes,
        now: at(-1),
    };
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(change(PromotionChanges {
            valid_from: Some(at(2)),
            ..PromotionChanges::default()
        }))
        .then_expect_events(vec![changed(2, "Black Friday"), scheduled(2)]);
    // Another field: the schedule stays where it is.
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(change(PromotionChanges {
            name: Some("Black Week".into()),
            ..PromotionChanges::default()
        }))
        .then_expect_events(vec![changed(0, "Black Week")]);
    // Not scheduled: a new valid_from schedules nothing.
    promotions()
        .given(vec![created()])
        .when(change(PromotionChanges {
            valid_from: Some(at(2)),
            ..PromotionChanges::default()
        }))
        .then_expect_events(vec![changed(2, "Black Friday")]);
    let state = folded(vec![created(), scheduled(0), changed(2, "x"), scheduled(2)]);
    assert_eq!(state.activation_scheduled_at, Some(at(2)));
}

#[test]
fn activation_and_deactivation_clear_the_schedule() {
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(PromotionCommand::ActivatePromotion { now: at(-1) })
        .then_expect_events(vec![activated()]);
    assert_eq!(
        folded(vec![created(), scheduled(0), activated()]).activation_scheduled_at,
        None
    );
    // Deactivating a scheduled, inactive promotion cancels the schedule.
    let deactivated = PromotionEvent::PromotionDeactivated {
        deactivated_at: at(-1),
    };
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(PromotionCommand::DeactivatePromotion { now: at(-1) })
        .then_expect_events(vec![deactivated.clone()]);
    let state = folded(vec![created(), scheduled(0), deactivated.clone()]);
    assert_eq!(state.activation_scheduled_at, None);
    assert!(!state.active);
    promotions()
        .given(vec![created(), scheduled(0), deactivated])
        .when(PromotionCommand::DeactivatePromotion { now: at(1) })
        .then_expect_events(vec![]);
}

#[test]
fn the_scheduled_activation_happens_once_when_due() {
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(activate_scheduled(0, 0))
        .then_expect_events(vec![activated_at(0)]);
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(activate_scheduled(0, 5))
        .then_expect_events(vec![activated_at(5)]);
    // A second scheduler, after reloading, finds it active: nothing more.
    promotions()
        .given(vec![created(), scheduled(0), activated_at(0)])
        .when(activate_scheduled(0, 0))
        .then_expect_events(vec![]);
}

#[test]
fn the_scheduled_activation_does_nothing_unless_still_scheduled_and_due() {
    let deactivated = PromotionEvent::PromotionDeactivated {
        deactivated_at: at(-1),
    };
    let cases = [
        // Not yet due.
        (vec![created(), scheduled(0)], activate_scheduled(0, -1)),
        // Moved to another instant since the scheduler read it.
        (
            vec![created(), scheduled(0), scheduled(2)],
            activate_scheduled(0, 1),
        ),
        // Cancelled since.
        (
            vec![created(), scheduled(0), deactivated],
            activate_scheduled(0, 1),
        ),
        // Never scheduled (switched on by hand, say).
        (vec![created()], activate_scheduled(0, 1)),
        (vec![created(), activated()], activate_scheduled(0, 1)),
    ];
    for (given, command) in cases {
        promotions()
            .given(given)
            .when(command)
            .then_expect_events(vec![]);
    }
    // The window ended before the scheduler came to it: refused, not activated.
    promotions()
        .given(vec![created(), scheduled(0)])
        .when(activate_scheduled(0, 24))
        .then_expect_error(PromotionError::Ended);
    promotions()
        .given_no_previous_events()
        .when(activate_scheduled(0, 1))
        .then_expect_error(PromotionError::NotCreated);
}

#[test]
fn the_scheduled_instant_matches_to_the_microsecond() {
    // The read model keeps microseconds; the aggregate may hold nanoseconds.
    let precise = at(0) + chrono::Duration::nanoseconds(1_234_567);
    let given = vec![
        created(),
        PromotionEvent::PromotionActivationScheduled {
            activate_at: precise,
        },
    ];
    let truncated = at(0) + chrono::Duration::microseconds(1_234);
    promotions()
        .given(given)
        .when(PromotionCommand::ActivateScheduledPromotion {
            scheduled_for: truncated,
            now: at(1),
        })
        .then_expect_events(vec![activated_at(1)]);
}
