-- Facts about the tenant database itself. `tenant_id` is written when the file is created and checked on
-- every open, so a file copied or restored to the wrong path is refused instead of served as another tenant.
create table tenant_meta (
    key   text primary key,
    value text not null
) strict;
