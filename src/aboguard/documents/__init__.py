"""Documents made from domain values: readable HTML renderings and the evidence pack zip. No I/O, no clock."""
