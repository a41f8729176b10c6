//! Money: an exact decimal amount (`rust_decimal`) and its currency. Never floating point — not in storage
//! (decimal strings), not in the API (decimal strings), not in tests.
//!
//! Rounding is one rule everywhere: an amount a customer is charged is rounded to the cent, half to even
//! ("banker's rounding"), once per invoice line or cost figure; totals add rounded lines.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places of a charged amount (every supported currency has cents).
pub const CENT_PLACES: u32 = 2;

/// Rounds to the cent, half to even: 0.125 → 0.12, 0.135 → 0.14, -0.125 → -0.12.
pub fn round_cents(amount: Decimal) -> Decimal {
    let mut rounded =
        amount.round_dp_with_strategy(CENT_PLACES, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(CENT_PLACES);
    rounded
}

/// An ISO 4217 currency code, stored and shown in lowercase (`usd`), like Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn usd() -> Self {
        Self("usd".into())
    }
}

/// Text that is not a three-letter ISO 4217 code.
#[derive(Debug, thiserror::Error)]
#[error("not an ISO 4217 currency code: {0:?}")]
pub struct InvalidCurrency(pub String);

impl FromStr for Currency {
    type Err = InvalidCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_lowercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Self(code))
        } else {
            Err(InvalidCurrency(s.to_string()))
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in `currency`, with cents (`0.00`).
    pub fn zero(currency: Currency) -> Self {
        Self::new(round_cents(Decimal::ZERO), currency)
    }

    /// The amount in the currency's minor unit (cents), as Stripe takes it. `None` if it does not fit or
    /// has fractions of a cent (amounts are rounded before they get here).
    pub fn minor_units(&self) -> Option<i64> {
        let cents = self.amount * Decimal::ONE_HUNDRED;
        if cents.fract() != Decimal::ZERO {
            return None;
        }
        i64::try_from(cents).ok()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.amount,
            self.currency.as_str().to_uppercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounds_half_to_even_at_the_cent() {
        for (input, expected) in [
            ("0.125", "0.12"),
            ("0.135", "0.14"),
            ("0.1250000001", "0.13"),
            ("2.5", "2.50"),
            ("-0.125", "-0.12"),
            ("-0.135", "-0.14"),
            ("0.005", "0.00"),
            ("0.015", "0.02"),
            ("19.999", "20.00"),
            ("0", "0.00"),
        ] {
            assert_eq!(round_cents(d(input)).to_string(), expected, "{input}");
        }
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!("USD".parse::<Currency>().unwrap().as_str(), "usd");
        assert!("us".parse::<Currency>().is_err());
        assert!("u$d".parse::<Currency>().is_err());
    }

    #[test]
    fn minor_units_are_exact_cents() {
        let money = Money::new(d("12.34"), Currency::usd());
        assert_eq!(money.minor_units(), Some(1234));
        assert_eq!(Money::new(d("0.001"), Currency::usd()).minor_units(), None);
        assert_eq!(money.to_string(), "12.34 USD");
    }
}
