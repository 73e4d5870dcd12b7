-- Why each listing is where it is on the Products screen, kept on the listing itself
-- instead of worked out for every listing on every refresh (several look-ups each; at
-- 100,000 listings the screen's opening sort by state needed them all before it could
-- show its first page). One of:
--   ignored    the merchant chose to leave it alone
--   linked     it has a product
--   stale      it has a product, but its SKU is exactly another product's SKU
--   no_sku     no SKU on the channel
--   duplicate  another listing of its channel has the same SKU
--   several    several products have its SKU apart from upper and lower case
--   exact      one product has exactly its SKU
--   none       no product has its SKU
-- Beside it, linked_sku: the SKU of the product the listing is linked to (NULL when it
-- is not linked), so that the screen's search reads listings alone.
-- listing_why_live works both out from the other tables (``why`` exactly as _WHY in
-- app/ui/products_page.py does), and the triggers below keep listings.why and
-- listings.linked_sku equal to it (tests/unit/test_listing_why.py compares them after
-- random changes).
CREATE VIEW listing_why_live AS
SELECT l.id AS id,
    CASE WHEN l.ignored = 1 THEN 'ignored'
        WHEN pl.product_id IS NOT NULL THEN CASE WHEN l.sku != '' AND p.sku != l.sku
            AND EXISTS (SELECT 1 FROM products q WHERE q.sku = l.sku) THEN 'stale' ELSE 'linked' END
        WHEN l.sku = '' THEN 'no_sku'
        WHEN EXISTS (SELECT 1 FROM listings d WHERE d.channel_id = l.channel_id AND d.sku = l.sku
            AND d.id != l.id) THEN 'duplicate'
        WHEN (SELECT COUNT(*) FROM products q WHERE q.sku = l.sku COLLATE NOCASE) > 1
            THEN 'several'
        WHEN EXISTS (SELECT 1 FROM products q WHERE q.sku = l.sku) THEN 'exact'
        ELSE 'none' END AS why,
    p.sku AS linked_sku
FROM listings l
LEFT JOIN product_links pl ON pl.listing_id = l.id
LEFT JOIN products p ON p.id = pl.product_id;

ALTER TABLE listings ADD COLUMN why TEXT NOT NULL DEFAULT 'none';
ALTER TABLE listings ADD COLUMN linked_sku TEXT;
-- The screen's order by state: conflict 0, unmapped 1, linked 2, ignored 3.
ALTER TABLE listings ADD COLUMN why_rank INTEGER AS (
    CASE why WHEN 'linked' THEN 2 WHEN 'ignored' THEN 3 WHEN 'exact' THEN 1 WHEN 'none' THEN 1
    ELSE 0 END
) VIRTUAL;
-- The screen opens sorted by state, then SKU; its state counts (per channel, with the
-- new ones) read this index alone.
CREATE INDEX listings_why_rank ON listings(why_rank, sku, channel_id, is_new);
-- The listings whose SKU is a product's SKU apart from case, for the product triggers.
CREATE INDEX listings_sku_nocase ON listings(sku COLLATE NOCASE);

UPDATE listings SET (why, linked_sku) =
    (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id);

-- Each change recomputes the listings whose reason it can alter: the listing itself;
-- for a listing's new, removed or changed SKU (or channel), the channel's other listings
-- with that SKU ("duplicate"); for a product's new, removed or changed SKU, the listings
-- whose SKU is that SKU apart from case ("several", "exact", and "stale", which compares
-- a linked listing's SKU with its product's: they are among these) and, for its
-- linked_sku, the listings linked to it. A linked product cannot go or change its id,
-- nor can a linked listing: the links refer to them. (Nothing writes listings or
-- products with INSERT OR REPLACE: the rows it replaces go without their triggers.)
CREATE TRIGGER listings_why_insert AFTER INSERT ON listings
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id = NEW.id;
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE NEW.sku != '' AND channel_id = NEW.channel_id AND sku = NEW.sku AND id != NEW.id;
END;

CREATE TRIGGER listings_why_delete AFTER DELETE ON listings WHEN OLD.sku != ''
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE channel_id = OLD.channel_id AND sku = OLD.sku;
END;

-- A catalogue read writes every listing's SKU again, mostly unchanged: only a real
-- change costs anything.
CREATE TRIGGER listings_why_update AFTER UPDATE OF channel_id, sku, ignored ON listings
WHEN OLD.channel_id IS NOT NEW.channel_id OR OLD.sku IS NOT NEW.sku
    OR OLD.ignored IS NOT NEW.ignored
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id = NEW.id;
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE (OLD.channel_id IS NOT NEW.channel_id OR OLD.sku IS NOT NEW.sku)
        AND OLD.sku != '' AND channel_id = OLD.channel_id AND sku = OLD.sku;
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE (OLD.channel_id IS NOT NEW.channel_id OR OLD.sku IS NOT NEW.sku)
        AND NEW.sku != '' AND channel_id = NEW.channel_id AND sku = NEW.sku AND id != NEW.id;
END;

CREATE TRIGGER product_links_why_insert AFTER INSERT ON product_links
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id = NEW.listing_id;
END;

CREATE TRIGGER product_links_why_delete AFTER DELETE ON product_links
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id = OLD.listing_id;
END;

CREATE TRIGGER product_links_why_update AFTER UPDATE OF listing_id, product_id ON product_links
WHEN OLD.listing_id IS NOT NEW.listing_id OR OLD.product_id IS NOT NEW.product_id
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id IN (OLD.listing_id, NEW.listing_id);
END;

CREATE TRIGGER products_why_insert AFTER INSERT ON products
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE sku = NEW.sku COLLATE NOCASE;
END;

CREATE TRIGGER products_why_delete AFTER DELETE ON products
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE sku = OLD.sku COLLATE NOCASE;
END;

CREATE TRIGGER products_why_update AFTER UPDATE OF sku ON products WHEN OLD.sku IS NOT NEW.sku
BEGIN
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE sku = OLD.sku COLLATE NOCASE;
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE sku = NEW.sku COLLATE NOCASE;
    UPDATE listings SET (why, linked_sku) =
        (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)
    WHERE id IN (SELECT listing_id FROM product_links WHERE product_id = NEW.id);
END;
