"""The evidence pack as a zip that can be verified: fixed file order and timestamps, a manifest of hashes.

Every file's SHA-256 and size are listed in ``manifest.json``; the zip entries are sorted by name and carry a
fixed date (1980-01-01) and mode, so the same files always give the same archive, and anyone can check a
pack by recomputing the hashes (:func:`verify_pack`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from .render import to_json

MANIFEST = "manifest.json"
FORMAT = "aboguard-evidence-pack/1"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def manifest_for(files: Mapping[str, bytes], meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, **meta,
            "files": [{"path": name, "sha256": hashlib.sha256(files[name]).hexdigest(), "bytes": len(files[name])}
                      for name in sorted(files)]}


def build_zip(files: Mapping[str, bytes], meta: Mapping[str, Any]) -> bytes:
    """The zip of ``files`` plus ``manifest.json`` (``meta`` plus the hash of every file)."""
    if MANIFEST in files:
        raise ValueError(f"{MANIFEST} is written by the pack itself")
    everything = {**files, MANIFEST: to_json(manifest_for(files, meta))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(everything):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, everything[name])
    return buffer.getvalue()


def verify_pack(data: bytes) -> list[str]:
    """Problems found in a pack (empty: every file is listed in the manifest with the right hash and size)."""
    problems: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return [f"{MANIFEST} is missing"]
        manifest = json.loads(archive.read(MANIFEST))
        listed = {entry["path"]: entry for entry in manifest.get("files", [])}
        for name in sorted(names - {MANIFEST} - set(listed)):
            problems.append(f"{name} is not in the manifest")
        for name, entry in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name} is in the manifest but not in the pack")
                continue
            content = archive.read(name)
            if hashlib.sha256(content).hexdigest() != entry["sha256"] or len(content) != entry["bytes"]:
                problems.append(f"{name} does not match its hash in the manifest")
    return problems
