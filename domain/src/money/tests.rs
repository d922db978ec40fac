//! Unit and property tests of money arithmetic, rounding, allocation and conversion.

use proptest::prelude::*;

use super::rounding::div_round;
use super::*;

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

#[test]
fn currencies_know_their_exponents() {
    assert_eq!(Currency::parse("USD"), Ok(Currency::USD));
    assert_eq!(Currency::parse("JPY").map(|c| c.exponent()), Ok(0));
    assert_eq!(Currency::parse("VND").map(|c| c.exponent()), Ok(0));
    assert_eq!(Currency::parse("KWD").map(|c| c.exponent()), Ok(3));
    for code in ["EUR", "GBP", "CHF", "CAD", "AUD", "SGD"] {
        assert_eq!(Currency::parse(code).map(|c| c.exponent()), Ok(2), "{code}");
    }
    assert!(
        super::currency::KNOWN.windows(2).all(|w| w[0].0 < w[1].0),
        "table must be sorted"
    );
}

#[test]
fn currency_codes_are_validated() {
    for bad in ["usd", "US", "USDD", "", "U$D", "ÄÖÜ"] {
        assert!(
            matches!(
                Currency::parse(bad),
                Err(MoneyError::InvalidCurrencyCode(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        Currency::parse("XYZ"),
        Err(MoneyError::UnsupportedCurrency("XYZ".into()))
    );
    assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
}

#[test]
fn money_serialises_as_minor_units_and_code() {
    let json = serde_json::to_string(&usd(1999)).expect("serialise");
    assert_eq!(json, r#"{"amount":1999,"currency":"USD"}"#);
    assert_eq!(
        serde_json::from_str::<Money>(&json).expect("parse"),
        usd(1999)
    );
    assert!(serde_json::from_str::<Money>(r#"{"amount":1,"currency":"usd"}"#).is_err());
    assert!(serde_json::from_str::<Money>(r#"{"amount":1.5,"currency":"USD"}"#).is_err());
}

#[test]
fn decimal_strings_parse_and_print_with_the_currency_exponent() {
    assert_eq!(
        Money::from_decimal_str("19.99", Currency::USD),
        Ok(usd(1999))
    );
    assert_eq!(
        Money::from_decimal_str("19.9", Currency::USD),
        Ok(usd(1990))
    );
    assert_eq!(Money::from_decimal_str("-0.05", Currency::USD), Ok(usd(-5)));
    assert_eq!(
        Money::from_decimal_str("1500", Currency::JPY),
        Ok(Money::new(1500, Currency::JPY))
    );
    assert_eq!(
        Money::from_decimal_str("1.5", Currency::KWD),
        Ok(Money::new(1500, Currency::KWD))
    );
    for bad in ["", "1.", ".5", "1.999", "1e3", "--1", "1,5", "abc"] {
        assert!(
            Money::from_decimal_str(bad, Currency::USD).is_err(),
            "{bad}"
        );
    }
    assert!(Money::from_decimal_str("1.5", Currency::JPY).is_err());
    assert_eq!(
        Money::from_decimal_str("99999999999999999999", Currency::USD),
        Err(MoneyError::Overflow)
    );
    assert_eq!(usd(-5).to_string(), "-0.05 USD");
    assert_eq!(Money::new(1500, Currency::JPY).to_string(), "1500 JPY");
    assert_eq!(Money::new(1250, Currency::KWD).to_string(), "1.250 KWD");
}

#[test]
fn arithmetic_is_checked() {
    assert_eq!(usd(100).checked_add(usd(50)), Ok(usd(150)));
    assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
    assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
    assert_eq!(usd(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
    assert_eq!(usd(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
    assert_eq!(
        usd(1).checked_add(Money::new(1, Currency::EUR)),
        Err(MoneyError::CurrencyMismatch {
            left: Currency::USD,
            right: Currency::EUR
        })
    );
}

#[test]
fn rounding_modes_differ_only_on_ties() {
    let cases = [
        // (numerator, denominator, half_even, half_up)
        (5, 10, 0, 1),
        (15, 10, 2, 2),
        (25, 10, 2, 3),
        (-5, 10, 0, -1),
        (-25, 10, -2, -3),
        (26, 10, 3, 3),
        (24, 10, 2, 2),
        (-26, 10, -3, -3),
        (7, -2, -4, -4),
    ];
    for (n, d, even, up) in cases {
        assert_eq!(
            div_round(n, d, RoundingMode::HalfEven),
            Some(even),
            "{n}/{d} half-even"
        );
        assert_eq!(
            div_round(n, d, RoundingMode::HalfUp),
            Some(up),
            "{n}/{d} half-up"
        );
    }
    assert_eq!(div_round(1, 0, RoundingMode::HalfEven), None);
}

#[test]
fn percentages_are_exact_basis_points() {
    let ten = Percent::from_basis_points(1_000).expect("10%");
    assert_eq!(
        usd(1999).percent_of(ten, RoundingMode::HalfEven),
        Ok(usd(200))
    );
    assert_eq!(
        usd(1999).less_percent(ten, RoundingMode::HalfEven),
        Ok(usd(1799))
    );
    let half = Percent::from_basis_points(5_000).expect("50%");
    assert_eq!(
        usd(25).percent_of(half, RoundingMode::HalfEven),
        Ok(usd(12))
    );
    assert_eq!(usd(25).percent_of(half, RoundingMode::HalfUp), Ok(usd(13)));
    assert_eq!(
        Percent::from_basis_points(10_001),
        Err(MoneyError::PercentOutOfRange(10_001))
    );
    assert!(serde_json::from_str::<Percent>("20000").is_err());
    assert_eq!(half.to_string(), "50.00%");
}

#[test]
fn percentages_parse_from_exact_decimal_text() {
    for (text, basis_points) in [
        ("12.5", 1_250),
        ("0.01", 1),
        ("100", 10_000),
        ("100.00", 10_000),
        ("007", 700),
        ("0", 0),
    ] {
        let percent = Percent::parse(text).expect(text);
        assert_eq!(percent.basis_points(), basis_points, "{text}");
    }
    for text in [
        "",
        "-5",
        "+5",
        "100.01",
        "101",
        "12.345",
        "1e2",
        "12.",
        ".5",
        " 5",
        "5%",
        "NaN",
        "99999999999999999999",
        "１２",
    ] {
        assert!(Percent::parse(text).is_err(), "{text:?} must be refused");
    }
    for (basis_points, text) in [
        (1_250, "12.5"),
        (5, "0.05"),
        (10_000, "100"),
        (1_234, "12.34"),
    ] {
        let percent = Percent::from_basis_points(basis_points).expect("in range");
        assert_eq!(percent.to_decimal_string(), text);
        assert_eq!(Percent::parse(text), Ok(percent), "round trip of {text}");
    }
}

#[test]
fn allocation_splits_exactly_by_largest_remainder() {
    let parts = allocate_proportionally(usd(100), &[usd(1), usd(1), usd(1)]).expect("allocate");
    assert_eq!(parts, vec![usd(34), usd(33), usd(33)]);
    let parts =
        allocate_proportionally(usd(10), &[usd(300), usd(600), usd(100)]).expect("allocate");
    assert_eq!(parts, vec![usd(3), usd(6), usd(1)]);
    let parts = allocate_proportionally(usd(5), &[usd(0), usd(0)]).expect("allocate");
    assert_eq!(parts, vec![usd(3), usd(2)]);
    assert_eq!(allocate_proportionally(usd(0), &[]), Ok(vec![]));
    assert!(allocate_proportionally(usd(1), &[]).is_err());
    assert!(allocate_proportionally(usd(-1), &[usd(1)]).is_err());
    assert!(allocate_proportionally(usd(1), &[usd(-1), usd(3)]).is_err());
    assert!(allocate_proportionally(usd(1), &[Money::new(1, Currency::EUR)]).is_err());
}

#[test]
fn rates_parse_exactly_and_normalise() {
    let rate = Rate::parse("1.0850").expect("rate");
    assert_eq!((rate.mantissa(), rate.scale()), (1085, 3));
    assert_eq!(rate.to_string(), "1.085");
    assert_eq!(Rate::parse("0.0071").expect("rate").to_string(), "0.0071");
    assert_eq!(Rate::parse("155").expect("rate").to_string(), "155");
    for bad in [
        "0",
        "0.000",
        "",
        "-1",
        "1.",
        ".5",
        "1e3",
        "1.0000000000001",
        "1234567890123456789",
    ] {
        assert!(Rate::parse(bad).is_err(), "{bad}");
    }
    let json = serde_json::to_string(&rate).expect("serialise");
    assert_eq!(json, "\"1.085\"");
    assert_eq!(serde_json::from_str::<Rate>(&json).expect("parse"), rate);
}

#[test]
fn conversion_rounds_once_to_the_target_minor_unit() {
    let eur_usd = ExchangeRate {
        base: Currency::EUR,
        quote: Currency::USD,
        rate: Rate::parse("1.0845").expect("rate"),
    };
    // 19.99 EUR × 1.0845 = 21.679155 USD → 2168 cents.
    assert_eq!(
        eur_usd.convert(Money::new(1999, Currency::EUR), RoundingMode::HalfEven),
        Ok(usd(2168))
    );
    // 10.00 EUR × 1.0845 = 1084.5 cents: a tie, so the modes differ.
    let ten = Money::new(1000, Currency::EUR);
    assert_eq!(eur_usd.convert(ten, RoundingMode::HalfEven), Ok(usd(1084)));
    assert_eq!(eur_usd.convert(ten, RoundingMode::HalfUp), Ok(usd(1085)));
    // The inverse direction divides by the rate: 21.68 / 1.0845 = 19.9907 EUR.
    assert_eq!(
        eur_usd.convert(usd(2168), RoundingMode::HalfEven),
        Ok(Money::new(1999, Currency::EUR))
    );
    let usd_jpy = ExchangeRate {
        base: Currency::USD,
        quote: Currency::JPY,
        rate: Rate::parse("155.25").expect("rate"),
    };
    assert_eq!(
        usd_jpy.convert(usd(1999), RoundingMode::HalfEven),
        Ok(Money::new(3103, Currency::JPY))
    );
    let usd_kwd = ExchangeRate {
        base: Currency::USD,
        quote: Currency::KWD,
        rate: Rate::parse("0.3075").expect("rate"),
    };
    assert_eq!(
        usd_kwd.convert(usd(1000), RoundingMode::HalfEven),
        Ok(Money::new(3075, Currency::KWD))
    );
    assert!(eur_usd
        .convert(Money::new(1, Currency::GBP), RoundingMode::HalfEven)
        .is_err());
    assert_eq!(
        eur_usd.convert(Money::new(i64::MAX, Currency::EUR), RoundingMode::HalfEven),
        Err(MoneyError::Overflow)
    );
}

proptest! {
    #[test]
    fn addition_never_panics_and_is_exact_when_it_fits(a in any::<i64>(), b in any::<i64>()) {
        match usd(a).checked_add(usd(b)) {
            Ok(sum) => prop_assert_eq!(i128::from(sum.amount()), i128::from(a) + i128::from(b)),
            Err(error) => {
                prop_assert_eq!(error, MoneyError::Overflow);
                prop_assert!(i64::try_from(i128::from(a) + i128::from(b)).is_err());
            }
        }
    }

    #[test]
    fn subtraction_undoes_addition(a in -(1_i64 << 60)..(1_i64 << 60), b in -(1_i64 << 60)..(1_i64 << 60)) {
        let sum = usd(a).checked_add(usd(b)).expect("no overflow in range");
        prop_assert_eq!(sum.checked_sub(usd(b)), Ok(usd(a)));
    }

    #[test]
    fn multiplication_never_panics(a in any::<i64>(), factor in any::<i64>()) {
        let exact = i128::from(a) * i128::from(factor);
        match usd(a).checked_mul(factor) {
            Ok(product) => prop_assert_eq!(i128::from(product.amount()), exact),
            Err(_) => prop_assert!(i64::try_from(exact).is_err()),
        }
    }

    #[test]
    fn a_percentage_is_within_half_a_minor_unit(amount in 0_i64..(1_i64 << 50), bps in 0_u32..=10_000) {
        let percent = Percent::from_basis_points(bps).expect("in range");
        for mode in [RoundingMode::HalfEven, RoundingMode::HalfUp] {
            let share = usd(amount).percent_of(percent, mode).expect("fits");
            let exact = i128::from(amount) * i128::from(bps);
            let error = (i128::from(share.amount()) * 10_000 - exact).abs();
            prop_assert!(error <= 5_000, "{amount} × {bps}bp → {share:?}");
            prop_assert!(share.amount() >= 0 && share.amount() <= amount);
        }
    }

    #[test]
    fn allocation_sums_exactly_and_is_never_negative(
        total in 0_i64..1_000_000_000,
        weights in prop::collection::vec(0_i64..1_000_000_000, 1..40),
    ) {
        let weights: Vec<Money> = weights.into_iter().map(usd).collect();
        let parts = allocate_proportionally(usd(total), &weights).expect("valid input");
        prop_assert_eq!(parts.len(), weights.len());
        prop_assert!(parts.iter().all(|p| !p.is_negative()));
        prop_assert_eq!(Money::sum(Currency::USD, &parts), Ok(usd(total)));
        let weight_sum: i64 = weights.iter().map(Money::amount).sum();
        if total <= weight_sum {
            for (part, weight) in parts.iter().zip(&weights) {
                prop_assert!(part.amount() <= weight.amount(), "{part:?} > {weight:?}");
            }
        }
    }

    #[test]
    fn allocation_is_proportional_within_one_minor_unit(
        total in 0_i64..1_000_000,
        weights in prop::collection::vec(1_i64..1_000_000, 1..20),
    ) {
        let weights: Vec<Money> = weights.into_iter().map(usd).collect();
        let sum: i128 = weights.iter().map(|w| i128::from(w.amount())).sum();
        let parts = allocate_proportionally(usd(total), &weights).expect("valid input");
        for (part, weight) in parts.iter().zip(&weights) {
            let floor = i128::from(total) * i128::from(weight.amount()) / sum;
            let part = i128::from(part.amount());
            prop_assert!(part == floor || part == floor + 1);
        }
    }

    #[test]
    fn conversion_round_trips_within_rounding(amount in 0_i64..1_000_000_000, mantissa in 1_u64..10_000_000, scale in 0_u8..=6) {
        let rate = Rate::new(mantissa, scale).expect("valid");
        let pair = ExchangeRate { base: Currency::EUR, quote: Currency::USD, rate };
        let converted = pair.convert(Money::new(amount, Currency::EUR), RoundingMode::HalfEven).expect("fits");
        let exact = i128::from(amount) * i128::from(mantissa);
        let scaled = i128::from(converted.amount()) * 10_i128.pow(u32::from(scale));
        prop_assert!((scaled * 2 - exact * 2).abs() <= 10_i128.pow(u32::from(scale)));
    }

    #[test]
    fn decimal_text_round_trips(amount in any::<i64>()) {
        for currency in [Currency::USD, Currency::JPY, Currency::KWD] {
            let money = Money::new(amount, currency);
            let text = money.to_decimal_string();
            if amount != i64::MIN {
                prop_assert_eq!(Money::from_decimal_str(&text, currency), Ok(money));
            }
        }
    }
}
