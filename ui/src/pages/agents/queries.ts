import { CONFIG_FIELDS, type AgentConfig } from "./agentConfig";

export interface Agent {
  id: string;
  name: string;
  activeVersion: number;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  config: AgentConfig;
}

export interface AgentVersionSummary {
  version: number;
  name: string;
  note: string | null;
  createdBy: string;
  createdAt: string;
}

const AGENT_FIELDS = `id name activeVersion archivedAt createdAt updatedAt config { ${CONFIG_FIELDS} }`;

export const AGENTS = `query Agents($first: Int!, $after: String, $includeArchived: Boolean!) {
  agents(first: $first, after: $after, includeArchived: $includeArchived) {
    nodes { id name activeVersion archivedAt updatedAt config { language llm { primary { provider model } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const AGENT = `query Agent($id: ID!) { agent(id: $id) { ${AGENT_FIELDS} } }`;

export const AGENT_VERSIONS = `query AgentVersions($id: ID!, $first: Int!, $after: String) {
  agent(id: $id) {
    versions(first: $first, after: $after) {
      nodes { version name note createdBy createdAt }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const AGENT_VERSION = `query AgentVersion($id: ID!, $number: Int!) {
  agent(id: $id) { version(number: $number) { version name config { ${CONFIG_FIELDS} } } }
}`;

export const CREATE_AGENT = `mutation CreateAgent($input: CreateAgentInput!) { createAgent(input: $input) { id } }`;

export const UPDATE_AGENT = `mutation UpdateAgent($id: ID!, $input: UpdateAgentInput!) {
  updateAgent(id: $id, input: $input) { ${AGENT_FIELDS} }
}`;

export const ROLLBACK_AGENT = `mutation RollbackAgent($id: ID!, $version: Int!) {
  rollbackAgent(id: $id, version: $version) { ${AGENT_FIELDS} }
}`;

export const ARCHIVE_AGENT = `mutation ArchiveAgent($id: ID!) { archiveAgent(id: $id) { ${AGENT_FIELDS} } }`;
export const UNARCHIVE_AGENT = `mutation UnarchiveAgent($id: ID!) { unarchiveAgent(id: $id) { ${AGENT_FIELDS} } }`;
