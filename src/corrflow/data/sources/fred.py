"""FRED: the XML API (``series/observations``, the request fredapi makes) with a key
(FRED_API_KEY), the public CSV download without. Both go through
``http_get_within``; every answer is checked by ``accept_download`` before it counts.

The attempt's deadline (``network.timeout_s``) and the source's budget count the
transfer, not the parsing (recorded apart in the ``.ok`` file's ``parse_s``): fredapi's
row-by-row parsing took 82-104 s per series on a loaded machine, so the answer is read
here in one vectorised pass. The series id and the key are URL-escaped (a symbol such
as ``DGS3MO&api_key=x`` stays one parameter). Whatever an answer holds, a reading error
is a refusal (``RetryPolicy.call``), never a crash.
"""

import urllib.parse
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from corrflow.data.http_client import FetchError, Throttle, http_get_within
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


def parse_fred_observations(body: bytes, symbol: str, series_id: str) -> pd.Series:
    """FRED's observations XML (``<observations count=".." limit=".."><observation
    date=".." value=".."/>...``) -> a float series, "." as missing. Read in one pass
    of the C XML parser and vectorised pandas (fredapi's row-by-row datetime parsing took
    82-104 s per series on a loaded machine); anything else is Malformed."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise FetchError(f"Malformed: FRED answer is not whole XML ({err})", code="Malformed") from None
    if root.tag != "observations":
        raise FetchError(
            f"Malformed: not FRED's observations XML (its root is <{str(root.tag)[:40]}>)", code="Malformed"
        )
    count = root.get("count")
    limit = int(root.get("limit") or 100000)
    if count is not None and count.isdigit() and len(root) < min(int(count), limit):
        raise FetchError(
            f"Truncated: FRED announced {count} observations and sent {len(root)}", code="Truncated"
        )
    dates = [child.get("date") for child in root]
    texts = pd.Series([child.get("value") for child in root], dtype="str")
    if not len(dates):
        raise FetchError(
            f"EmptySeries: FRED returned no observations for {symbol}", code="EmptySeries", retryable=False
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(dates, format="%Y-%m-%d"), name="date")
    except (ValueError, TypeError):
        bad = next((d for d in dates if not isinstance(d, str) or len(d) != 10), dates[0])
        raise FetchError(
            f"Malformed: FRED date {str(bad)[:40]!r} is not YYYY-MM-DD", code="Malformed"
        ) from None
    values = pd.to_numeric(texts.where(texts != "."), errors="coerce").to_numpy(dtype="float64")
    unread = pd.isna(values) & (texts != ".").to_numpy()
    if unread.any():
        at = int(unread.argmax())
        raise FetchError(
            f"Malformed: FRED value {str(texts.iloc[at])[:40]!r} on {dates[at]} is not a number",
            code="Malformed",
        )
    infinite = ~pd.isna(values) & ~np.isfinite(values)
    if infinite.any():
        at = int(infinite.argmax())
        raise FetchError(
            f"NotFinite: FRED value {texts.iloc[at]!r} on {dates[at]} is not finite",
            code="NotFinite",
            retryable=False,
        )
    return pd.Series(values, index=index, name=series_id).sort_index()


def fetch_fred_api(
    symbol: str, series_id: str, start: str, end: str, network: dict, api_key: str, deadline_s: float
) -> pd.Series:
    """One series from FRED's API (``series/observations``, XML), the request made by
    ``http_get_within`` (bounded by ``deadline_s``, its time counted as network time),
    the answer read by ``parse_fred_observations`` outside the deadline."""
    query = urllib.parse.urlencode(
        {"series_id": symbol, "observation_start": start, "observation_end": end, "api_key": api_key}
    )
    url = f"{network['fred_api_url'].rstrip('/')}/series/observations?{query}"
    body = http_get_within(url, deadline_s, f"fred {series_id}", api_key)
    return parse_fred_observations(body, symbol, series_id)


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
            done = ctx.policy.call(attempt, label, bounds_itself=True, secret=ctx.api_key)
            live = Live.from_attempts(done, column=symbol)
            if done.result is not None:
                live.series, accepted = done.result
                live.notes, live.revisions = accepted.notes, accepted.revisions
            out[series_id] = live
        return out
