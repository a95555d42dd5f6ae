"""FRED: the JSON/XML API through fredapi with a key (FRED_API_KEY), the public CSV
download without. Both go through ``_http.http_get_within``; every answer is checked by
``accept_download`` before it counts.

The attempt's deadline (``network.timeout_s``) bounds the transfer, not the parsing:
fredapi turns each observation into a Python datetime, about 3 s for DGS10's 16,000 rows
on a busy machine, and a healthy server must not time out for that. The series id and the
key are URL-escaped (a symbol such as ``DGS3MO&api_key=x`` stays one parameter).
"""

import urllib.parse
import xml.etree.ElementTree as ET

import pandas as pd

from corrflow.data.http_client import FetchError, Throttle, http_get_within, redact
from corrflow.data.sources.base import FetchContext, Live, Source
from corrflow.data.sources.csv_format import NonFiniteValueError, parse_series_csv
from corrflow.io import InputDataError

FRED_DATE_HEADERS = ("observation_date", "DATE")
THROTTLE_S = 0.5  # FRED answers 429 above about 2 requests/s


def fetch_fred_csv(
    symbol: str, series_id: str, start: str, end: str, network: dict, deadline_s: float
) -> pd.Series:
    """The keyless CSV download; its header must name the series asked for."""
    query = urllib.parse.urlencode({"id": symbol, "cosd": start, "coed": end})
    body = http_get_within(f"{network['fred_csv_url']}?{query}", deadline_s, f"fred {series_id}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError("Malformed: FRED CSV answer is not UTF-8 text", code="Malformed") from None
    header = [h.strip() for h in text.lstrip("\ufeff").split("\n", 1)[0].split(",")]
    if len(header) != 2 or header[0] not in FRED_DATE_HEADERS:
        raise FetchError(f"Malformed: not FRED's CSV (first line {header[:3]})", code="Malformed")
    if header[1] != symbol:
        raise FetchError(
            f"WrongSeries: asked for {symbol}, the answer's header names {header[1]}",
            code="WrongSeries",
            retryable=False,
        )
    try:
        return parse_series_csv(text, series_id, column=symbol, origin=f"FRED CSV for {symbol}")
    except NonFiniteValueError as err:
        raise FetchError(f"NotFinite: {err}", code="NotFinite", retryable=False) from None
    except InputDataError as err:
        raise FetchError(f"Malformed: {err}", code="Malformed") from None


def fetch_fred_api(
    symbol: str, series_id: str, start: str, end: str, network: dict, api_key: str, deadline_s: float
) -> pd.Series:
    """One series through fredapi, its request made by ``http_get_within`` (fredapi's own
    ``urlopen`` has no timeout and turns every HTTP error into a ValueError)."""
    import fredapi

    class Fred(fredapi.Fred):
        def _Fred__fetch_data(self, url):  # fredapi's private fetch, name-mangled
            key = urllib.parse.quote(self.api_key, safe="")
            body = http_get_within(url + "&api_key=" + key, deadline_s, f"fred {series_id}", self.api_key)
            try:
                root = ET.fromstring(body)
            except ET.ParseError as err:
                raise FetchError(
                    f"Malformed: FRED answer is not whole XML ({err})", code="Malformed"
                ) from None
            count = root.get("count")
            limit = int(root.get("limit") or 100000)
            if count is not None and count.isdigit() and len(root) < min(int(count), limit):
                raise FetchError(
                    f"Truncated: FRED announced {count} observations and sent {len(root)}", code="Truncated"
                )
            return root

    fred = Fred(api_key=api_key)
    fred.root_url = network["fred_api_url"].rstrip("/")
    try:
        # fredapi pastes the id into its URL as it is
        data = fred.get_series(
            urllib.parse.quote(symbol, safe=""), observation_start=start, observation_end=end
        )
    except ValueError as err:  # fredapi: a value that is not a number
        raise FetchError(
            redact(f"Malformed: FRED value not a number ({err})", api_key), code="Malformed"
        ) from None
    if data.empty:
        raise FetchError(
            f"EmptySeries: FRED returned no observations for {symbol}", code="EmptySeries", retryable=False
        )
    series = pd.Series(
        pd.to_numeric(data, errors="coerce").to_numpy(dtype="float64"),
        index=pd.DatetimeIndex(data.index, name="date").normalize(),
        name=series_id,
    )
    return series.sort_index()


class FredSource(Source):
    name = "fred"
    label = "FRED"

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        # one throttle for the whole source: the spacing holds across chunks
        ctx.throttle = throttle = ctx.throttle or Throttle(THROTTLE_S)
        out: dict[str, Live] = {}
        for spec in specs:
            series_id, symbol = spec["id"], spec.get("symbol", spec["id"])
            label = f"fred {series_id}"

            def attempt(deadline_s, series_id=series_id, symbol=symbol, spec=spec, label=label):
                throttle.wait()
                timeout_s = ctx.network["timeout_s"]
                deadline_s = timeout_s if deadline_s is None else min(deadline_s, timeout_s)
                if ctx.api_key:
                    series = fetch_fred_api(
                        symbol, series_id, ctx.start, ctx.end, ctx.network, ctx.api_key, deadline_s
                    )
                else:
                    series = fetch_fred_csv(symbol, series_id, ctx.start, ctx.end, ctx.network, deadline_s)
                series = series.loc[pd.Timestamp(ctx.start) : pd.Timestamp(ctx.end)]
                return series, ctx.accept(series, spec, label)

            # the deadline covers each transfer; parsing and the checks run after it
            done = ctx.policy.call(attempt, label, bounds_itself=True)
            live = Live.from_attempts(done, column=symbol)
            if done.result is not None:
                live.series, accepted = done.result
                live.notes, live.revisions = accepted.notes, accepted.revisions
            out[series_id] = live
        return out
