"""The trading engine: event bus, strategies, risk, orders, positions and portfolio.

Import the parts from their modules (`kraken_tui.engine.engine.TradingEngine`, ...); this
package imports nothing itself, so importing one part does not load them all.
"""
