-- A key is sent only to its provider's public endpoint, or to the base URL stored with it here (set by an owner
-- or admin). Changing an agent's base URL can then never redirect an existing key elsewhere.
alter table llm_keys add column base_url text;               -- null: the provider's public endpoint only
