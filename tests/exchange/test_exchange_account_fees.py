"""The adapter reads the account's fees (TradeVolume) when connecting and its instruments
carry them from then on; Kraken's answer shape from docs.kraken.com/api/docs/rest-api/
get-trade-volume and krakenfx/api-specs `spot-rest/schemas/responses/user/trades/volume.yaml`."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sandbox_harness import DEV_API_KEY, DEV_API_SECRET, running_sandbox

from kraken_tui.exchange.account_fees import PairFees, account_fees_from_rest
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.recording.recorder import FlightRecorder
from kraken_tui.recording.recording_file import RecordingHeader, RestEntry, read_recording


def test_trade_volume_answer_gives_taker_and_maker_fractions_per_pair() -> None:
    fees = account_fees_from_rest(
        {
            "currency": "ZUSD",
            "volume": "200709587.4223",
            "fees": {"XXBTZUSD": {"fee": "0.1000", "min_fee": "0.1000", "max_fee": "0.2600"}},
            "fees_maker": {"XXBTZUSD": {"fee": "0.0000"}},
        }
    )
    assert fees.volume == Decimal("200709587.4223")
    assert fees.pairs == {"XXBTZUSD": PairFees(taker=Decimal("0.001"), maker=Decimal(0))}


def test_a_pair_without_a_maker_schedule_pays_its_one_fee_both_ways() -> None:
    fees = account_fees_from_rest({"volume": "0", "fees": {"XETHZUSD": {"fee": "0.2600"}}})
    assert fees.pairs["XETHZUSD"] == PairFees(Decimal("0.0026"), Decimal("0.0026"))


def test_a_fee_that_is_not_a_percentage_is_refused() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        account_fees_from_rest({"volume": "0", "fees": {"X": {"fee": "150"}}})


def test_connect_reads_trade_volume_for_the_traded_pairs_and_instruments_carry_its_fee(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[Decimal, Decimal, list[RestEntry]]:
        async with running_sandbox(rate=0, state_path=tmp_path / "sandbox.sqlite3") as box:
            exchange = KrakenExchange(
                KrakenEndpoints(box.rest_url, box.ws_url, box.ws_auth_url),
                api_key=DEV_API_KEY,
                api_secret=DEV_API_SECRET,
            )
            recorder = FlightRecorder(
                tmp_path / "traffic.jsonl", RecordingHeader("sandbox", "", (), 10), []
            )
            exchange.set_traffic_sink(recorder)
            exchange.use_account_fees_for(["BTC/USD"])
            await exchange.connect()
            await exchange.close()
            recorder.close()
        entries = read_recording(tmp_path / "traffic.jsonl").entries
        rest = [e for e in entries if isinstance(e, RestEntry) and e.method == "TradeVolume"]
        return (
            exchange.instruments["BTC/USD"].taker_fee,
            exchange.instruments["ETH/USD"].taker_fee,
            rest,
        )

    btc_fee, eth_fee, answers = asyncio.run(scenario())
    (answer,) = answers
    assert answer.params == {"pair": "XXBTZUSD"}
    answered = Decimal(answer.envelope["result"]["fees"]["XXBTZUSD"]["fee"]) / 100
    assert btc_fee == answered
    assert eth_fee == Decimal("0.004")  # not asked for: AssetPairs' first tier stays
