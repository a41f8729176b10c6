-- Calls, their timeline and their transcripts.
create table calls (
    id            text primary key,       -- ULID
    agent_id      text not null references agents (id),
    agent_version integer not null,
    direction     text not null check (direction in ('inbound', 'outbound')),
    transport     text not null check (transport in ('phone', 'web')),
    from_address  text,                   -- E.164 number for phone calls, client label for web calls
    to_address    text,
    status        text not null check (status in
                    ('queued', 'ringing', 'in_progress', 'completed', 'failed', 'no_answer', 'busy', 'canceled')),
    ended_reason  text,
    created_at    integer not null,
    answered_at   integer,                -- entered in_progress
    ended_at      integer,
    duration_ms   integer,                -- answered → ended (0 if never answered)
    updated_at    integer not null,
    metadata      text not null default '{}',
    foreign key (agent_id, agent_version) references agent_versions (agent_id, version)
) strict;

create index calls_by_created on calls (created_at desc, id desc);
create index calls_by_status on calls (status, created_at desc, id desc);
create index calls_by_agent on calls (agent_id, created_at desc, id desc);

-- Every change of a call, in order. `seq` numbers a call's events 1, 2, 3, ...
create table call_events (
    id      integer primary key,
    call_id text not null references calls (id),
    seq     integer not null,
    type    text not null,
    data    text not null default '{}',  -- JSON
    at      integer not null,
    unique (call_id, seq)
) strict;

-- What was said. `seq` orders a call's segments; re-sending a segment with the same seq replaces it
-- (a partial result becoming final).
create table transcript_segments (
    id         integer primary key,
    call_id    text not null references calls (id),
    seq        integer not null,
    speaker    text not null check (speaker in ('caller', 'agent')),
    text       text not null,
    start_ms   integer not null,
    end_ms     integer not null,
    confidence real,
    is_final   integer not null check (is_final in (0, 1)),
    created_at integer not null,
    unique (call_id, seq)
) strict;

-- Full-text index over final segments (external content: the text is stored once).
create virtual table transcript_fts using fts5 (
    text,
    content = 'transcript_segments',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

create trigger transcript_fts_insert after insert on transcript_segments when new.is_final = 1 begin
    insert into transcript_fts (rowid, text) values (new.id, new.text);
end;

create trigger transcript_fts_update after update on transcript_segments begin
    insert into transcript_fts (transcript_fts, rowid, text)
        select 'delete', old.id, old.text where old.is_final = 1;
    insert into transcript_fts (rowid, text)
        select new.id, new.text where new.is_final = 1;
end;

create trigger transcript_fts_delete after delete on transcript_segments when old.is_final = 1 begin
    insert into transcript_fts (transcript_fts, rowid, text) values ('delete', old.id, old.text);
end;
