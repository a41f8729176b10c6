//! Plans and their terms: what a tenant pays (a monthly base fee, unit prices for usage beyond what is
//! included) and what it may do (concurrent calls, call minutes per month).
//!
//! Usage is metered in base units (milliseconds, tokens, characters) and priced in billing units: call and
//! STT minutes, thousands of LLM tokens, thousands of TTS characters ([`billing_unit`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::Currency;
use super::usage::Metric;

/// How many base units make one billing unit of `metric`, and the unit's name.
pub fn billing_unit(metric: Metric) -> (i64, &'static str) {
    match metric {
        Metric::CallMs | Metric::SttAudioMs => (60_000, "minute"),
        Metric::LlmInputTokens | Metric::LlmOutputTokens => (1_000, "1k tokens"),
        Metric::TtsCharacters => (1_000, "1k characters"),
    }
}

/// A quantity in base units as billing units, exactly (e.g. 90 000 ms → 1.5 minutes).
pub fn in_billing_units(metric: Metric, base_units: i64) -> Decimal {
    let (per_unit, _) = billing_unit(metric);
    Decimal::from(base_units) / Decimal::from(per_unit)
}

/// One value per metric.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerMetric<T> {
    pub call_ms: T,
    pub stt_audio_ms: T,
    pub llm_input_tokens: T,
    pub llm_output_tokens: T,
    pub tts_characters: T,
}

impl<T> PerMetric<T> {
    pub fn get(&self, metric: Metric) -> &T {
        match metric {
            Metric::CallMs => &self.call_ms,
            Metric::SttAudioMs => &self.stt_audio_ms,
            Metric::LlmInputTokens => &self.llm_input_tokens,
            Metric::LlmOutputTokens => &self.llm_output_tokens,
            Metric::TtsCharacters => &self.tts_characters,
        }
    }

    pub fn get_mut(&mut self, metric: Metric) -> &mut T {
        match metric {
            Metric::CallMs => &mut self.call_ms,
            Metric::SttAudioMs => &mut self.stt_audio_ms,
            Metric::LlmInputTokens => &mut self.llm_input_tokens,
            Metric::LlmOutputTokens => &mut self.llm_output_tokens,
            Metric::TtsCharacters => &mut self.tts_characters,
        }
    }
}

/// What a plan costs and allows. Stored as JSON in the catalog's price book; money as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTerms {
    pub currency: Currency,
    /// Charged per month, prorated by the day.
    pub base_fee: Decimal,
    /// Included per month (prorated by the day), in billing units.
    pub included: PerMetric<Decimal>,
    /// Price per billing unit beyond what is included.
    pub unit_prices: PerMetric<Decimal>,
    /// Calls voxedge carries at once (queued, ringing or in progress); `None`: unlimited.
    pub concurrent_calls: Option<u32>,
    /// Call minutes per calendar month (UTC) after which new calls are refused; `None`: unlimited.
    pub monthly_minutes: Option<u64>,
    /// The Stripe price the tenant's subscription is to (see the README: Stripe).
    #[serde(default)]
    pub stripe_price_id: Option<String>,
}

/// Terms that replace a plan's for one tenant (Enterprise agreements). Absent fields keep the plan's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TermsOverride {
    pub base_fee: Option<Decimal>,
    pub included: PerMetric<Option<Decimal>>,
    pub unit_prices: PerMetric<Option<Decimal>>,
    /// `Some(None)` lifts the limit. Absent stays absent when stored, so a stored override never lifts a
    /// limit it did not name.
    #[serde(with = "double_option", skip_serializing_if = "Option::is_none")]
    pub concurrent_calls: Option<Option<u32>>,
    #[serde(with = "double_option", skip_serializing_if = "Option::is_none")]
    pub monthly_minutes: Option<Option<u64>>,
    pub stripe_price_id: Option<String>,
}

