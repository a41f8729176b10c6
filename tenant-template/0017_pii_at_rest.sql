-- Personal data at rest (see src/pii.rs). Callers' and contacts' phone numbers, the variables calls were placed
-- with and webhook payloads are sealed with the server key, bound to the tenant and the column; numbers get a
-- blind index (HMAC under the tenant's own key) so "calls with this number" stays an indexed equality lookup.
-- Existing rows are converted here, in the migration's transaction, and the clear columns are dropped: a file is
-- either fully converted or untouched. `pii_seal` / `pii_index` exist only on connections opened with the
-- server's key, so this cannot run (and leave plaintext behind) anywhere else.

alter table calls add column from_sealed text;   -- pii_seal(number or client label, 'calls.from')
alter table calls add column from_index blob;    -- pii_index(number): null when not a phone number
alter table calls add column to_sealed text;
alter table calls add column to_index blob;

update calls
set from_sealed = pii_seal(from_address, 'calls.from'), from_index = pii_index(from_address),
    to_sealed = pii_seal(to_address, 'calls.to'), to_index = pii_index(to_address)
where from_address is not null or to_address is not null;

alter table calls drop column from_address;
alter table calls drop column to_address;

create index calls_by_from on calls (from_index, created_at desc, id desc) where from_index is not null;
create index calls_by_to on calls (to_index, created_at desc, id desc) where to_index is not null;

-- Contacts: the table is rebuilt, as its uniqueness moves from the number to its blind index.
create table campaign_contacts_new (
    id              text primary key,        -- ULID
    campaign_id     text not null references campaigns (id),
    line            integer not null,        -- the CSV line it came from
    phone_sealed    text not null,           -- pii_seal(E.164 number, 'campaign_contacts.phone_number')
    phone_index     blob not null,           -- pii_index(number)
    timezone        text,                    -- IANA; null: the campaign's
    variables       text not null,           -- JSON object: name -> text
    status          text not null check (status in ('pending', 'calling', 'done', 'canceled')),
    attempts        integer not null default 0,
    next_attempt_at integer,
    outcome         text,                    -- the latest attempt's outcome
    created_at      integer not null,
    updated_at      integer not null,
    unique (campaign_id, phone_index)
) strict;

insert into campaign_contacts_new (id, campaign_id, line, phone_sealed, phone_index, timezone, variables, status,
    attempts, next_attempt_at, outcome, created_at, updated_at)
select id, campaign_id, line, pii_seal(phone_number, 'campaign_contacts.phone_number'), pii_index(phone_number),
    timezone, variables, status, attempts, next_attempt_at, outcome, created_at, updated_at
from campaign_contacts;

drop table campaign_contacts;
alter table campaign_contacts_new rename to campaign_contacts;

create index campaign_contacts_due on campaign_contacts (campaign_id, status, next_attempt_at);
create index campaign_contacts_by_line on campaign_contacts (campaign_id, line, id);

-- Whole values sealed in place: a call's variables hold `caller_number` / `called_number` and contact fields;
-- webhook payloads hold calls' numbers and transcripts.
update call_variables set variables = pii_seal(variables, 'call_variables.variables');
update webhook_deliveries set payload = pii_seal(payload, 'webhook_deliveries.payload');
