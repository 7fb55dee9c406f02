"""Pure business rules: values in, values and events out. No I/O, no database, no system time."""
