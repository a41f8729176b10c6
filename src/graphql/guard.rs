//! Checks on a GraphQL document before it is validated or run, over HTTP and WebSocket alike:
//!
//! - at most one identity mutation (`signUp`, `login`, `acceptInvite`, `refreshSession`,
//!   `switchTenant`) per request: aliases (or fragments) would otherwise let one request create twenty
//!   accounts or try twenty passwords while counting once against per-request limits;
//! - at most `--graphql-max-aliases` field aliases, the usual way to multiply an expensive field;
//! - at most `--graphql-max-complexity` fields once fragments are expanded, so a few kilobytes of nested
//!   fragment spreads cannot make validation itself do exponential work.
//!
//! Fragment sizes are computed once each (memoised), so the check is linear in the document's size.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Name, Request, ServerError, ServerResult};

use crate::error::ErrorCode;

/// The mutations that sign someone in or create an identity; a request may run one of them.
pub const IDENTITY_MUTATIONS: [&str; 5] = [
    "signUp",
    "login",
    "acceptInvite",
    "refreshSession",
    "switchTenant",
];

/// The extension factory to register on the schema.
pub struct DocumentGuard {
    pub max_aliases: usize,
    /// Fields in the expanded document (the complexity limit: each field costs at least 1).
    pub max_fields: usize,
}

impl ExtensionFactory for DocumentGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            max_aliases: self.max_aliases,
            max_fields: self.max_fields,
        })
    }
}

struct GuardExtension {
    max_aliases: usize,
    max_fields: usize,
}

#[async_trait::async_trait]
impl Extension for GuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A document that does not parse is reported by the parser's own step, with its code.
        if let Ok(document) = request.parsed_query() {
            self.check(document)?;
        }
        next.run(ctx, request).await
    }
}

impl GuardExtension {
    fn check(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let mut counter = Counter {
            document,
            fragments: HashMap::new(),
            visiting: HashSet::new(),
        };
        for (_, operation) in document.operations.iter() {
            let counts = counter.selection_set(&operation.node.selection_set.node);
            if operation.node.ty == OperationType::Mutation && counts.identity > 1 {
                return Err(refusal(
                    ErrorCode::TooManyIdentityMutations,
                    format!(
                        "a request may run at most one of {} (this one has {}); send them one by one",
                        IDENTITY_MUTATIONS.join(", "),
                        counts.identity
                    ),
                ));
            }
            if counts.aliases > self.max_aliases {
                return Err(refusal(
                    ErrorCode::TooManyAliases,
                    format!(
                        "the document uses {} field aliases; at most {} are allowed",
                        counts.aliases, self.max_aliases
                    ),
                ));
            }
            if counts.fields > self.max_fields {
                return Err(refusal(
                    ErrorCode::QueryTooComplex,
                    format!(
                        "the document selects {} fields once fragments are expanded; at most {} are allowed",
                        counts.fields, self.max_fields
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn refusal(code: ErrorCode, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    err
}

/// What a selection set amounts to once fragments are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    aliases: usize,
    fields: usize,
    /// Identity mutation fields directly in the set (through fragments too, not inside other fields).
    identity: usize,
}

impl Counts {
    fn add(&mut self, other: Counts, with_identity: bool) {
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.fields = self.fields.saturating_add(other.fields);
        if with_identity {
            self.identity = self.identity.saturating_add(other.identity);
        }
    }
}

struct Counter<'d> {
    document: &'d ExecutableDocument,
    /// Fragment name → its counts, each computed once.
    fragments: HashMap<Name, Counts>,
    /// Fragments being counted (a cycle counts as nothing here; validation refuses it).
    visiting: HashSet<Name>,
}

impl Counter<'_> {
    fn selection_set(&mut self, set: &SelectionSet) -> Counts {
        let mut counts = Counts::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    counts.fields = counts.fields.saturating_add(1);
                    counts.aliases += usize::from(field.alias.is_some());
                    counts.identity += usize::from(IDENTITY_MUTATIONS.contains(&&*field.name.node));
                    let nested = self.selection_set(&field.selection_set.node);
                    counts.add(nested, false);
                }
                Selection::FragmentSpread(spread) => {
                    let nested = self.fragment(&spread.node.fragment_name.node);
                    counts.add(nested, true);
                }
                Selection::InlineFragment(inline) => {
                    let nested = self.selection_set(&inline.node.selection_set.node);
                    counts.add(nested, true);
                }
            }
        }
        counts
    }

    fn fragment(&mut self, name: &Name) -> Counts {
        if let Some(counts) = self.fragments.get(name) {
            return *counts;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Counts::default();
        };
        if !self.visiting.insert(name.clone()) {
            return Counts::default();
        }
        let counts = self.selection_set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        self.fragments.insert(name.clone(), counts);
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), &'static str> {
        let guard = GuardExtension {
            max_aliases: 5,
            max_fields: 100,
        };
        let document = async_graphql::parser::parse_query(query).unwrap();
        guard.check(&document).map_err(|err| {
            let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
            match code {
                Some(async_graphql::Value::String(code)) => {
                    ErrorCode::from_code(&code).map_or("?", ErrorCode::as_str)
                }
                _ => "?",
            }
        })
    }

    #[test]
    fn one_identity_mutation_per_request_however_it_is_written() {
        assert_eq!(check("mutation { signUp(input: {}) { role } }"), Ok(()));
        assert_eq!(
            check("mutation { a: signUp(input: {}) { role } b: signUp(input: {}) { role } }"),
            Err("TOO_MANY_IDENTITY_MUTATIONS")
        );
        assert_eq!(
            check("mutation { login(input: {}) { role } refreshSession { role } }"),
            Err("TOO_MANY_IDENTITY_MUTATIONS")
        );
        assert_eq!(
            check(
                "mutation { ...F ...F } fragment F on Mutation { acceptInvite(input: {}) { role } }"
            ),
            Err("TOO_MANY_IDENTITY_MUTATIONS")
        );
        assert_eq!(
            check("mutation { ... on Mutation { a: login { role } } login { role } }"),
            Err("TOO_MANY_IDENTITY_MUTATIONS")
        );
        assert_eq!(
            check("mutation { login(input: {}) { role } createAgent { id } }"),
            Ok(()),
            "other mutations may come along"
        );
    }

    #[test]
    fn aliases_are_counted_where_fragments_are_spread() {
        assert_eq!(check("{ a: viewer { role } b: viewer { role } }"), Ok(()));
        assert_eq!(
            check("{ a: x b: x c: x d: x e: x f: x }"),
            Err("TOO_MANY_ALIASES")
        );
        assert_eq!(
            check(
                "{ ...F ...G } fragment F on Query { a: x b: x c: x } fragment G on Query { ...F }"
            ),
            Err("TOO_MANY_ALIASES")
        );
    }

    #[test]
    fn nested_fragments_cost_what_they_expand_to_and_are_counted_in_linear_time() {
        let mut query = String::from("{ ...F0 }");
        for i in 0..40 {
            query.push_str(&format!(
                " fragment F{i} on Query {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        query.push_str(" fragment F40 on Query { x }");
        assert_eq!(check(&query), Err("QUERY_TOO_COMPLEX"));
        assert_eq!(
            check("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A x }"),
            Ok(()),
            "cycles are left to validation"
        );
    }
}
