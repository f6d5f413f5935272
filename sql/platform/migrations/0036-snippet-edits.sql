-- Snippets can be renamed, edited and deleted (Loam's own PATCH / DELETE /v1/snippets/{id}): who changed one last
-- is kept, as Supabase's snippet shape reports it (`updated_by`).

alter table platform_private.snippets add column updated_by uuid references platform.accounts on delete set null;
comment on column platform_private.snippets.updated_by is 'The account that last changed the snippet (null: its owner, or an account since deleted).';
