"""Yahoo Finance through yfinance: one batched call per chunk of symbols (the chain hands
``fetch`` ``network.chunk_size`` series at a time, each chunk with its own deadline),
adjusted closes (``auto_adjust=True``); each symbol's answer is checked by
``accept_download`` (dates against the cache and the snapshot; values not, as adjusted
history is re-scaled). With ``network.yahoo_chart_url`` set, the chart API at that root is
fetched directly (``fetch_yahoo_chart``: a mirror, or a local stand-in in tests)."""

import json
import urllib.parse

import pandas as pd

from corrflow.data.http_client import FetchError, check_host_resolves, http_get, unreadable_answer
from corrflow.data.sources.base import FetchContext, Live, Source

COLUMN = "Close (auto_adjust=True: adjusted close)"


def normalise_yahoo_frame(frame: pd.DataFrame, symbols: list[str]) -> dict[str, pd.Series]:
    """yfinance's frame (MultiIndex (field, ticker) or flat) -> adjusted close per symbol."""
    out: dict[str, pd.Series] = {}
    if frame is None or frame.empty:
        return out
    if isinstance(frame.columns, pd.MultiIndex):
        level = 0 if "Close" in frame.columns.get_level_values(0) else 1
        closes = frame.xs("Close", axis=1, level=level)
    else:
        closes = frame[["Close"]].rename(columns={"Close": symbols[0]})
    index = (
        pd.DatetimeIndex(closes.index).tz_localize(None).normalize()
        if closes.index.tz is not None
        else pd.DatetimeIndex(closes.index).normalize()
    )
    for symbol in symbols:
        if symbol in closes.columns:
            series = pd.Series(closes[symbol].to_numpy(dtype="float64"), index=index).dropna()
            if len(series):
                out[symbol] = series
    return out


