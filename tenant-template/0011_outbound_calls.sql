-- A call's dynamic variables: the values its agent's `{{name}}` placeholders were filled with, as given when the
-- call was placed (placeCall, a campaign's contact row).
create table call_variables (
    call_id   text primary key references calls (id),
    variables text not null                -- JSON object: name -> text
) strict;

-- Calls placed through Twilio's REST API: our call, Twilio's call SID, and what Twilio last said about it.
-- `call_sid` is null while the request to Twilio is in flight; after a crash such a row is settled by asking
-- Twilio whether the call exists (so a call is never placed twice, nor forgotten).
create table twilio_calls (
    call_id      text primary key references calls (id),
    call_sid     text unique,
    requested_at integer not null,         -- when the request to Twilio began
    status       text,                     -- Twilio's last CallStatus (queued, ringing, in-progress, ...)
    answered_by  text,                     -- Twilio's answering-machine verdict
    updated_at   integer not null
) strict;
