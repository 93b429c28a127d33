-- Approved reply templates: a reviewer approves the words once; a reply
-- that uses them unchanged, or fills only their declared placeholders with
-- values the content screen passes, needs no new review. Each use names
-- the template in its intent. Retired templates stay for the journal's
-- sake but can no longer be used.
CREATE TABLE reply_templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- The words, with {placeholder} where a value goes.
    body TEXT NOT NULL,
    -- The declared placeholders, as a JSON array of names.
    placeholders TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    retired_at BIGINT,
    retired_by TEXT,
    -- The template.approve event.
    audit_event_id TEXT NOT NULL
);
