-- Outbound campaigns: an agent calls a list of contacts within calling windows, a few at a time, retrying
-- busy / unanswered / voicemail outcomes by rule. Everything the scheduler needs after a restart is here.
create table campaigns (
    id                   text primary key,   -- ULID
    name                 text not null,
    agent_id             text not null references agents (id),
    from_number          text not null,      -- E.164, a number of the tenant's Twilio account
    status               text not null check (status in ('draft', 'running', 'paused', 'completed', 'canceled')),
    timezone             text not null,      -- IANA zone for contacts without their own
    windows              text not null,      -- JSON [{"days": [1..7], "start": "09:00", "end": "17:00"}]; [] = any time
    max_concurrent_calls integer not null check (max_concurrent_calls > 0),
    retry                text not null,      -- JSON retry rules (outcomes retried, delay, attempts)
    public_origin        text,               -- where Twilio reaches the server, when --public-url is unset
    created_at           integer not null,
    updated_at           integer not null,
    started_at           integer,
    completed_at         integer
) strict;

create index campaigns_by_created on campaigns (created_at desc, id desc);
create index campaigns_active on campaigns (status) where status in ('running', 'paused');

-- One row per phone number called. `status`: pending (waiting for its next attempt, not before
-- `next_attempt_at`), calling (an attempt is on the phone), done (a final outcome), canceled.
create table campaign_contacts (
    id              text primary key,        -- ULID
    campaign_id     text not null references campaigns (id),
    line            integer not null,        -- the CSV line it came from
    phone_number    text not null,           -- E.164
    timezone        text,                    -- IANA; null: the campaign's
    variables       text not null,           -- JSON object: name -> text
    status          text not null check (status in ('pending', 'calling', 'done', 'canceled')),
    attempts        integer not null default 0,
    next_attempt_at integer,
    outcome         text,                    -- the latest attempt's outcome
    created_at      integer not null,
    updated_at      integer not null,
    unique (campaign_id, phone_number)
) strict;

create index campaign_contacts_due on campaign_contacts (campaign_id, status, next_attempt_at);
create index campaign_contacts_by_line on campaign_contacts (campaign_id, line, id);

-- Every call placed for a contact. (contact, attempt) is unique among attempts that reached Twilio, so an
-- attempt is never placed twice; one whose call never reached Twilio is voided and made again.
create table campaign_attempts (
    id          integer primary key,
    campaign_id text not null references campaigns (id),
    contact_id  text not null references campaign_contacts (id),
    attempt     integer not null,
    call_id     text not null unique references calls (id),
    outcome     text,                        -- null while the call is on
    voided      integer not null default 0 check (voided in (0, 1)),
    created_at  integer not null,
    ended_at    integer
) strict;

create unique index campaign_attempts_once on campaign_attempts (contact_id, attempt) where voided = 0;
create index campaign_attempts_open on campaign_attempts (campaign_id) where outcome is null and voided = 0;
