//! The call's variables in its agent's texts: filling `{{name}}`, and refusing a call that lacks some — before
//! dialling ([`OutboundDial`]) or when the plan is made.

use crate::agents::{ActiveAgent, template};
use crate::error::{ErrorCode, Reportable};
use crate::model::Variables;

/// Why a call cannot start with its agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The agent's texts use variables the call does not have (never filled with blanks).
    #[error("{}", template::missing_message(.0))]
    MissingVariables(Vec<String>),
}

impl Reportable for PlanError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::MissingVariables(_) => ErrorCode::MissingVariables,
        }
    }
}

/// How to place an outbound call with an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundDial {
    /// Ask Twilio for answering-machine detection (asynchronous, waiting for the end of the greeting).
    pub machine_detection: bool,
}

impl OutboundDial {
    /// Checks that `variables` (with the call's numbers) fill every text of `agent`, before anyone is dialled.
    pub fn new(agent: &ActiveAgent, variables: &Variables) -> Result<Self, PlanError> {
        let config = &agent.version.config;
        let missing: Vec<String> = template::required(config)
            .into_iter()
            .filter(|name| variables.get(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(PlanError::MissingVariables(missing));
        }
        Ok(Self {
            machine_detection: config.voicemail.detection,
        })
    }
}

/// Fills `text`, collecting what is missing.
pub(super) fn fill(text: &str, variables: &Variables, missing: &mut Vec<String>) -> String {
    template::fill(text, variables).unwrap_or_else(|names| {
        for name in names {
            if !missing.contains(&name) {
                missing.push(name);
            }
        }
        String::new()
    })
}
