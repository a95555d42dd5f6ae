"""Local CSV files: ``<paths.local_csv>/<id>.csv``, one per series, read as they are
(``date,value``, FRED's or yfinance's formats); errors stop the run with the fix."""

from pathlib import Path

from corrflow.data.sources import local_files
from corrflow.data.sources.base import FetchContext, Live, Source
from corrflow.data.sources.csv_format import parse_series_csv, read_csv_text
from corrflow.io import InputDataError


class LocalCsvSource(Source):
    name = "csv"
    label = "local file"
    local = True

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        out: dict[str, Live] = {}
        for spec in specs:
            (path,) = map(Path, local_files(self.name, [spec], ctx.paths))
            if not path.exists():
                raise InputDataError(
                    f"ingest: series {spec['id']} has source csv but {path} does not exist; "
                    f"put the file there or change paths.local_csv"
                )
            text, encoding_notes = read_csv_text(path)
            series = parse_series_csv(
                text, spec["id"], column=spec.get("column"), origin=str(path), kind=spec["kind"]
            )
            if series.notna().sum() == 0:
                raise InputDataError(f"{path}: series {spec['id']} has no values (header only, or all empty)")
            notes = encoding_notes + series.attrs.get("notes", [])
            out[spec["id"]] = Live(
                series=series, attempts=1, column=series.attrs["column"], notes=notes, path=str(path)
            )
        return out
