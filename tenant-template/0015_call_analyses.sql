-- Post-call analysis: one row per answered call whose agent analyses calls, written in the transaction that ends
-- the call. The row is the job's state: `pending` until an attempt stores `done` or gives up (`failed`), so a
-- restart picks up where it stopped and a finished analysis is never redone.
create table call_analyses (
    call_id         text primary key references calls (id),
    status          text not null check (status in ('pending', 'done', 'failed')),
    attempts        integer not null default 0,
    next_attempt_at integer not null,
    summary         text,
    success         integer check (success in (0, 1)),  -- null: no success criteria, or not done
    success_reason  text,
    sentiment       text check (sentiment in ('positive', 'neutral', 'negative')),
    extraction      text,                               -- JSON matching the agent's extraction schema
    error_code      text,                               -- why it failed (or why the last attempt did)
    error           text,
    created_at      integer not null,
    updated_at      integer not null,
    completed_at    integer
) strict;

create index call_analyses_due on call_analyses (next_attempt_at) where status = 'pending';
create index call_analyses_by_success on call_analyses (success, call_id) where status = 'done';