impl TermsOverride {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl PlanTerms {
    /// These terms with a tenant's overrides applied.
    pub fn with(&self, overrides: &TermsOverride) -> Self {
        let mut terms = self.clone();
        if let Some(fee) = overrides.base_fee {
            terms.base_fee = fee;
        }
        for metric in Metric::ALL {
            if let Some(included) = overrides.included.get(metric) {
                *terms.included.get_mut(metric) = *included;
            }
            if let Some(price) = overrides.unit_prices.get(metric) {
                *terms.unit_prices.get_mut(metric) = *price;
            }
        }
        if let Some(limit) = overrides.concurrent_calls {
            terms.concurrent_calls = limit;
        }
        if let Some(limit) = overrides.monthly_minutes {
            terms.monthly_minutes = limit;
        }
        if let Some(price) = &overrides.stripe_price_id {
            terms.stripe_price_id = Some(price.clone());
        }
        terms
    }

    /// Problems with these terms (negative money, prices with more than 6 decimals), as messages.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |what: String, value: Decimal| {
            if value.is_sign_negative() {
                problems.push(format!("{what} must not be negative"));
            }
            if value.scale() > 6 {
                problems.push(format!("{what} has more than 6 decimal places"));
            }
        };
        check("base fee".into(), self.base_fee);
        for metric in Metric::ALL {
            check(
                format!("included {}", metric.as_str()),
                *self.included.get(metric),
            );
            check(
                format!("unit price of {}", metric.as_str()),
                *self.unit_prices.get(metric),
            );
        }
        problems
    }
}

/// `Option<Option<T>>` in JSON: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(inner) => inner.serialize(serializer),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn terms() -> PlanTerms {
        PlanTerms {
            currency: Currency::usd(),
            base_fee: d("49.00"),
            included: PerMetric {
                call_ms: d("2000"),
                ..PerMetric::default()
            },
            unit_prices: PerMetric {
                call_ms: d("0.02"),
                ..PerMetric::default()
            },
            concurrent_calls: Some(10),
            monthly_minutes: Some(20_000),
            stripe_price_id: None,
        }
    }

    #[test]
    fn terms_round_trip_as_json_with_decimal_strings() {
        let json = serde_json::to_value(terms()).unwrap();
        assert_eq!(json["base_fee"], "49.00");
        assert_eq!(json["unit_prices"]["call_ms"], "0.02");
        let back: PlanTerms = serde_json::from_value(json).unwrap();
        assert_eq!(back, terms());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let overrides: TermsOverride = serde_json::from_str(
            r#"{"base_fee": "999", "unit_prices": {"call_ms": "0.01"}, "monthly_minutes": null}"#,
        )
        .unwrap();
        let changed = terms().with(&overrides);
        assert_eq!(changed.base_fee, d("999"));
        assert_eq!(changed.unit_prices.call_ms, d("0.01"));
        assert_eq!(changed.included.call_ms, d("2000"));
        assert_eq!(changed.concurrent_calls, Some(10));
        assert_eq!(changed.monthly_minutes, None, "null lifts the limit");
        assert!(TermsOverride::default().is_empty());
        // Stored and read back, overrides mean the same: an empty one changes nothing, a lifted limit stays lifted.
        for stored in [TermsOverride::default(), overrides] {
            let back: TermsOverride =
                serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
            assert_eq!(back, stored);
        }
        let stored = serde_json::to_string(&TermsOverride::default()).unwrap();
        let read: TermsOverride = serde_json::from_str(&stored).unwrap();
        assert_eq!(terms().with(&read).concurrent_calls, Some(10));
    }

    #[test]
    fn billing_units_are_exact() {
        assert_eq!(in_billing_units(Metric::CallMs, 90_000), d("1.5"));
        assert_eq!(in_billing_units(Metric::TtsCharacters, 1_500), d("1.5"));
        assert!(terms().problems().is_empty());
        let mut bad = terms();
        bad.base_fee = d("-1");
        bad.unit_prices.tts_characters = d("0.0000001");
        assert_eq!(bad.problems().len(), 2);
    }
}
