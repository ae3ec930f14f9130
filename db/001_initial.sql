-- kraken-tui initial schema.
--
-- Conventions (see kraken_tui/store/codec.py):
--   * money (prices, volumes, fees, PnL, equity) is TEXT holding exact decimal digits, never REAL:
--     a binary double cannot hold 0.1 exactly and sums of fees would drift. Compare and add it in
--     Python with Decimal, not in SQL.
--   * timestamps are ISO-8601 UTC TEXT with microseconds ("2026-01-02T03:04:05.000000+00:00"),
--     fixed width, so text order is time order.
--   * JSON documents are TEXT checked with json_valid().
--   * tables are STRICT: a value of the wrong type is an error, not a silent conversion.
--   * symbols are the WebSocket v2 names ("BTC/USD"); order_id is Kraken's txid.
-- Released migrations are never edited: the runner refuses a file whose checksum changed.

CREATE TABLE strategies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    class       TEXT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    state       TEXT NOT NULL CHECK (state IN ('running', 'paused', 'error', 'stopped')),
    -- what the strategy asked us to keep between runs (its own JSON document)
    state_json  TEXT CHECK (state_json IS NULL OR json_valid(state_json)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE portfolios (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    base_ccy    TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

-- Latest state of each position: one row per (portfolio, symbol, strategy); strategy '' is the
-- account-level net position. closed_at is set while the position is flat.
CREATE TABLE positions (
    id            INTEGER PRIMARY KEY,
    portfolio_id  INTEGER NOT NULL REFERENCES portfolios (id),
    symbol        TEXT NOT NULL,
    strategy      TEXT NOT NULL DEFAULT '',
    qty           TEXT NOT NULL,
    avg_price     TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    fees          TEXT NOT NULL,
    opened_at     TEXT,
    closed_at     TEXT,
    updated_at    TEXT NOT NULL,
    UNIQUE (portfolio_id, symbol, strategy)
) STRICT;

CREATE TABLE trades (
    id           INTEGER PRIMARY KEY,
    strategy_id  INTEGER REFERENCES strategies (id),
    position_id  INTEGER REFERENCES positions (id),
    symbol       TEXT NOT NULL,
    side         TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price        TEXT NOT NULL,
    amount       TEXT NOT NULL,
    timestamp    TEXT NOT NULL
) STRICT;

CREATE INDEX trades_by_strategy ON trades (strategy_id, timestamp);

-- An order row is written with status 'pending_new' before the request leaves the process
-- (write-ahead); startup reconciliation resolves every non-final row against the exchange.
-- strategy is the strategy's name, not a foreign key: adopted external orders have none, and an
-- order's history must survive its strategy being removed from the configuration.
CREATE TABLE orders (
    id             INTEGER PRIMARY KEY,
    trade_id       INTEGER REFERENCES trades (id),
    cl_ord_id      TEXT NOT NULL UNIQUE,
    order_id       TEXT,
    strategy       TEXT,
    symbol         TEXT NOT NULL,
    side           TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    type           TEXT NOT NULL
                   CHECK (type IN ('market', 'limit', 'stop-loss', 'take-profit')),
    price          TEXT,
    trigger_price  TEXT,
    volume         TEXT NOT NULL,
    time_in_force  TEXT NOT NULL CHECK (time_in_force IN ('gtc', 'ioc')),
    post_only      INTEGER NOT NULL DEFAULT 0 CHECK (post_only IN (0, 1)),
    status         TEXT NOT NULL CHECK (status IN (
                       'pending_new', 'new', 'partially_filled', 'filled',
                       'pending_cancel', 'canceled', 'expired', 'rejected')),
    filled         TEXT NOT NULL DEFAULT '0',
    avg_price      TEXT,
    fees           TEXT NOT NULL DEFAULT '0',
    reason         TEXT,
    external       INTEGER NOT NULL DEFAULT 0 CHECK (external IN (0, 1)),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX orders_by_order_id ON orders (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX orders_by_status ON orders (status);
CREATE INDEX orders_by_strategy ON orders (strategy, created_at);
CREATE INDEX orders_by_created_at ON orders (created_at);

-- No foreign key to orders: a fill may be recovered before reconciliation adopts its order.
CREATE TABLE executions (
    id         INTEGER PRIMARY KEY,
    exec_id    TEXT NOT NULL UNIQUE,
    order_id   TEXT NOT NULL,
    cl_ord_id  TEXT,
    symbol     TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price      TEXT NOT NULL,
    qty        TEXT NOT NULL,
    fee        TEXT NOT NULL,
    fee_ccy    TEXT NOT NULL,
    liquidity  TEXT NOT NULL CHECK (liquidity IN ('m', 't')),
    ts         TEXT NOT NULL
) STRICT;

CREATE INDEX executions_by_order_id ON executions (order_id);
CREATE INDEX executions_by_cl_ord_id ON executions (cl_ord_id) WHERE cl_ord_id IS NOT NULL;
CREATE INDEX executions_by_ts ON executions (ts);

CREATE TABLE equity_snapshots (
    id        INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    equity    TEXT NOT NULL,
    peak      TEXT NOT NULL,
    drawdown  TEXT NOT NULL
) STRICT;

CREATE INDEX equity_snapshots_by_ts ON equity_snapshots (ts);

CREATE TABLE event_log (
    id        INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    severity  TEXT NOT NULL
              CHECK (severity IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')),
    source    TEXT NOT NULL,
    message   TEXT NOT NULL
) STRICT;

CREATE INDEX event_log_by_ts ON event_log (ts);

CREATE TABLE reconciliation_log (
    id         INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    cl_ord_id  TEXT,
    order_id   TEXT,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX reconciliation_log_by_ts ON reconciliation_log (ts);

CREATE TABLE backtest_runs (
    id           INTEGER PRIMARY KEY,
    created_at   TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    params       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    data_path    TEXT NOT NULL,
    range_start  TEXT,
    range_end    TEXT,
    metrics      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics))
) STRICT;

CREATE INDEX backtest_runs_by_strategy ON backtest_runs (strategy, created_at);

-- Small engine state that must survive restarts (kill-switch state, last execution seen, ...);
-- value is a JSON document.
CREATE TABLE kv (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL CHECK (json_valid(value)),
    updated_at  TEXT NOT NULL
) STRICT;
