-- Voice agents. An agent's configuration is versioned: every change writes a new immutable row in
-- agent_versions, and agents.active_version points at the one in use. Calls pin the version they ran with.
create table agents (
    id             text primary key,      -- ULID
    name           text not null,
    active_version integer not null,
    archived_at    integer,
    created_at     integer not null,
    updated_at     integer not null
) strict;

create index agents_by_created on agents (created_at desc, id desc);

create table agent_versions (
    agent_id   text not null references agents (id),
    version    integer not null,          -- 1, 2, 3, ... per agent
    name       text not null,
    config     text not null,             -- JSON (crate::agents::AgentConfig)
    note       text,                      -- why this version exists ("rollback to v2", ...)
    created_by text not null,
    created_at integer not null,
    primary key (agent_id, version)
) strict, without rowid;
