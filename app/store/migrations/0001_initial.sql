-- Stockbridge schema v1: the local ledger and everything the sync engine keeps.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE warehouses (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    is_default INTEGER NOT NULL DEFAULT 0
);
INSERT INTO warehouses (name, is_default) VALUES ('Main warehouse', 1);

CREATE TABLE products (
    id            INTEGER PRIMARY KEY,
    sku           TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    barcode       TEXT NOT NULL DEFAULT '',
    cost_price    REAL,
    safety_buffer REAL NOT NULL DEFAULT 0 CHECK (safety_buffer >= 0),
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);

-- Append-only ledger. on_hand and committed are the sums of these rows.
CREATE TABLE stock_movements (
    id              INTEGER PRIMARY KEY,
    product_id      INTEGER NOT NULL REFERENCES products(id),
    warehouse_id    INTEGER NOT NULL REFERENCES warehouses(id),
    on_hand_delta   REAL NOT NULL DEFAULT 0,
    committed_delta REAL NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    order_line_id   INTEGER REFERENCES order_lines(id),
    created_at      REAL NOT NULL
);
CREATE INDEX stock_movements_product ON stock_movements(product_id, warehouse_id);
CREATE INDEX stock_movements_line ON stock_movements(order_line_id);

-- A running total of the ledger per product and warehouse, updated in the same
-- transaction as each movement so reads stay fast; rebuildable from the ledger.
CREATE TABLE stock_levels (
    product_id   INTEGER NOT NULL REFERENCES products(id),
    warehouse_id INTEGER NOT NULL REFERENCES warehouses(id),
    on_hand      REAL NOT NULL DEFAULT 0,
    committed    REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, warehouse_id)
) WITHOUT ROWID;

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    postcode   TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);

CREATE TABLE channels (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    platform           TEXT NOT NULL,
    base_url           TEXT NOT NULL,
    account            TEXT NOT NULL DEFAULT '',
    settings           TEXT NOT NULL DEFAULT '{}',
    warehouse_id       INTEGER NOT NULL REFERENCES warehouses(id),
    mapping_mode       TEXT NOT NULL DEFAULT 'sku' CHECK (mapping_mode IN ('sku', 'id')),
    enabled            INTEGER NOT NULL DEFAULT 1,
    first_import_done  INTEGER NOT NULL DEFAULT 0,
    created_at         REAL NOT NULL
);

CREATE TABLE listings (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    product_ref TEXT NOT NULL,
    variant_ref TEXT,
    sku         TEXT NOT NULL DEFAULT '',
    mpn         TEXT NOT NULL DEFAULT '',
    barcode     TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    quantity    REAL,
    ignored     INTEGER NOT NULL DEFAULT 0,
    is_new      INTEGER NOT NULL DEFAULT 1,
    first_seen  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (channel_id, external_id)
);
CREATE INDEX listings_sku ON listings(sku);

CREATE TABLE product_links (
    listing_id INTEGER PRIMARY KEY REFERENCES listings(id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products(id),
    method     TEXT NOT NULL CHECK (method IN ('sku', 'id', 'manual')),
    created_at REAL NOT NULL
);
CREATE INDEX product_links_product ON product_links(product_id);

CREATE TABLE customer_links (
    channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_ref TEXT NOT NULL,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    created_at   REAL NOT NULL,
    PRIMARY KEY (channel_id, external_ref)
);

CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY,
    channel_id         INTEGER NOT NULL REFERENCES channels(id),
    external_id        TEXT NOT NULL,
    number             TEXT NOT NULL,
    status             TEXT NOT NULL,
    payment_status     TEXT NOT NULL,
    needs_mapping      INTEGER NOT NULL DEFAULT 0,
    history_only       INTEGER NOT NULL DEFAULT 0,
    total              REAL NOT NULL DEFAULT 0,
    currency           TEXT NOT NULL DEFAULT '',
    customer_ref       TEXT NOT NULL DEFAULT '',
    customer_name      TEXT NOT NULL DEFAULT '',
    customer_email     TEXT NOT NULL DEFAULT '',
    receiver           TEXT NOT NULL DEFAULT '{}',
    tracking_code      TEXT NOT NULL DEFAULT '',
    tracking_url       TEXT NOT NULL DEFAULT '',
    invoice_number     TEXT NOT NULL DEFAULT '',
    channel_state      TEXT NOT NULL DEFAULT '',
    channel_updated_at REAL NOT NULL DEFAULT 0,
    fingerprint        TEXT NOT NULL DEFAULT '',
    placed_at          REAL,
    imported_at        REAL NOT NULL,
    updated_at         REAL NOT NULL,
    raw                TEXT NOT NULL DEFAULT '{}',
    UNIQUE (channel_id, external_id)
);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_placed ON orders(placed_at);

CREATE TABLE order_lines (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    external_id  TEXT NOT NULL,
    listing_ref  TEXT NOT NULL,
    sku          TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    quantity     REAL NOT NULL CHECK (quantity >= 0),
    unit_price   REAL NOT NULL DEFAULT 0,
    product_id   INTEGER REFERENCES products(id),
    warehouse_id INTEGER REFERENCES warehouses(id),
    fulfil       INTEGER NOT NULL DEFAULT 1,
    committed    REAL NOT NULL DEFAULT 0,
    deducted     REAL NOT NULL DEFAULT 0,
    UNIQUE (order_id, external_id)
);
CREATE INDEX order_lines_product ON order_lines(product_id);
CREATE INDEX order_lines_unmapped ON order_lines(product_id) WHERE product_id IS NULL;

-- What Stockbridge did to an order and what it told the channel, for the order's history.
CREATE TABLE order_events (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id);

-- Payloads a channel sent that could not be read: kept whole, with the reason.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    resolved    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel_id, kind, external_id)
);

-- Durable queue of pushes to channels, written in the same transaction as the
-- local change. dedupe_key coalesces pushes that only need their latest value
-- (stock for a listing): at most one pending row per key.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    dedupe_key      TEXT,
    order_id        INTEGER REFERENCES orders(id),
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    done_at         REAL
);
CREATE INDEX outbox_due ON outbox(channel_id, state, next_attempt_at);
CREATE UNIQUE INDEX outbox_pending_key ON outbox(channel_id, dedupe_key)
    WHERE state = 'pending' AND dedupe_key IS NOT NULL;

CREATE TABLE sync_cursors (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    resource   TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel_id, resource)
);

CREATE TABLE sync_log (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER REFERENCES channels(id) ON DELETE CASCADE,
    started_at  REAL NOT NULL,
    finished_at REAL,
    ok          INTEGER,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sync_log_channel ON sync_log(channel_id, started_at);
