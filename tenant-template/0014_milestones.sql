-- Onboarding milestones: when the tenant first did each thing that shows it is getting value (the portal's
-- getting-started checklist, and operators' activation figures). Triggers record them in the same
-- transaction as the change itself, whatever code path makes it; a milestone, once reached, never moves.
--   first_agent         an agent was created
--   first_call          a call connected (reached in_progress)
--   first_phone_number  a phone number was routed to an agent
--   first_paid_invoice  an invoice was paid (billing records it with repo::milestones::reach)
create table milestones (
    name       text primary key check (name in
                 ('first_agent', 'first_call', 'first_phone_number', 'first_paid_invoice')),
    reached_at integer not null
) strict;

create trigger milestones_first_agent after insert on agents begin
    insert or ignore into milestones (name, reached_at) values ('first_agent', new.created_at);
end;

create trigger milestones_first_call_inserted after insert on calls
when new.answered_at is not null begin
    insert or ignore into milestones (name, reached_at) values ('first_call', new.answered_at);
end;

create trigger milestones_first_call_answered after update of answered_at on calls
when new.answered_at is not null begin
    insert or ignore into milestones (name, reached_at) values ('first_call', new.answered_at);
end;

create trigger milestones_first_phone_number after insert on phone_numbers begin
    insert or ignore into milestones (name, reached_at) values ('first_phone_number', new.created_at);
end;

-- What existing tenants had already done.
insert into milestones (name, reached_at)
    select 'first_agent', min(created_at) from agents having count(*) > 0;
insert into milestones (name, reached_at)
    select 'first_call', min(answered_at) from calls where answered_at is not null having count(*) > 0;
insert into milestones (name, reached_at)
    select 'first_phone_number', min(created_at) from phone_numbers having count(*) > 0;
