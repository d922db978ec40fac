//! The rate table: rounding at each currency's minor unit, inverse pairs, cross rates through
//! the base currency (exact, rounded once), the age of the rates a conversion used, and
//! overflow as an error.

use chrono::Duration;

use super::at;
use crate::money::{Currency, ExchangeRate, Money, MoneyError, Rate, RoundingMode};
use crate::pricing::*;

fn pair(base: Currency, quote: Currency, rate: &str) -> ExchangeRate {
    ExchangeRate {
        base,
        quote,
        rate: Rate::parse(rate).expect("rate"),
    }
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn convert(rates: &FxRates, money: Money, to: Currency, mode: RoundingMode) -> Money {
    rates.convert(money, to, mode).expect("converts")
}

#[test]
fn ties_round_half_even_at_each_currency_minor_unit() {
    let half_even = RoundingMode::HalfEven;
    let half_up = RoundingMode::HalfUp;
    // JPY has no minor unit: 1.00 EUR × 162.5 = 162.5 JPY, 1.00 EUR × 163.5 = 163.5 JPY.
    let jpy = |rate| {
        [(pair(Currency::EUR, Currency::JPY, rate), at(0))]
            .into_iter()
            .collect()
    };
    let (low, high): (FxRates, FxRates) = (jpy("162.5"), jpy("163.5"));
    let yen = |n| Money::new(n, Currency::JPY);
    assert_eq!(convert(&low, eur(100), Currency::JPY, half_even), yen(162));
    assert_eq!(convert(&high, eur(100), Currency::JPY, half_even), yen(164));
    assert_eq!(convert(&low, eur(100), Currency::JPY, half_up), yen(163));
    assert_eq!(convert(&low, eur(-100), Currency::JPY, half_up), yen(-163));
    assert_eq!(
        convert(&low, eur(-100), Currency::JPY, half_even),
        yen(-162)
    );
    // USD has cents: 0.01 EUR × 1.5 = 1.5 cents, 0.03 EUR × 1.5 = 4.5 cents.
    let usd: FxRates = [(pair(Currency::EUR, Currency::USD, "1.5"), at(0))]
        .into_iter()
        .collect();
    let cents = |n| Money::new(n, Currency::USD);
    assert_eq!(convert(&usd, eur(1), Currency::USD, half_even), cents(2));
    assert_eq!(convert(&usd, eur(3), Currency::USD, half_even), cents(4));
    assert_eq!(convert(&usd, eur(3), Currency::USD, half_up), cents(5));
    // KWD has fils (three decimals): 0.10 EUR × 0.335 = 33.5 fils, 0.30 EUR → 100.5 fils.
    let kwd: FxRates = [(pair(Currency::EUR, Currency::KWD, "0.335"), at(0))]
        .into_iter()
        .collect();
    let fils = |n| Money::new(n, Currency::KWD);
    assert_eq!(convert(&kwd, eur(10), Currency::KWD, half_even), fils(34));
    assert_eq!(convert(&kwd, eur(30), Currency::KWD, half_even), fils(100));
    assert_eq!(convert(&kwd, eur(30), Currency::KWD, half_up), fils(101));
    // And back through the same pair, inversely: 0.100 KWD / 0.335 = 0.2985… EUR → 0.30.
    assert_eq!(convert(&kwd, fils(100), Currency::EUR, half_even), eur(30));
}

#[test]
fn the_opposite_pair_converts_inversely_and_the_direct_one_wins() {
    // Only USD→EUR is known: EUR→USD divides by it. 19.99 EUR / 0.9224 = 21.6717… USD.
    let rates: FxRates = [(pair(Currency::USD, Currency::EUR, "0.9224"), at(1))]
        .into_iter()
        .collect();
    let conversion = rates
        .conversion(Currency::EUR, Currency::USD)
        .expect("inverse pair");
    assert_eq!(
        conversion.rates,
        vec![pair(Currency::USD, Currency::EUR, "0.9224")]
    );
    assert_eq!(conversion.via, None);
    assert_eq!(conversion.rates_as_of, at(1));
    assert_eq!(
        conversion.convert(eur(1_999), RoundingMode::HalfEven),
        Ok(Money::new(2_167, Currency::USD))
    );
    // With both pairs, the direct one is used, also when the table has a base.
    let mut both = FxRates::with_base(Currency::EUR);
    both.insert_at(pair(Currency::USD, Currency::EUR, "0.9224"), at(1));
    both.insert_at(pair(Currency::EUR, Currency::USD, "1.0842"), at(2));
    let direct = both
        .conversion(Currency::EUR, Currency::USD)
        .expect("direct");
    assert_eq!(
        direct.rates,
        vec![pair(Currency::EUR, Currency::USD, "1.0842")]
    );
    assert_eq!(direct.rates_as_of, at(2));
    // A later rate of a pair replaces the earlier one, with its instant.
    both.insert_at(pair(Currency::EUR, Currency::USD, "1.09"), at(5));
    assert_eq!(
        both.get(Currency::EUR, Currency::USD),
        Some(pair(Currency::EUR, Currency::USD, "1.09"))
    );
    assert_eq!(both.as_of(Currency::EUR, Currency::USD), Some(at(5)));
    assert_eq!(both.as_of(Currency::USD, Currency::EUR), Some(at(1)));
    assert_eq!(both.len(), 2);
}

/// ECB-style rates: everything against EUR.
fn ecb() -> FxRates {
    let mut rates = FxRates::with_base(Currency::EUR);
    rates.insert_at(pair(Currency::EUR, Currency::USD, "1.0842"), at(10));
    rates.insert_at(pair(Currency::EUR, Currency::JPY, "162.5"), at(3));
    rates.insert_at(pair(Currency::EUR, Currency::GBP, "0.8312"), at(7));
    // Stored the other way round: the leg is used inversely.
    rates.insert_at(pair(Currency::KWD, Currency::EUR, "2.9985"), at(8));
    rates
}

#[test]
fn cross_rates_go_through_the_base_exactly_and_round_once() {
    let rates = ecb();
    let conversion = rates
        .conversion(Currency::USD, Currency::JPY)
        .expect("through EUR");
    assert_eq!(conversion.via, Some(Currency::EUR));
    assert_eq!(
        conversion.rates,
        vec![
            pair(Currency::EUR, Currency::USD, "1.0842"),
            pair(Currency::EUR, Currency::JPY, "162.5"),
        ]
    );
    // The oldest of the two.
    assert_eq!(conversion.rates_as_of, at(3));
    let usd = |n| Money::new(n, Currency::USD);
    let yen = |n| Money::new(n, Currency::JPY);
    // 0.01 USD / 1.0842 × 162.5 = 1.4988… JPY → 1. Rounding the EUR in between (0.01 EUR)
    // would give 1.625 → 2.
    assert_eq!(
        convert(&rates, usd(1), Currency::JPY, RoundingMode::HalfEven),
        yen(1)
    );
    // 123.45 USD / 1.0842 × 162.5 = 18 502.697… JPY → 18 503 (113.86 EUR in between: 18 502).
    assert_eq!(
        convert(&rates, usd(12_345), Currency::JPY, RoundingMode::HalfEven),
        yen(18_503)
    );
    // GBP → EUR → KWD, the second leg inverse: 100.00 GBP / 0.8312 / 2.9985 = 40.12272… KWD.
    let kwd = rates
        .convert(
            Money::new(10_000, Currency::GBP),
            Currency::KWD,
            RoundingMode::HalfEven,
        )
        .expect("cross");
    assert_eq!(kwd, Money::new(40_123, Currency::KWD));
    assert_eq!(
        rates
            .conversion(Currency::GBP, Currency::KWD)
            .map(|c| c.rates_as_of),
        Some(at(7))
    );
    // Into and out of the base itself: one pair, no `via`.
    let one = rates
        .conversion(Currency::JPY, Currency::EUR)
        .expect("pair");
    assert_eq!((one.rates.len(), one.via), (1, None));
}

#[test]
fn no_rate_is_an_error_and_no_base_means_no_cross_rate() {
    let mut rates = ecb();
    // CHF has no pair with anything.
    assert_eq!(
        rates.convert(eur(100), Currency::CHF, RoundingMode::HalfEven),
        Err(PricingError::NoRate {
            from: Currency::EUR,
            to: Currency::CHF
        })
    );
    assert_eq!(rates.conversion(Currency::USD, Currency::CHF), None);
    // The same currency needs no rate.
    assert_eq!(rates.conversion(Currency::USD, Currency::USD), None);
    assert_eq!(
        rates.convert(eur(5), Currency::EUR, RoundingMode::HalfEven),
        Ok(eur(5))
    );
    // Without a base only pairs convert.
    rates.set_base(None);
    assert_eq!(rates.conversion(Currency::USD, Currency::JPY), None);
    let plain: FxRates = [(pair(Currency::EUR, Currency::USD, "1.0842"), at(0))]
        .into_iter()
        .collect();
    assert_eq!(plain.base(), None);
    assert_eq!(
        plain.convert(
            Money::new(100, Currency::GBP),
            Currency::USD,
            RoundingMode::HalfEven
        ),
        Err(PricingError::NoRate {
            from: Currency::GBP,
            to: Currency::USD
        })
    );
    // A conversion refuses money in another currency than its own.
    let conversion = ecb()
        .conversion(Currency::USD, Currency::JPY)
        .expect("cross");
    assert!(matches!(
        conversion.convert(eur(1), RoundingMode::HalfEven),
        Err(PricingError::Money(MoneyError::CurrencyMismatch { .. }))
    ));
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let rates = ecb();
    assert_eq!(
        rates.convert(eur(i64::MAX), Currency::JPY, RoundingMode::HalfEven),
        Err(PricingError::Money(MoneyError::Overflow))
    );
    assert_eq!(
        rates.convert(eur(i64::MIN), Currency::USD, RoundingMode::HalfEven),
        Err(PricingError::Money(MoneyError::Overflow))
    );
    // Two legs of 18-digit rates: beyond 128 bits in between.
    let mut huge = FxRates::with_base(Currency::EUR);
    huge.insert_at(
        pair(Currency::USD, Currency::EUR, "999999999999999999"),
        at(0),
    );
    huge.insert_at(
        pair(Currency::EUR, Currency::VND, "999999999999999999"),
        at(0),
    );
    assert_eq!(
        huge.convert(
            Money::new(i64::MAX, Currency::USD),
            Currency::VND,
            RoundingMode::HalfEven
        ),
        Err(PricingError::Money(MoneyError::Overflow))
    );
    // Small amounts through the same rates still convert when the result fits.
    let mut tiny = FxRates::with_base(Currency::EUR);
    tiny.insert_at(
        pair(Currency::EUR, Currency::USD, "999999999999999999"),
        at(0),
    );
    tiny.insert_at(
        pair(Currency::EUR, Currency::GBP, "999999999999999999"),
        at(0),
    );
    assert_eq!(
        tiny.convert(
            Money::new(i64::MAX, Currency::USD),
            Currency::GBP,
            RoundingMode::HalfEven
        ),
        Ok(Money::new(i64::MAX, Currency::GBP))
    );
}

#[test]
fn a_chain_of_one_pair_is_the_pair_s_own_conversion() {
    let samples = [
        ("1.0845", 1_999),
        ("0.0000012345", 987_654_321),
        ("162.5", -3),
        ("123456.789012345678", 12_345),
    ];
    for (rate, amount) in samples {
        let eur_usd = pair(Currency::EUR, Currency::USD, rate);
        let rates: FxRates = [(eur_usd, at(0))].into_iter().collect();
        for mode in [RoundingMode::HalfEven, RoundingMode::HalfUp] {
            let money = eur(amount);
            let expected = exact(amount, rate, 2, 2, mode);
            assert_eq!(
                rates.convert(money, Currency::USD, mode),
                Ok(Money::new(expected, Currency::USD)),
                "{rate} × {amount}"
            );
            assert_eq!(
                eur_usd.convert(money, mode).map(|m| m.amount()),
                Ok(expected)
            );
        }
    }
}

/// `amount × rate` in minor units, rounded with the schoolbook definition of the mode.
fn exact(amount: i64, rate: &str, from_exp: u32, to_exp: u32, mode: RoundingMode) -> i64 {
    let rate = Rate::parse(rate).expect("rate");
    let numerator = i128::from(amount) * i128::from(rate.mantissa()) * 10_i128.pow(to_exp);
    let denominator = 10_i128.pow(u32::from(rate.scale()) + from_exp);
    let (quotient, remainder) = (
        numerator.div_euclid(denominator),
        numerator.rem_euclid(denominator),
    );
    let rounded = match (2 * remainder).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => match mode {
            RoundingMode::HalfEven if quotient % 2 == 0 => quotient,
            RoundingMode::HalfEven => quotient + 1,
            RoundingMode::HalfUp if numerator < 0 => quotient,
            RoundingMode::HalfUp => quotient + 1,
        },
    };
    i64::try_from(rounded).expect("fits")
}