def fetch_yahoo_batch(symbols: list[str], start: str, end: str, network: dict) -> pd.DataFrame:
    """One batched yfinance call; auto_adjust pinned (adjusted closes, used for returns)."""
    import yfinance as yf

    check_host_resolves("https://query1.finance.yahoo.com")
    # yfinance's end date is exclusive; ours is inclusive
    end_exclusive = (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    return yf.download(
        symbols,
        start=start,
        end=end_exclusive,
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
        timeout=network["timeout_s"],
        group_by="column",
        multi_level_index=True,
    )


def yahoo_chart_request(root: str, symbol: str, start: str, end: str) -> str:
    """The chart API's URL for one symbol: the symbol escaped into one path segment (a
    hostile ``../x?crumb=`` stays the symbol), the range as Unix seconds, end inclusive."""
    period1 = int(pd.Timestamp(start, tz="UTC").timestamp())
    period2 = int((pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).timestamp())
    query = urllib.parse.urlencode(
        {"period1": period1, "period2": period2, "interval": "1d", "events": "div,split"}
    )
    return f"{root.rstrip('/')}/v8/finance/chart/{urllib.parse.quote(symbol, safe='')}?{query}"


def parse_yahoo_chart(body: bytes, symbol: str) -> pd.Series | None:
    """Yahoo's chart JSON -> adjusted closes on the exchange's local dates; None when
    Yahoo says it has no data for the symbol. An answer for another symbol is WrongSeries;
    any other shape raises (a refusal at ``RetryPolicy.call``'s boundary)."""
    chart = json.loads(body)["chart"]
    if chart.get("error"):
        return None
    result = chart["result"][0]
    answered = result["meta"].get("symbol")
    if answered != symbol:
        raise FetchError(
            f"WrongSeries: asked Yahoo for {symbol!r}, the answer is for {str(answered)[:40]!r}",
            code="WrongSeries",
            retryable=False,
        )
    stamps = result.get("timestamp") or []
    adjusted = result["indicators"]["adjclose"][0]["adjclose"] if stamps else []
    if len(adjusted) != len(stamps):
        raise FetchError(
            f"Malformed: Yahoo's chart for {symbol} has {len(stamps)} dates and {len(adjusted)} closes",
            code="Malformed",
        )
    zone = result["meta"].get("exchangeTimezoneName") or "UTC"
    local = pd.to_datetime(pd.Series(stamps, dtype="int64"), unit="s", utc=True).dt.tz_convert(zone)
    index = pd.DatetimeIndex(local.dt.tz_localize(None).dt.normalize(), name="Date")
    values = pd.to_numeric(pd.Series(adjusted, dtype="object"), errors="raise").to_numpy(dtype="float64")
    return pd.Series(values, index=index, name=symbol)


def fetch_yahoo_chart(symbols: list[str], start: str, end: str, network: dict) -> pd.DataFrame:
    """yfinance's frame ((Close, ticker) columns: adjusted closes) from the chart API at
    ``network.yahoo_chart_url``, one request per symbol; a symbol Yahoo has no data for
    is left out, as yfinance leaves it."""
    closes = {}
    for symbol in symbols:
        url = yahoo_chart_request(network["yahoo_chart_url"], symbol, start, end)
        body = http_get(url, network["timeout_s"])
        try:
            series = parse_yahoo_chart(body, symbol)
        except FetchError:
            raise
        except Exception as err:  # noqa: BLE001 (any shape but the chart's: refused, with its reason)
            raise unreadable_answer(err, f"yahoo {symbol}") from None
        if series is not None:
            closes[("Close", symbol)] = series
    if not closes:
        return pd.DataFrame()
    return pd.concat(closes, axis=1)


class YahooSource(Source):
    name = "yahoo"
    label = "Yahoo"

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        symbols = [spec.get("symbol", spec["id"]) for spec in specs]
        chart_api = fetch_yahoo_chart if ctx.network.get("yahoo_chart_url") else fetch_yahoo_batch
        yahoo_fetch = ctx.yahoo_fetch or chart_api

        def attempt() -> dict[str, tuple[pd.Series | None, list[str], str | None]]:
            try:
                frame = yahoo_fetch(symbols, ctx.start, ctx.end, ctx.network)
            except FetchError:
                raise
            # yfinance raises its own and curl's types, YFRateLimitError among them
            except Exception as err:  # noqa: BLE001
                raise FetchError(f"{type(err).__name__}: {err}", code=type(err).__name__) from None
            closes = normalise_yahoo_frame(frame, symbols)
            if not closes:
                raise FetchError(
                    "EmptyAnswer: yfinance returned an empty frame (offline, rate-limited or bad tickers)",
                    code="EmptyAnswer",
                )
            answers, errors = {}, []
            for spec, symbol in zip(specs, symbols, strict=False):
                if symbol not in closes:
                    continue
                series = (
                    closes[symbol].rename(spec["id"]).loc[pd.Timestamp(ctx.start) : pd.Timestamp(ctx.end)]
                )
                try:
                    # Yahoo re-scales adjusted history after every dividend: dates are compared, not values
                    accepted = ctx.accept(series, spec, f"yahoo {symbol}", compare_values=False)
                    answers[symbol] = (series, accepted.notes, None)
                except FetchError as err:
                    errors.append(err)
                    answers[symbol] = (None, [], err)
            if errors and len(errors) == len(answers):
                raise errors[0]  # nothing usable in this answer: a failed attempt
            return answers

        done = ctx.policy.call(attempt, f"yahoo {','.join(symbols)}")
        out: dict[str, Live] = {}
        for spec, symbol in zip(specs, symbols, strict=False):
            live = Live.from_attempts(done, column=COLUMN)
            answer = (done.result or {}).get(symbol)
            if answer is not None and answer[0] is not None:
                live.series, live.notes, live.last_error = answer[0], answer[1], None
            elif answer is not None:
                live.last_error = answer[2].code
                live.refused.append(str(answer[2]))
            elif done.result is not None:
                live.last_error = "EmptySeries"  # the batch answered, without this symbol
                live.refused.append(f"EmptySeries: yahoo {symbol}: the batch's answer has no values for it")
            out[spec["id"]] = live
        return out
