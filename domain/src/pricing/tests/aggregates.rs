//! Given / when / then tests of the PriceBook, PriceRule and CurrencyRate aggregates.

use cqrs_es::test::TestFramework;

use super::{assert_round_trips, at, id, usd};
use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, Money, Percent, Rate};
use crate::pricing::*;

fn book_created() -> PriceBookEvent {
    PriceBookEvent::PriceBookCreated {
        price_book_id: id(1),
        name: "Retail".into(),
        default_currency: Currency::USD,
    }
}

fn books() -> TestFramework<PriceBook> {
    TestFramework::with(())
}

#[test]
fn price_book_create_and_reject_twice_or_unnamed() {
    let create = |name: &str| PriceBookCommand::CreatePriceBook {
        price_book_id: id(1),
        name: name.into(),
        default_currency: Currency::USD,
    };
    books()
        .given_no_previous_events()
        .when(create(" Retail "))
        .then_expect_events(vec![book_created()]);
    books()
        .given(vec![book_created()])
        .when(create("Retail"))
        .then_expect_error(PriceBookError::AlreadyCreated);
    books()
        .given_no_previous_events()
        .when(create(" "))
        .then_expect_error(PriceBookError::invalid(
            "name",
            "must be 1 to 200 characters",
        ));
}

#[test]
fn set_base_price_records_the_previous_one() {
    let first = PriceBookEvent::BasePriceSet {
        sku: "SHOE-42".into(),
        price: usd(1_999),
        previous: None,
    };
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrice {
            sku: " SHOE-42 ".into(),
            price: usd(1_999),
        })
        .then_expect_events(vec![first.clone()]);
    books()
        .given(vec![book_created(), first.clone()])
        .when(PriceBookCommand::SetBasePrice {
            sku: "SHOE-42".into(),
            price: usd(2_099),
        })
        .then_expect_events(vec![PriceBookEvent::BasePriceSet {
            sku: "SHOE-42".into(),
            price: usd(2_099),
            previous: Some(usd(1_999)),
        }]);
    books()
        .given(vec![book_created(), first])
        .when(PriceBookCommand::SetBasePrice {
            sku: "SHOE-42".into(),
            price: usd(1_999),
        })
        .then_expect_events(vec![]);
}

#[test]
fn set_base_prices_writes_one_event_per_changed_price_or_nothing() {
    let first = PriceBookEvent::BasePriceSet {
        sku: "SHOE-42".into(),
        price: usd(1_999),
        previous: None,
    };
    books()
        .given(vec![book_created(), first.clone()])
        .when(PriceBookCommand::SetBasePrices {
            prices: vec![
                ("SHOE-42".into(), usd(1_999)),
                (" HAT-1 ".into(), usd(500)),
                ("SHOE-42".into(), Money::new(1_800, Currency::EUR)),
            ],
        })
        .then_expect_events(vec![
            PriceBookEvent::BasePriceSet {
                sku: "HAT-1".into(),
                price: usd(500),
                previous: None,
            },
            PriceBookEvent::BasePriceSet {
                sku: "SHOE-42".into(),
                price: Money::new(1_800, Currency::EUR),
                previous: None,
            },
        ]);
    // One bad price refuses the whole import.
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrices {
            prices: vec![("A".into(), usd(1)), ("B".into(), usd(-1))],
        })
        .then_expect_error(PriceBookError::invalid("price", "must not be negative"));
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrices {
            prices: vec![("A".into(), usd(1)), ("A ".into(), usd(2))],
        })
        .then_expect_error(PriceBookError::invalid("prices", "A in USD appears twice"));
    let too_many = (0..=MAX_PRICES_PER_COMMAND)
        .map(|n| (format!("SKU-{n}"), usd(1)))
        .collect();
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrices { prices: too_many })
        .then_expect_error(PriceBookError::invalid(
            "prices",
            "at most 1000 prices per command",
        ));
}

