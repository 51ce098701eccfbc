"""Reading a sheet: a CSV file with a header line, its columns by name in any order, separated by commas,
semicolons or tabs (told from the header line). Strict: header problems reject the file, and so does a quote left
open (it would swallow the rows after it); every other problem is named by line. Intake, the reference price import
and the channels' sale imports read their files through here."""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass

from django.conf import settings

from ..errors import IntakeRejected, RowError


@dataclass
class SheetRow:
    """One row as given: raw text by column name, and where it came from (file line or list position)."""

    line: int
    values: dict[str, str]


# The separators spreadsheets write: a comma, a semicolon where the comma is the decimal mark (most of continental
# Europe), or a tab ("text, tab delimited").
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
_DECIMAL_COMMA = re.compile(r"\s*\d+,\d{1,2}\s*")


@dataclass
class CsvSheet:
    """A CSV file read into rows, and the separator its header line showed."""

    rows: list[SheetRow]
    separator: str

    @property
    def separator_name(self) -> str:
        return SEPARATORS[self.separator]


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Name the line the bad byte is on: the rest of the file may be fine, and the user has to find it. The
        # error counts from after a byte-order mark (Excel's "CSV UTF-8" writes one), so it is read in exc.object.
        data = exc.object
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
        raise IntakeRejected([RowError(line, "file", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                                                     f"character {column}); save the sheet as CSV UTF-8")]) from None


def _separator(header_line: str, columns: tuple[str, ...]) -> str:
    """The separator that splits the header line into the most known column names; where none does (a header of
    unknown names), csv.Sniffer's guess among the same three; a comma when even that fails."""
    def known(separator: str) -> int:
        cells = next(csv.reader([header_line], delimiter=separator), [])
        return sum(cell.strip().lower() in columns for cell in cells)

    scores = {separator: known(separator) for separator in SEPARATORS}
    best = max(scores, key=scores.get)  # ties go to the first: the comma
    if scores[best]:
        return best
    try:
        return csv.Sniffer().sniff(header_line, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return ","


def _size_text(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:.1f} MiB"
    return f"{size / 2**10:.0f} KiB" if size >= 2**10 else f"{size} bytes"


def _refuse_size(size: int, *, at_least: bool = False) -> None:
    """Refuse a file over REFURB_INTAKE_MAX_BYTES (`at_least`: only part of it was read, its size is not known)."""
    limit = settings.REFURB_INTAKE_MAX_BYTES
    if size > limit:
        what = f"larger than {_size_text(limit)}" if at_least else f"{_size_text(size)}"
        raise IntakeRejected([RowError(1, "file", f"the file is {what}; one import takes at most {_size_text(limit)} "
                                                  "(REFURB_INTAKE_MAX_BYTES): split it into smaller files")])


def sheet_read_upload(upload, *, columns: tuple[str, ...], required: tuple[str, ...],
                      decimal_columns: tuple[str, ...] = ()) -> CsvSheet:
    """A CSV file from an upload (the API's, the admin's) or an open binary file (the CLI's), its size checked
    before it is read, let alone parsed: a file over REFURB_INTAKE_MAX_BYTES is refused naming the limit."""
    size = getattr(upload, "size", None)
    if size is None:
        try:
            size = os.fstat(upload.fileno()).st_size if os.path.isfile(getattr(upload, "name", "")) else None
        except (AttributeError, OSError, ValueError):
            size = None
    if size is not None:
        _refuse_size(size)
    content = upload.read(settings.REFURB_INTAKE_MAX_BYTES + 1)  # a pipe or a lying size: read no further
    _refuse_size(len(content), at_least=True)
    return sheet_read_csv(content, columns=columns, required=required, decimal_columns=decimal_columns)


def _physical_lines(content: str) -> list[str]:
    # The lines the csv module counts: what io splits a text on with newline="" (\n, \r\n or \r).
    return list(io.StringIO(content, newline=""))


def _quote_opened_on(content: str, first_line: int, separator: str) -> int:
    """The line of the quote left open in the record that starts on `first_line`: the csv module only says the
    data ended, at the end of the file, however far the open quote was."""
    opened, in_quotes, field_start = first_line, False, True
    for number, line in enumerate(_physical_lines(content)[first_line - 1:], start=first_line):
        index = 0
        while index < len(line):
            char = line[index]
            if in_quotes:
                if char == '"':
                    if line[index + 1:index + 2] == '"':
                        index += 1  # a doubled quote is a quote character inside the cell
                    else:
                        in_quotes, field_start = False, False
            elif char == '"' and field_start:
                in_quotes, opened = True, number
            else:
                field_start = char in (separator, "\r", "\n")
            index += 1
    return opened


def _csv_error(exc: csv.Error, *, content: str, record_line: int, error_line: int, separator: str) -> RowError:
    if "unexpected end of data" in str(exc):
        line = _quote_opened_on(content, record_line, separator)
        return RowError(line, "row", "a quote (\") opened on this line is never closed, so every line after it "
                                     "would be read as one cell; close the quote or remove it")
    return RowError(error_line, "row", f"not readable as CSV: {exc}")


def sheet_read_csv(content: bytes | str, *, columns: tuple[str, ...], required: tuple[str, ...],
                   decimal_columns: tuple[str, ...] = ()) -> CsvSheet:
    """Rows of a CSV file with a header line naming some of `columns` (all of `required`). Where the separator is
    not the comma, an amount in `decimal_columns` may use the decimal comma."""
    if isinstance(content, bytes):
        _refuse_size(len(content))
        content = _decode(content)
    else:
        _refuse_size(len(content.encode("utf-8", "surrogatepass")))
    content = content.lstrip("\ufeff")
    separator = _separator(content.partition("\n")[0].rstrip("\r"), columns)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise IntakeRejected([RowError(1, "file", "the file is empty")]) from None
    except csv.Error as exc:
        raise IntakeRejected([_csv_error(exc, content=content, record_line=1, error_line=reader.line_num,
                                         separator=separator)]) from None
    names = [h.strip().lower() for h in header]
    errors = []
    for name in sorted({c for c in names if names.count(c) > 1 and c}):
        errors.append(RowError(1, name, "column appears more than once"))
    for name in names:
        if name and name not in columns:
            errors.append(RowError(1, name, f"unknown column; columns are: {', '.join(columns)} "
                                            f"(read as {SEPARATORS[separator]}-separated)"))
    for name in required:
        if name not in names:
            errors.append(RowError(1, name, "required column is missing from the header "
                                            f"(read as {SEPARATORS[separator]}-separated)"))
    if errors:
        raise IntakeRejected(errors)

    rows: list[SheetRow] = []
    next_line = reader.line_num + 1
    try:
        for record in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank lines between blocks of a sheet are common
            if len(record) > len(names):
                errors.append(RowError(line, "row", f"{len(record)} cells but the header has {len(names)}"))
                continue
            values = {name: (record[i] if i < len(record) else "") for i, name in enumerate(names) if name}
            for column in decimal_columns:
                if separator != "," and _DECIMAL_COMMA.fullmatch(values.get(column) or ""):
                    values[column] = values[column].strip().replace(",", ".")
            rows.append(SheetRow(line=line, values=values))
    except csv.Error as exc:
        errors.append(_csv_error(exc, content=content, record_line=next_line, error_line=reader.line_num,
                                 separator=separator))
    if errors:
        raise IntakeRejected(errors)
    return CsvSheet(rows=rows, separator=separator)

