-- Kept equal in numbering with SQLite, whose request-id index this drops;
-- PostgreSQL keeps its index (its writes are not the bottleneck).
SELECT 1;
