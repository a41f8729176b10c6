-- Billing in the tenant's own file: the usage ledger learns corrections and the agent each record belongs to,
-- daily rollups kept in the same transaction as every ledger row, invoices with their lines and credit notes,
-- which calls voxedge itself carries (they hold a concurrent-call slot), and usage reported to Stripe.
-- Money is a decimal string (e.g. '12.34') next to its ISO 4217 currency, never floating point.

-- The ledger, rebuilt to allow corrections: an `adjustment` is a new row (negative or positive) with a
-- reason; nothing is ever updated or deleted (the triggers below refuse it).
create table usage_events_new (
    id              integer primary key,
    idempotency_key text not null unique,
    call_id         text references calls (id),
    agent_id        text,                        -- the call's agent ('' in rollups when none)
    metric          text not null check (metric in
                      ('call_ms', 'stt_audio_ms', 'llm_input_tokens', 'llm_output_tokens', 'tts_characters')),
    quantity        integer not null,
    kind            text not null default 'usage' check (kind in ('usage', 'adjustment')),
    reason          text,                        -- why an adjustment was made
    occurred_at     integer not null,
    check (kind = 'adjustment' or quantity >= 0),
    check (kind = 'usage' or reason is not null)
) strict;
insert into usage_events_new (id, idempotency_key, call_id, agent_id, metric, quantity, kind, occurred_at)
    select u.id, u.idempotency_key, u.call_id, c.agent_id, u.metric, u.quantity, 'usage', u.occurred_at
    from usage_events u left join calls c on c.id = u.call_id;
drop table usage_events;
alter table usage_events_new rename to usage_events;
create index usage_events_by_time on usage_events (occurred_at, metric);
create index usage_events_by_call on usage_events (call_id);

create trigger usage_events_append_only_update before update on usage_events begin
    select raise(abort, 'the usage ledger is append-only: record an adjustment instead');
end;
create trigger usage_events_append_only_delete before delete on usage_events begin
    select raise(abort, 'the usage ledger is append-only: record an adjustment instead');
end;

-- Daily totals per agent and metric (UTC days: unix ms / 86 400 000). Changed in the same transaction as
-- each ledger row, so they always equal the ledger (`voxedge usage verify` proves it).
create table usage_daily (
    day      integer not null,
    agent_id text not null,                      -- '' for usage without an agent
    metric   text not null,
    quantity integer not null,
    events   integer not null,
    primary key (day, agent_id, metric)
) strict, without rowid;
insert into usage_daily (day, agent_id, metric, quantity, events)
    select occurred_at / 86400000, coalesce(agent_id, ''), metric, sum(quantity), count(*)
    from usage_events group by 1, 2, 3;

-- Calls voxedge carries itself (live calls, placeCall) hold a concurrent-call slot while queued, ringing or
-- in progress; calls recorded through `createCall` run elsewhere and do not.
alter table calls add column carried integer not null default 0 check (carried in (0, 1));
create index calls_carried_open on calls (status) where carried = 1 and status in ('queued', 'ringing', 'in_progress');

-- Monthly invoices (and their lines), computed from the rollups. Amounts are decimal strings; each line is
-- rounded half-even to the cent and the total is the sum of the rounded lines.
create table invoices (
    id                text primary key,          -- ULID
    number            text not null unique,      -- 'VX-202611-0001' style, per tenant
    period_start      integer not null unique,   -- unix ms, 00:00 UTC on the 1st: one invoice per month
    period_end        integer not null,
    status            text not null check (status in ('draft', 'open', 'paid', 'void', 'uncollectible')),
    currency          text not null,
    subtotal          text not null,
    total             text not null,
    created_at        integer not null,
    finalized_at      integer,
    paid_at           integer,
    voided_at         integer,
    uncollectible_at  integer,
    payment_failed_at integer,                   -- last failed payment attempt while unpaid
    stripe_invoice_id text unique
) strict;
create index invoices_by_period on invoices (period_start desc);

create table invoice_lines (
    invoice_id   text not null references invoices (id),
    position     integer not null,
    kind         text not null check (kind in ('base_fee', 'usage')),
    metric       text,                            -- for usage lines
    description  text not null,
    plan         text not null,
    plan_version integer not null,
    period_start integer not null,                -- the days of the month this line covers
    period_end   integer not null,
    quantity     text not null,                   -- billable quantity in the line's unit (after included)
    used         text not null,                   -- quantity used in the unit, before what was included
    included     text not null,                   -- prorated quantity included in the plan
    unit         text not null,                   -- 'month', 'minute', '1k tokens', '1k characters'
    unit_price   text not null,
    amount       text not null,                   -- rounded half-even to the cent
    primary key (invoice_id, position)
) strict, without rowid;

-- Refunds and corrections of an issued invoice: the credited amounts never exceed its total.
create table credit_notes (
    id         text primary key,
    invoice_id text not null references invoices (id),
    amount     text not null,
    reason     text not null,
    created_at integer not null,
    created_by text not null
) strict;
create index credit_notes_by_invoice on credit_notes (invoice_id);

-- Usage reported to Stripe's meters: written before it is sent, so a retry after a crash sends the same
-- report (same identifier) instead of a new one, and Stripe counts it once.
create table stripe_usage_reports (
    id          integer primary key,
    metric      text not null,
    to_event_id integer not null,                -- covers ledger rows up to this id
    quantity    integer not null,
    identifier  text not null unique,
    created_at  integer not null,
    sent_at     integer
) strict;
