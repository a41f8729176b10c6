-- Limits on sign-in sessions and invitations.
-- A session made by `switchTenant` hangs under the session it was made from (`parent_id`) and ends with
-- it. Every session ends at an absolute time (`expires_at`, unix ms), however often it is refreshed;
-- sessions switched from another inherit their parent's. Rows from before this step have none: their
-- end is `created_at` plus the configured lifetime.
alter table token_families add column parent_id text references token_families (id);
alter table token_families add column expires_at integer;

create index token_families_by_parent on token_families (parent_id) where parent_id is not null;

-- Wrong passwords given to accept an invitation; past a few, the invitation is locked.
alter table invites add column failed_attempts integer not null default 0;
