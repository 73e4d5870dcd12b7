-- Mapping changes the merchant can undo. Every table edit, bulk action, wizard run or
-- CSV import is one batch; its items keep the mapping each listing (or channel buyer)
-- had before and the one the batch gave it, so undo can restore the exact previous
-- state and can tell when something changed the same record since.
CREATE TABLE mapping_batches (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    source     TEXT NOT NULL,              -- table, bulk, wizard, csv, auto, adopt
    summary    TEXT NOT NULL DEFAULT '',
    released   INTEGER NOT NULL DEFAULT 0, -- held orders the batch released
    created_at REAL NOT NULL,
    undone_at  REAL
);
CREATE INDEX mapping_batches_open ON mapping_batches(channel_id, id) WHERE undone_at IS NULL;

CREATE TABLE mapping_batch_items (
    batch_id        INTEGER NOT NULL REFERENCES mapping_batches(id) ON DELETE CASCADE,
    listing_id      INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
    old_product_id  INTEGER,
    old_method      TEXT,
    old_linked_at   REAL,
    old_ignored     INTEGER NOT NULL,
    old_is_new      INTEGER NOT NULL,
    new_product_id  INTEGER,
    new_method      TEXT,
    new_ignored     INTEGER NOT NULL,
    created_product INTEGER NOT NULL DEFAULT 0, -- the batch made new_product_id from the listing
    PRIMARY KEY (batch_id, listing_id)
) WITHOUT ROWID;
CREATE INDEX mapping_batch_items_listing ON mapping_batch_items(listing_id);

-- Order lines a batch gave a product (held orders it released): undo returns exactly
-- these to waiting, whatever happened to their order since.
CREATE TABLE mapping_batch_lines (
    batch_id      INTEGER NOT NULL REFERENCES mapping_batches(id) ON DELETE CASCADE,
    order_line_id INTEGER NOT NULL REFERENCES order_lines(id) ON DELETE CASCADE,
    PRIMARY KEY (batch_id, order_line_id)
) WITHOUT ROWID;

CREATE TABLE mapping_batch_customers (
    batch_id         INTEGER NOT NULL REFERENCES mapping_batches(id) ON DELETE CASCADE,
    channel_id       INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_ref     TEXT NOT NULL,
    old_customer_id  INTEGER,
    old_linked_at    REAL,
    new_customer_id  INTEGER,
    created_customer INTEGER NOT NULL DEFAULT 0, -- the batch made new_customer_id
    PRIMARY KEY (batch_id, channel_id, external_ref)
) WITHOUT ROWID;
CREATE INDEX mapping_batch_customers_ref ON mapping_batch_customers(channel_id, external_ref);

-- Case-insensitive SKU lookups (the products screen's "matches several products" check
-- and the pickers' LIKE search) without scanning the catalogue.
CREATE INDEX products_sku_nocase ON products(sku COLLATE NOCASE);
CREATE INDEX customers_email_nocase ON customers(email COLLATE NOCASE);

-- "New" means a listing that appeared after the channel was set up: listings read by
-- the first sync are the catalogue the merchant maps with the wizard, not news. Listings
-- already here when this version arrives were seen on the Products screen before.
UPDATE listings SET is_new = 0;
CREATE TRIGGER listings_new_only_after_setup AFTER INSERT ON listings
WHEN (SELECT first_import_done FROM channels WHERE id = NEW.channel_id) = 0
BEGIN
    UPDATE listings SET is_new = 0 WHERE id = NEW.id;
END;
