-- Portal users and their access: accounts, memberships (user × tenant × role), sign-in sessions with
-- rotating refresh tokens, and invitations. Timestamps are unix milliseconds (UTC).
create table users (
    id            text primary key,         -- ULID
    email         text not null,            -- as entered, trimmed, domain lowercased
    email_key     text not null unique,     -- fully lowercased: the identity used to sign in
    name          text,
    password_hash text not null,            -- argon2id PHC string
    created_at    integer not null
) strict;

create table memberships (
    tenant_id  text not null references tenants (id),
    user_id    text not null references users (id),
    role       text not null check (role in ('owner', 'admin', 'developer', 'viewer', 'billing')),
    created_at integer not null,
    primary key (tenant_id, user_id)
) strict;

create index memberships_by_user on memberships (user_id, created_at);
-- Exactly one owner per tenant: ownership moves only by transfer, in one transaction.
create unique index memberships_one_owner on memberships (tenant_id) where role = 'owner';

-- A sign-in session: the chain of refresh tokens issued from one sign-in, scoped to one tenant.
-- Revoking the family (sign-out, refresh-token reuse, membership removed) ends every token in it,
-- access tokens included (they name their family in `sid`).
create table token_families (
    id             text primary key,        -- ULID, the access token's `sid`
    user_id        text not null references users (id),
    tenant_id      text not null references tenants (id),
    created_at     integer not null,
    revoked_at     integer,
    revoked_reason text                     -- 'sign_out', 'reuse', 'membership_ended', ...
) strict;

create index token_families_by_member on token_families (user_id, tenant_id);

-- Refresh tokens: `vxr_<id>_<secret>`. Only the SHA-256 of the secret is stored (it has 256 bits of
-- entropy, so a slow hash adds nothing). Each is used once; using a spent one revokes its family.
create table refresh_tokens (
    id          text primary key,
    family_id   text not null references token_families (id),
    secret_hash text not null,
    created_at  integer not null,
    expires_at  integer not null,
    used_at     integer
) strict;

create index refresh_tokens_by_family on refresh_tokens (family_id);

-- Invitations to join a tenant: `vxi_<id>_<secret>`, accepted by a new or existing user with that email.
create table invites (
    id          text primary key,
    tenant_id   text not null references tenants (id),
    email       text not null,
    email_key   text not null,
    role        text not null check (role in ('admin', 'developer', 'viewer', 'billing')),
    secret_hash text not null,
    invited_by  text not null,              -- actor label: 'user:<id>', 'api_key:<id>'
    created_at  integer not null,
    expires_at  integer not null,
    accepted_at integer,
    accepted_by text,                       -- user id
    revoked_at  integer
) strict;

create index invites_by_tenant on invites (tenant_id, created_at desc, id desc);
