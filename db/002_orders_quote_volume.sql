-- Market buys sized in the quote currency (Kraken's `viqc`): the amount to spend. NULL for
-- orders sized in base; for the others `volume` is 0 and `filled` counts the base bought.
ALTER TABLE orders ADD COLUMN quote_volume TEXT;