#[test]
fn set_base_price_rejections() {
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrice {
            sku: "SHOE-42".into(),
            price: usd(-1),
        })
        .then_expect_error(PriceBookError::invalid("price", "must not be negative"));
    books()
        .given(vec![book_created()])
        .when(PriceBookCommand::SetBasePrice {
            sku: "".into(),
            price: usd(1),
        })
        .then_expect_error(PriceBookError::invalid("sku", "must not be empty"));
    books()
        .given_no_previous_events()
        .when(PriceBookCommand::SetBasePrice {
            sku: "A".into(),
            price: usd(1),
        })
        .then_expect_error(PriceBookError::NotCreated);
}

#[test]
fn remove_base_price() {
    let set = PriceBookEvent::BasePriceSet {
        sku: "SHOE-42".into(),
        price: usd(1_999),
        previous: None,
    };
    books()
        .given(vec![book_created(), set.clone()])
        .when(PriceBookCommand::RemoveBasePrice {
            sku: "SHOE-42".into(),
            currency: Currency::USD,
        })
        .then_expect_events(vec![PriceBookEvent::BasePriceRemoved {
            sku: "SHOE-42".into(),
            currency: Currency::USD,
            previous: usd(1_999),
        }]);
    let missing = PriceBookError::UnknownPrice {
        sku: "SHOE-42".into(),
        currency: Currency::EUR,
    };
    assert_eq!(missing.kind(), DomainErrorKind::NotFound);
    books()
        .given(vec![book_created(), set])
        .when(PriceBookCommand::RemoveBasePrice {
            sku: "SHOE-42".into(),
            currency: Currency::EUR,
        })
        .then_expect_error(missing);
}

#[test]
fn price_book_state_survives_a_snapshot() {
    let mut book = PriceBook::default();
    cqrs_es::Aggregate::apply(&mut book, book_created());
    let set = PriceBookEvent::BasePriceSet {
        sku: "A".into(),
        price: Money::new(5, Currency::JPY),
        previous: None,
    };
    cqrs_es::Aggregate::apply(&mut book, set);
    let json = serde_json::to_string(&book).expect("serialise");
    assert_eq!(
        serde_json::from_str::<PriceBook>(&json).expect("parse"),
        book
    );
}

fn definition() -> PriceRuleDefinition {
    PriceRuleDefinition {
        name: "VIP shoes".into(),
        targets: RuleTargets {
            skus: Default::default(),
            categories: ["shoes".to_string()].into(),
        },
        priority: 10,
        conditions: RuleConditions {
            customer_segments: ["vip".to_string()].into(),
            ..RuleConditions::default()
        },
        action: RuleAction::PercentOff {
            percent: Percent::from_basis_points(1_500).expect("valid"),
        },
        exclusive: false,
    }
}

fn rule_created() -> PriceRuleEvent {
    PriceRuleEvent::PriceRuleCreated {
        rule_id: id(2),
        definition: definition(),
        created_at: at(0),
    }
}

fn rules() -> TestFramework<PriceRule> {
    TestFramework::with(())
}

fn upsert(definition: PriceRuleDefinition, hour: i64) -> PriceRuleCommand {
    PriceRuleCommand::UpsertPriceRule {
        rule_id: id(2),
        definition,
        now: at(hour),
    }
}

#[test]
fn upsert_creates_then_updates_then_ignores_repeats() {
    let untrimmed = PriceRuleDefinition {
        name: "  VIP shoes ".into(),
        ..definition()
    };
    rules()
        .given_no_previous_events()
        .when(upsert(untrimmed, 0))
        .then_expect_events(vec![rule_created()]);
    let cheaper = PriceRuleDefinition {
        priority: 20,
        ..definition()
    };
    rules()
        .given(vec![rule_created()])
        .when(upsert(cheaper.clone(), 1))
        .then_expect_events(vec![PriceRuleEvent::PriceRuleUpdated {
            definition: cheaper,
            updated_at: at(1),
        }]);
    rules()
        .given(vec![rule_created()])
        .when(upsert(definition(), 2))
        .then_expect_events(vec![]);
    // After removal an upsert starts afresh.
    rules()
        .given(vec![
            rule_created(),
            PriceRuleEvent::PriceRuleRemoved { removed_at: at(1) },
        ])
        .when(upsert(definition(), 3))
        .then_expect_events(vec![PriceRuleEvent::PriceRuleCreated {
            rule_id: id(2),
            definition: definition(),
            created_at: at(3),
        }]);
}

