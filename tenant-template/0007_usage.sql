-- Metered usage: one row per measured thing, in exact integer base units (milliseconds, tokens, characters).
-- Written in the same transaction as what it measures; `idempotency_key` makes a retried write count once.
create table usage_events (
    id              integer primary key,
    idempotency_key text not null unique,
    call_id         text references calls (id),
    metric          text not null check (metric in
                      ('call_ms', 'stt_audio_ms', 'llm_input_tokens', 'llm_output_tokens', 'tts_characters')),
    quantity        integer not null check (quantity >= 0),
    occurred_at     integer not null
) strict;

create index usage_events_by_time on usage_events (occurred_at, metric);
create index usage_events_by_call on usage_events (call_id);
