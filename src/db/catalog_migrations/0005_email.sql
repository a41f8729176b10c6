-- Email: verified addresses, single-use links (email verification, password reset) and the outbox every
-- email goes through. Timestamps are unix milliseconds (UTC).

-- Accounts that existed before verification did are taken as verified: nobody is locked out by an upgrade.
alter table users add column email_verified_at integer;
update users set email_verified_at = created_at;

-- Links mailed to a user: `vxv_<id>_<secret>` (verify the email address) and `vxp_<id>_<secret>` (reset the
-- password). Only the SHA-256 of the secret is stored; each works once, until it expires.
create table email_tokens (
    id          text primary key,                 -- ULID
    user_id     text not null references users (id),
    purpose     text not null check (purpose in ('verify_email', 'reset_password')),
    secret_hash text not null,
    created_at  integer not null,
    expires_at  integer not null,
    used_at     integer
) strict;

create index email_tokens_by_user on email_tokens (user_id, purpose);

-- Every email waits here until sent; the sender retries with backoff and survives restarts. The message is
-- sealed with the server key (it holds single-use links) and wiped once sent or given up.
create table email_outbox (
    id              text primary key,             -- ULID, also the Message-ID's local part
    kind            text not null,                -- 'verify_email', 'reset_password', 'invite', 'billing_*'
    sealed          text,                         -- the rendered message (Secrets::encrypt), null once done
    status          text not null default 'pending' check (status in ('pending', 'sent', 'logged', 'failed')),
    attempts        integer not null default 0,
    next_attempt_at integer,                      -- null once sent or failed
    last_error      text,
    created_at      integer not null,
    sent_at         integer
) strict;

create index email_outbox_due on email_outbox (next_attempt_at) where status = 'pending';