#[test]
fn staleness_is_the_age_of_the_oldest_rate_used() {
    let rates = ecb();
    let conversion = rates
        .conversion(Currency::USD, Currency::JPY)
        .expect("cross");
    let stale_after = Duration::hours(48);
    // The JPY rate took effect at hour 3: stale after hour 51, not at it.
    assert!(!conversion.is_stale(at(51), stale_after));
    assert!(conversion.is_stale(at(51) + Duration::seconds(1), stale_after));
    assert!(
        !rate_is_stale(at(10), at(3), stale_after),
        "from the future"
    );
    // A rate inserted without its instant is of unknown age: stale.
    let mut unknown = FxRates::new();
    unknown.insert(pair(Currency::EUR, Currency::USD, "1.0842"));
    let conversion = unknown
        .conversion(Currency::EUR, Currency::USD)
        .expect("pair");
    assert!(conversion.is_stale(at(0), stale_after));
}

fn book(default: Currency, sku: &str, price: Money) -> PriceBook {
    let mut book = PriceBook {
        default_currency: Some(default),
        ..PriceBook::default()
    };
    book.prices
        .entry(sku.into())
        .or_default()
        .insert(price.currency(), price);
    book
}

#[test]
fn a_base_price_says_which_rates_converted_it_and_how_old_they_are() {
    let book = book(Currency::GBP, "TR-42", Money::new(12_999, Currency::GBP));
    let base = resolve_base_price(
        &book,
        "TR-42",
        Currency::USD,
        &ecb(),
        RoundingMode::HalfEven,
    )
    .expect("cross");
    // 129.99 GBP / 0.8312 × 1.0842 = 169.5562… USD.
    assert_eq!(base.price, Money::new(16_956, Currency::USD));
    assert_eq!(
        base.source,
        BasePriceSource::Converted {
            from: Money::new(12_999, Currency::GBP),
            rates: vec![
                pair(Currency::EUR, Currency::GBP, "0.8312"),
                pair(Currency::EUR, Currency::USD, "1.0842"),
            ],
            via: Some(Currency::EUR),
            rates_as_of: at(7),
        }
    );
    let json = serde_json::to_value(&base.source).expect("serialise");
    assert_eq!(json["type"], "converted");
    assert_eq!(json["via"], "EUR");
    assert!(json.get("ratesAsOf").is_some(), "{json}");
    let back: BasePriceSource = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, base.source);
    // No cross rate without a base: the error names the two currencies.
    let mut no_base = ecb();
    no_base.set_base(None);
    assert_eq!(
        resolve_base_price(
            &book,
            "TR-42",
            Currency::USD,
            &no_base,
            RoundingMode::HalfEven
        ),
        Err(PricingError::NoRate {
            from: Currency::GBP,
            to: Currency::USD
        })
    );
}
