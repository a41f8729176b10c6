import { graphql } from "../../gql";

graphql(`
  fragment AgentConfigFields on AgentConfig {
    systemPrompt
    firstMessage
    language
    voice { voiceId speed }
    llm {
      primary { provider model baseUrl }
      fallbacks { provider model baseUrl }
      temperature
      maxTokens
      apologyMessage
    }
    tools { kind name description parameters url method timeoutMs destinations { name phoneNumber } }
    endCall { maxDurationSecs silenceTimeoutSecs endPhrases silenceReprompt }
    interruption { enabled minWords minDurationMs }
    turnDetection { threshold prefixPaddingMs silenceDurationMs }
  }
`);

graphql(`
  fragment AgentFields on Agent {
    id
    name
    activeVersion
    archivedAt
    createdAt
    updatedAt
    config { ...AgentConfigFields }
  }
`);

export const AGENTS = graphql(`
  query Agents($first: Int!, $after: String, $includeArchived: Boolean!) {
    agents(first: $first, after: $after, includeArchived: $includeArchived) {
      nodes { id name activeVersion archivedAt updatedAt config { language llm { primary { provider model } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const AGENT = graphql(`query Agent($id: ID!) { agent(id: $id) { ...AgentFields } }`);

export const AGENT_VERSIONS = graphql(`
  query AgentVersions($id: ID!, $first: Int!, $after: String) {
    agent(id: $id) {
      versions(first: $first, after: $after) {
        nodes { version name note createdBy createdAt }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const AGENT_VERSION = graphql(`
  query AgentVersion($id: ID!, $number: Int!) {
    agent(id: $id) { version(number: $number) { version name config { ...AgentConfigFields } } }
  }
`);

export const CREATE_AGENT = graphql(`mutation CreateAgent($input: CreateAgentInput!) { createAgent(input: $input) { id } }`);

export const UPDATE_AGENT = graphql(`
  mutation UpdateAgent($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { ...AgentFields } }
`);

export const ROLLBACK_AGENT = graphql(`
  mutation RollbackAgent($id: ID!, $version: Int!) { rollbackAgent(id: $id, version: $version) { ...AgentFields } }
`);

export const ARCHIVE_AGENT = graphql(`mutation ArchiveAgent($id: ID!) { archiveAgent(id: $id) { ...AgentFields } }`);
export const UNARCHIVE_AGENT = graphql(`mutation UnarchiveAgent($id: ID!) { unarchiveAgent(id: $id) { ...AgentFields } }`);
