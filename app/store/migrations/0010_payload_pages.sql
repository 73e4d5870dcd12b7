-- Orders imported together keep their payloads together: one compressed page per import
-- batch instead of a row of several kilobytes per order. A Selldone page of 250 baskets
-- is about 750 KB as separate pickles and about 65 KB as one compressed page, and every
-- byte is written twice (to the WAL, then to the file). An order's row points at its
-- page and its slot there; an order whose payload was written on its own (an update, a
-- small batch, a payload that is not plain JSON data) keeps it in ``body`` as before,
-- with no page. See app/store/payloads.py.
CREATE TABLE payload_pages (
    id   INTEGER PRIMARY KEY,
    body BLOB NOT NULL -- zlib-compressed pickle of a list of payloads
);
ALTER TABLE order_payloads ADD COLUMN page_id INTEGER REFERENCES payload_pages(id);
ALTER TABLE order_payloads ADD COLUMN slot INTEGER;
-- Finding a page's orders: pruning pages nobody points at, and the foreign key check.
CREATE INDEX order_payloads_page ON order_payloads(page_id);
