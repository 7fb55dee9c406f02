"""The official ISO 20022 schemas shipped in ``schemas/``, loaded once each."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).with_name("schemas")
KNOWN = ("pain.008.001.02", "pain.008.001.08", "camt.052.001.02", "camt.052.001.08", "camt.053.001.02",
         "camt.053.001.08", "camt.054.001.02", "camt.054.001.08")


@cache
def schema_for(message: str) -> etree.XMLSchema:
    """The compiled schema of ``message`` (e.g. ``camt.054.001.08``); KeyError for one aboguard does not know."""
    if message not in KNOWN:
        raise KeyError(message)
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{message}.xsd")))


def namespace(message: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{message}"


class SchemaViolation(ValueError):
    """A file that is not well-formed or breaks its ISO 20022 schema; the message names the first problem."""


def validate_file(path: Path, message: str) -> None:
    """Validate a file against its schema while streaming it (memory stays flat for large files)."""
    try:
        with path.open("rb") as handle:
            for _, element in etree.iterparse(handle, events=("end",), schema=schema_for(message), huge_tree=True):
                if len(element):  # a finished container: its children are validated, drop them
                    element.clear(keep_tail=True)
    except (etree.XMLSyntaxError, etree.DocumentInvalid) as exc:
        raise SchemaViolation(str(exc)) from None