#[test]
fn a_money_action_fixes_the_currency_condition() {
    let set_price = PriceRuleDefinition {
        action: RuleAction::SetPrice { price: usd(999) },
        ..definition()
    };
    let expected = PriceRuleDefinition {
        conditions: RuleConditions {
            currency: Some(Currency::USD),
            ..set_price.conditions.clone()
        },
        ..set_price.clone()
    };
    rules()
        .given_no_previous_events()
        .when(upsert(set_price, 0))
        .then_expect_events(vec![PriceRuleEvent::PriceRuleCreated {
            rule_id: id(2),
            definition: expected,
            created_at: at(0),
        }]);
}

#[test]
fn upsert_rejections_name_the_field() {
    let mut cases = vec![
        (
            PriceRuleDefinition {
                name: " ".into(),
                ..definition()
            },
            "name",
        ),
        (
            PriceRuleDefinition {
                targets: RuleTargets::default(),
                ..definition()
            },
            "targets",
        ),
        (
            PriceRuleDefinition {
                action: RuleAction::SetPrice { price: usd(-1) },
                ..definition()
            },
            "action.price",
        ),
        (
            PriceRuleDefinition {
                action: RuleAction::AmountOff { amount: usd(0) },
                ..definition()
            },
            "action.amount",
        ),
        (
            PriceRuleDefinition {
                action: RuleAction::PercentOff {
                    percent: Percent::from_basis_points(0).expect("valid"),
                },
                ..definition()
            },
            "action.percent",
        ),
    ];
    let mut bad_sku = definition();
    bad_sku.targets.skus.insert("no spaces allowed".into());
    cases.push((bad_sku, "targets.skus"));
    let mut window = definition();
    window.conditions.valid_from = Some(at(2));
    window.conditions.valid_until = Some(at(1));
    cases.push((window, "conditions.validUntil"));
    let mut zero = definition();
    zero.conditions.min_quantity = Some(0);
    cases.push((zero, "conditions.minQuantity"));
    let mut mixed = definition();
    mixed.conditions.currency = Some(Currency::EUR);
    mixed.action = RuleAction::AmountOff { amount: usd(5) };
    cases.push((mixed, "action"));
    let mut empty_segment = definition();
    empty_segment
        .conditions
        .customer_segments
        .insert(" ".into());
    cases.push((empty_segment, "conditions.customerSegments"));
    for (definition, field) in cases {
        let error = rules()
            .given_no_previous_events()
            .when(upsert(definition, 0))
            .inspect_result()
            .expect_err(field);
        assert_eq!(error.field(), Some(field), "{error}");
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    }
    rules()
        .given(vec![rule_created()])
        .when(PriceRuleCommand::UpsertPriceRule {
            rule_id: id(3),
            definition: definition(),
            now: at(1),
        })
        .then_expect_error(PriceRuleError::IdMismatch(id(3)));
}

#[test]
fn remove_price_rule() {
    rules()
        .given(vec![rule_created()])
        .when(PriceRuleCommand::RemovePriceRule { now: at(5) })
        .then_expect_events(vec![PriceRuleEvent::PriceRuleRemoved { removed_at: at(5) }]);
    rules()
        .given_no_previous_events()
        .when(PriceRuleCommand::RemovePriceRule { now: at(5) })
        .then_expect_error(PriceRuleError::NotFound);
    let mut rule = PriceRule::default();
    cqrs_es::Aggregate::apply(&mut rule, rule_created());
    assert_eq!(rule.spec().map(|s| s.rule_id), Some(id(2)));
    cqrs_es::Aggregate::apply(
        &mut rule,
        PriceRuleEvent::PriceRuleRemoved { removed_at: at(1) },
    );
    assert_eq!(rule.spec(), None);
}

fn eur_usd(rate: &str, hour: i64) -> CurrencyRateCommand {
    CurrencyRateCommand::SetFxRate {
        base: Currency::EUR,
        quote: Currency::USD,
        rate: Rate::parse(rate).expect("rate"),
        source: "fake-provider".into(),
        now: at(hour),
    }
}

