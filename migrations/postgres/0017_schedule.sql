-- Scheduling: a post may wait in the queue for its time. publish_at is
-- when it goes out (milliseconds since the epoch, UTC); NULL: as soon as
-- it is approved. claimed_at and claimed_by name the replica that took it
-- to carry it out (state 'approved'): one claim per post, so two
-- replicas never publish it twice; a claim that never finished is marked
-- 'interrupted', never retried.
-- New states: scheduled, pending_reschedule (approved after its time),
-- orphaned (its author's access ended; a reviewer may re-own it),
-- interrupted.
ALTER TABLE reviews ADD COLUMN publish_at BIGINT;
ALTER TABLE reviews ADD COLUMN claimed_at BIGINT;
ALTER TABLE reviews ADD COLUMN claimed_by TEXT;
-- The API token the action came through, if any: revoked (or no longer
-- covering the action) by the time it is carried out, it does not go out.
ALTER TABLE reviews ADD COLUMN token_id TEXT;
CREATE INDEX reviews_due ON reviews (state, publish_at);

-- Approval steps per account tag may ask for reviewers of given directory
-- groups: each approval keeps the reviewer's groups (a JSON array) as they
-- were when they approved.
ALTER TABLE review_approvals ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
