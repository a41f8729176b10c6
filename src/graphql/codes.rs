//! Gives every GraphQL error a stable `extensions.code`.
//!
//! Resolver errors get theirs from `ApiError`. Errors raised by async-graphql itself get one here:
//! parse failures, validation failures (with depth and complexity limits told apart), an operation that
//! cannot be determined, and input coercion failures during execution.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::error::ErrorCode;

/// The extension factory to register on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        fill_missing_codes(&mut response.errors);
        count(&response.errors);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                fill_missing_codes(&mut response.errors);
                count(&response.errors);
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|err| {
            let code = parse_code(&err.message);
            with_code(err, code)
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|err| {
                    let code = validation_code(&err.message);
                    with_code(err, code)
                })
                .collect()
        })
    }
}

fn count(errors: &[ServerError]) {
    for err in errors {
        crate::error::count_sent(code_of(err).unwrap_or("INTERNAL"));
    }
}

/// The code of an error, if it has one.
pub fn code_of(err: &ServerError) -> Option<&str> {
    match err.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

fn with_code(mut err: ServerError, code: ErrorCode) -> ServerError {
    if code_of(&err).is_none() {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
    err
}

fn parse_code(message: &str) -> ErrorCode {
    // async-graphql checks these limits while parsing, with these fixed messages (schema.rs).
    if message.starts_with("The number of directives on the field") {
        ErrorCode::TooManyDirectives
    } else if message.starts_with("The recursion depth of the query cannot be greater than") {
        ErrorCode::QueryTooDeep
    } else {
        ErrorCode::GraphqlParseFailed
    }
}

fn validation_code(message: &str) -> ErrorCode {
    // async-graphql reports its limits with these fixed messages (validation/mod.rs).
    match message {
        "Query is nested too deep." => ErrorCode::QueryTooDeep,
        "Query is too complex." => ErrorCode::QueryTooComplex,
        _ => ErrorCode::GraphqlValidationFailed,
    }
}

/// Errors that reach the response without a code come from async-graphql's own machinery.
fn fill_missing_codes(errors: &mut Vec<ServerError>) {
    for err in std::mem::take(errors) {
        let code = if err.message.starts_with("Unknown operation named")
            || err.message.starts_with("Operation name required")
        {
            ErrorCode::GraphqlUnknownOperation
        } else {
            // Argument and variable coercion failures ("Invalid value for argument ...").
            ErrorCode::InvalidInput
        };
        errors.push(with_code(err, code));
    }
}
