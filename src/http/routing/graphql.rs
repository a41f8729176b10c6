//! Which GraphQL requests write the catalog: a mutation whose top-level fields include one of
//! [`CATALOG_MUTATIONS`] (fragments followed). Anything that does not parse is left to the GraphQL handler,
//! which reports it properly.

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection, SelectionSet};
use async_graphql::parser::{Positioned, parse_query};
use serde::Deserialize;

use crate::graphql::CATALOG_MUTATIONS;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    query: Option<String>,
    operation_name: Option<String>,
}

/// True when the JSON body runs a mutation that writes the catalog.
pub fn writes_catalog(body: &[u8]) -> bool {
    let Ok(Body {
        query: Some(query),
        operation_name,
    }) = serde_json::from_slice::<Body>(body)
    else {
        return false;
    };
    let Ok(document) = parse_query(&query) else {
        return false;
    };
    let operation = match (&document.operations, operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    let Some(operation) = operation else {
        return false;
    };
    if operation.node.ty != OperationType::Mutation {
        return false;
    }
    let mut names = Vec::new();
    collect_fields(
        &operation.node.selection_set,
        &document.fragments,
        &mut names,
        0,
    );
    names
        .iter()
        .any(|name| CATALOG_MUTATIONS.contains(&name.as_str()))
}

fn collect_fields(
    set: &Positioned<SelectionSet>,
    fragments: &std::collections::HashMap<
        async_graphql::Name,
        Positioned<async_graphql::parser::types::FragmentDefinition>,
    >,
    names: &mut Vec<String>,
    depth: usize,
) {
    // Fragments cannot legally cycle, but a document is untrusted until validated.
    if depth > 8 {
        return;
    }
    for item in &set.node.items {
        match &item.node {
            Selection::Field(field) => names.push(field.node.name.node.to_string()),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                    collect_fields(&fragment.node.selection_set, fragments, names, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                collect_fields(&inline.node.selection_set, fragments, names, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(query: &str, operation: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "query": query, "operationName": operation }))
            .unwrap()
    }

    #[test]
    fn catalog_mutations_are_found_through_aliases_and_fragments() {
        assert!(writes_catalog(&body(
            "mutation { signUp(input: {}) { accessToken } }",
            None
        )));
        assert!(writes_catalog(&body(
            "mutation { a: login(input: {}) { accessToken } }",
            None
        )));
        assert!(writes_catalog(&body(
            "fragment F on Mutation { logout(refreshToken: \"x\") { sessionId } } mutation M { ...F }",
            Some("M")
        )));
        assert!(writes_catalog(&body(
            "mutation { ... on Mutation { inviteMember(input: {}) { id } } }",
            None
        )));
        assert!(!writes_catalog(&body(
            "mutation { createAgent(input: {}) { id } }",
            None
        )));
        assert!(!writes_catalog(&body("{ viewer { role } }", None)));
        assert!(!writes_catalog(&body(
            "query Q { viewer { role } } mutation M { signUp(input: {}) { accessToken } }",
            Some("Q")
        )));
        assert!(!writes_catalog(b"not json"));
        assert!(!writes_catalog(&body("mutation {", None)));
    }
}
