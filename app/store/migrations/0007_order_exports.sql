-- Orders sent to another system (TradeGecko) besides their own channel, and what the
-- stock master says about selling each listing.

-- One row per (destination channel, local order): the reference the order carries
-- there (stable across retries), its id there once created, why it waits (blocked),
-- and how far its life has been mirrored (so each change is queued once).
CREATE TABLE order_exports (
    channel_id      INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    reference       TEXT NOT NULL,
    remote_id       TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'blocked', 'sent')),
    reason          TEXT NOT NULL DEFAULT '',
    mirrored_status TEXT NOT NULL DEFAULT 'requested',
    mirrored_paid   INTEGER NOT NULL DEFAULT 0,
    mirrored_tracking TEXT NOT NULL DEFAULT '',
    shipped         INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (channel_id, order_id)
);
CREATE INDEX order_exports_order ON order_exports(order_id);

-- The stock master's rules for one listing: not tracked, may sell below zero, and the
-- most that may be shown online (NULL: no cap).
CREATE TABLE listing_stock_rules (
    listing_id   INTEGER PRIMARY KEY REFERENCES listings(id) ON DELETE CASCADE,
    manage_stock INTEGER NOT NULL DEFAULT 1,
    keep_selling INTEGER NOT NULL DEFAULT 0,
    max_online   REAL,
    updated_at   REAL NOT NULL
);