fn changed(rate: &str, previous: Option<&str>, hour: i64) -> CurrencyRateEvent {
    CurrencyRateEvent::FxRateChanged {
        base: Currency::EUR,
        quote: Currency::USD,
        rate: Rate::parse(rate).expect("rate"),
        previous_rate: previous.map(|p| Rate::parse(p).expect("rate")),
        source: "fake-provider".into(),
        changed_at: at(hour),
    }
}

#[test]
fn fx_rate_changes_and_repeats() {
    let rates = || TestFramework::<CurrencyRate>::with(());
    rates()
        .given_no_previous_events()
        .when(eur_usd("1.0845", 0))
        .then_expect_events(vec![changed("1.0845", None, 0)]);
    rates()
        .given(vec![changed("1.0845", None, 0)])
        .when(eur_usd("1.09", 1))
        .then_expect_events(vec![changed("1.09", Some("1.0845"), 1)]);
    rates()
        .given(vec![changed("1.0845", None, 0)])
        .when(eur_usd("1.08450", 1))
        .then_expect_events(vec![]);
    assert_eq!(
        CurrencyRate::aggregate_id(Currency::EUR, Currency::USD),
        "EUR-USD"
    );
}

#[test]
fn fx_rate_rejections() {
    let rates = || TestFramework::<CurrencyRate>::with(());
    let same = CurrencyRateCommand::SetFxRate {
        base: Currency::USD,
        quote: Currency::USD,
        rate: Rate::parse("1").expect("rate"),
        source: "x".into(),
        now: at(0),
    };
    rates()
        .given_no_previous_events()
        .when(same)
        .then_expect_error(CurrencyRateError::InvalidField {
            field: "quote",
            reason: "must differ from base".into(),
        });
    let other_pair = CurrencyRateCommand::SetFxRate {
        base: Currency::GBP,
        quote: Currency::USD,
        rate: Rate::parse("1.3").expect("rate"),
        source: "x".into(),
        now: at(0),
    };
    rates()
        .given(vec![changed("1.0845", None, 0)])
        .when(other_pair)
        .then_expect_error(CurrencyRateError::PairMismatch {
            base: Currency::EUR,
            quote: Currency::USD,
        });
    let unsourced = CurrencyRateCommand::SetFxRate {
        base: Currency::EUR,
        quote: Currency::USD,
        rate: Rate::parse("1.1").expect("rate"),
        source: " ".into(),
        now: at(0),
    };
    let error = rates()
        .given_no_previous_events()
        .when(unsourced)
        .inspect_result()
        .expect_err("no source");
    assert!(error.to_string().starts_with("source:"), "{error}");
}

#[test]
fn every_pricing_event_round_trips() {
    assert_round_trips(
        &[
            book_created(),
            PriceBookEvent::BasePriceSet {
                sku: "A".into(),
                price: usd(1),
                previous: Some(usd(2)),
            },
            PriceBookEvent::BasePriceRemoved {
                sku: "A".into(),
                currency: Currency::KWD,
                previous: Money::new(1_250, Currency::KWD),
            },
        ],
        PriceBookEvent::EVENT_TYPES,
    );
    let mut full = definition();
    full.targets.skus.insert("SHOE-42".into());
    full.conditions.valid_from = Some(at(0));
    full.conditions.valid_until = Some(at(1));
    full.conditions.min_quantity = Some(2);
    full.conditions.currency = Some(Currency::USD);
    full.action = RuleAction::AmountOff { amount: usd(100) };
    full.exclusive = true;
    assert_round_trips(
        &[
            PriceRuleEvent::PriceRuleCreated {
                rule_id: id(2),
                definition: full.clone(),
                created_at: at(0),
            },
            PriceRuleEvent::PriceRuleUpdated {
                definition: full,
                updated_at: at(1),
            },
            PriceRuleEvent::PriceRuleRemoved { removed_at: at(2) },
        ],
        PriceRuleEvent::EVENT_TYPES,
    );
    assert_round_trips(
        &[changed("1.0845", Some("1.08"), 0)],
        CurrencyRateEvent::EVENT_TYPES,
    );
    let json = serde_json::to_value(changed("1.0845", None, 0)).expect("serialise");
    assert_eq!(json["FxRateChanged"]["rate"], "1.0845");
    assert!(json["FxRateChanged"].get("previousRate").is_some());
}
