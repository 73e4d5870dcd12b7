"""TradeGecko (QuickBooks Commerce): stock master and destination of exported sales orders.

Stockbridge plays the *sales channel* of TradeGecko's Sales Channel Guide: it reads
per-location stock from TradeGecko (the merchant's inventory master) and writes the
orders taken on the other channels into TradeGecko as sales orders, then walks them
through invoice → pay → pack → fulfil.

Modules: ``client`` (the API client), ``session`` (authenticated, paced HTTP and the
error envelope), ``orders`` (export and lifecycle), ``oauth`` (authorization-code flow
with rotating refresh tokens), ``mapping`` (pure payload translation), ``webhooks``
(signature check and what to re-fetch), ``sandbox`` / ``state`` / ``seed`` (the local
twin of the API).
"""
