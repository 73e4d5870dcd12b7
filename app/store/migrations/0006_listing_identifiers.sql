-- Other identifiers a channel gives its listings besides the one listings are keyed by:
-- RetailCRM offers carry the shop's externalId and the warehouse system's xmlId, which
-- link offers to local products more reliably than the article (SKU) does.
CREATE TABLE listing_identifiers (
    listing_id INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (listing_id, kind)
);
CREATE INDEX listing_identifiers_value ON listing_identifiers(kind, value);
