//! The price book a new installation starts with: Free, Pro and Enterprise, priced for a self-hosted platform
//! whose voices run on CPUs (Whisper tiny.en, Silero VAD, Piper) and whose tenants bring their own LLM keys.
//! Operators change any of it with `voxedge plan set`; the README explains each figure.

use rust_decimal::Decimal;

use crate::model::{Currency, PerMetric, PlanTerms};

/// One plan of the default price book.
pub struct DefaultPlan {
    pub id: &'static str,
    pub name: &'static str,
    pub self_serve: bool,
    pub terms: PlanTerms,
}

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

/// Free, Pro, Enterprise.
pub fn plans() -> Vec<DefaultPlan> {
    // LLM tokens are metered but free: tenants pay their LLM provider through their own keys.
    let no_llm_charge = |mut prices: PerMetric<Decimal>| {
        prices.llm_input_tokens = Decimal::ZERO;
        prices.llm_output_tokens = Decimal::ZERO;
        prices
    };
    vec![
        DefaultPlan {
            id: "free",
            name: "Free",
            self_serve: true,
            terms: PlanTerms {
                currency: Currency::usd(),
                base_fee: d(0, 2),
                included: PerMetric {
                    call_ms: d(100, 0),
                    stt_audio_ms: d(100, 0),
                    llm_input_tokens: Decimal::ZERO,
                    llm_output_tokens: Decimal::ZERO,
                    tts_characters: d(50, 0),
                },
                unit_prices: no_llm_charge(PerMetric {
                    call_ms: d(2, 2),
                    stt_audio_ms: d(6, 3),
                    tts_characters: d(15, 3),
                    ..PerMetric::default()
                }),
                concurrent_calls: Some(2),
                monthly_minutes: Some(100),
                stripe_price_id: None,
            },
        },
        DefaultPlan {
            id: "pro",
            name: "Pro",
            self_serve: true,
            terms: PlanTerms {
                currency: Currency::usd(),
                base_fee: d(4900, 2),
                included: PerMetric {
                    call_ms: d(2_000, 0),
                    stt_audio_ms: d(2_000, 0),
                    llm_input_tokens: Decimal::ZERO,
                    llm_output_tokens: Decimal::ZERO,
                    tts_characters: d(1_000, 0),
                },
                unit_prices: no_llm_charge(PerMetric {
                    call_ms: d(2, 2),
                    stt_audio_ms: d(6, 3),
                    tts_characters: d(15, 3),
                    ..PerMetric::default()
                }),
                concurrent_calls: Some(10),
                monthly_minutes: Some(20_000),
                stripe_price_id: None,
            },
        },
        DefaultPlan {
            id: "enterprise",
            name: "Enterprise",
            self_serve: false,
            terms: PlanTerms {
                currency: Currency::usd(),
                base_fee: d(49_900, 2),
                included: PerMetric {
                    call_ms: d(25_000, 0),
                    stt_audio_ms: d(25_000, 0),
                    llm_input_tokens: Decimal::ZERO,
                    llm_output_tokens: Decimal::ZERO,
                    tts_characters: d(15_000, 0),
                },
                unit_prices: no_llm_charge(PerMetric {
                    call_ms: d(15, 3),
                    stt_audio_ms: d(4, 3),
                    tts_characters: d(1, 2),
                    ..PerMetric::default()
                }),
                concurrent_calls: Some(50),
                monthly_minutes: None,
                stripe_price_id: None,
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_price_book_is_valid() {
        let plans = plans();
        assert_eq!(
            plans.iter().map(|p| p.id).collect::<Vec<_>>(),
            ["free", "pro", "enterprise"]
        );
        for plan in &plans {
            assert!(plan.terms.problems().is_empty(), "{}", plan.id);
        }
        assert_eq!(plans[1].terms.base_fee.to_string(), "49.00");
    }
}
