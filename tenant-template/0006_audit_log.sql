-- Who did what: every mutation, sign-in, sign-out and failed sign-in touching this tenant.
create table audit_log (
    id         text primary key,   -- ULID
    at         integer not null,   -- unix milliseconds
    actor      text not null,      -- 'user:<id>', 'api_key:<id>', 'anonymous'
    action     text not null,      -- the mutation's field name, or 'signIn', 'signInFailed', 'signOut'
    target     text,               -- id of what was acted on, when there is one
    outcome    text not null check (outcome in ('success', 'failure')),
    error_code text,               -- stable error code when the outcome is a failure
    ip         text,
    user_agent text
) strict;

create index audit_log_by_at on audit_log (at desc, id desc);
