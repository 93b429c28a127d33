-- Retention: events at or before the prune point are deleted; the Merkle
-- frontier at that point is kept, with the signed checkpoint of that size,
-- so the remaining history still verifies.
CREATE TABLE audit_prune_point (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL,
    frontier TEXT NOT NULL,
    pruned_at BIGINT NOT NULL
);
