"""The child process of :meth:`aboguard.bankfiles.camt.StatementReader.chunks`: parses one camt file and
writes its lines to stdout as pickled ``("lines", (entries so far, [lines as plain tuples]))`` records, then
``("done", (msg id, entries))`` or ``("error", text)``. A full pipe blocks it until the parent has applied
what it was given.

    python -m aboguard.bankfiles.camt_reader FILE MESSAGE SHA256 CHUNK_SIZE
"""

from __future__ import annotations

import contextlib
import pickle
import sys
from pathlib import Path

from .camt import BankFileError, StatementReader, batched, flat


def main(argv: list[str]) -> int:
    path, message, sha256, size = Path(argv[0]), argv[1], argv[2], int(argv[3])
    out = sys.stdout.buffer
    try:
        reader = StatementReader(path, message=message, sha256=sha256)
        for batch in batched(reader.lines(), size):
            pickle.dump(("lines", (reader.entries, [flat(line) for line in batch])), out,
                        protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("done", (reader.msg_id, reader.entries)), out)
    except BankFileError as exc:
        pickle.dump(("error", str(exc)), out)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the parent stopped reading
    except Exception as exc:  # reported to the parent, not lost with the child
        pickle.dump(("error", f"reading {path.name} failed: {exc!r}"), out)
    with contextlib.suppress(BrokenPipeError):
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
