-- Billing: the price book (versioned plans), each tenant's plan history, its payment-provider account and
-- dunning state, and the Stripe events already processed. Money is stored as decimal strings (rust_decimal's
-- text form, e.g. '49.00') next to an ISO 4217 currency code; never as floating point.

-- `past_due` joins the tenant states: a failed payment makes a tenant past due (calls still work), a grace
-- period later it is `suspended` (no new calls). Rebuilt because SQLite cannot alter a column's CHECK.
create table tenants_new (
    id          text primary key,
    slug        text not null unique,
    name        text not null,
    home_region text,
    plan        text not null default 'free',   -- the plan in effect now (history: tenant_plans)
    status      text not null default 'active' check (status in ('active', 'past_due', 'suspended', 'deleted')),
    created_at  integer not null
) strict;
insert into tenants_new (id, slug, name, home_region, plan, status, created_at)
    select id, slug, name, home_region, plan, status, created_at from tenants;
drop table tenants;
alter table tenants_new rename to tenants;

-- The price book. A plan's terms are never changed in place: a price change is a new version, effective
-- from a point in time, so what an invoice already issued was computed from stays as it was.
create table plan_versions (
    plan           text not null,             -- 'free', 'pro', 'enterprise', or an operator's own
    version        integer not null,          -- 1, 2, 3, ... per plan
    name           text not null,
    terms          text not null,             -- JSON: currency, base fee, included quantities, unit prices, limits
    self_serve     integer not null check (self_serve in (0, 1)),  -- tenants may pick it themselves
    effective_from integer not null,          -- unix ms
    created_at     integer not null,
    created_by     text not null,             -- 'cli', 'seed'
    primary key (plan, version)
) strict;

-- Which plan a tenant is on, and since when. The plan in effect at time t is the latest row with
-- effective_from <= t; days before a tenant's first row are not billed.
create table tenant_plans (
    tenant_id      text not null references tenants (id),
    effective_from integer not null,
    plan           text not null,
    overrides      text not null default '{}', -- JSON: terms that replace the plan's for this tenant (Enterprise)
    changed_by     text not null,             -- 'user:<id>', 'api_key:<id>', 'cli', 'stripe', 'migration'
    primary key (tenant_id, effective_from)
) strict;

-- Tenants existing before billing start on their current plan now (nothing before is billed).
insert into tenant_plans (tenant_id, effective_from, plan, changed_by)
    select id, max(created_at, cast(unixepoch('now', 'subsec') * 1000 as integer)), plan, 'migration' from tenants;

-- A tenant's payment-provider account and dunning state.
create table billing_accounts (
    tenant_id              text primary key references tenants (id),
    stripe_customer_id     text unique,
    stripe_subscription_id text,
    past_due_since         integer,           -- first unpaid failed payment (unix ms), while past due
    updated_at             integer not null
) strict;

-- Stripe webhook events already applied: each is processed once however often Stripe delivers it.
create table stripe_events (
    id          text primary key,             -- evt_...
    type        text not null,
    created     integer not null,             -- the event's own time (unix seconds)
    received_at integer not null,
    outcome     text not null                 -- what voxedge did with it
) strict;
