"""The crm_core package's errors. Everything raised out of crm_core/ is a CrmError.

CrmError
├── NotFound             no row with that id (or no customer for that phone number)
├── Conflict             a uniqueness or foreign-key rule refused the change; nothing was written
├── ValidationError      a value has the wrong type, is out of range or names an unknown field
│   └── InvalidPhoneNumber   a phone number that phonenumbers cannot parse or that is not valid
├── SchemaError          the database file was written by a newer schema than this code knows
└── StorageError         SQLite could not do it (file cannot be opened, disk full, locked
                         longer than busy_timeout); the transaction was rolled back

Every error carries `details` (a plain dict, safe to serialise) so the API can report it as is.
"""

from __future__ import annotations

from collections.abc import Mapping


class CrmError(Exception):
    """Base of every error raised by crm_core/."""

    def __init__(self, message: str, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = dict(details or {})


class NotFound(CrmError):
    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key!r} not found", {"entity": entity, "key": key})
        self.entity = entity
        self.key = key


class Conflict(CrmError):
    pass


class StaleVersion(Conflict):
    """A write conditional on a row's version found another version (someone wrote first)."""

    def __init__(self, entity: str, key: object, expected: int, found: int) -> None:
        CrmError.__init__(self, f"{entity} {key!r} is at version {found}, not {expected}",
                          {"entity": entity, "key": key, "expected": expected, "found": found})
        self.expected = expected
        self.found = found


class ValidationError(CrmError, ValueError):
    def __init__(self, field: str, reason: str, value: object = None) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})",
                         {"field": field, "reason": reason, "value": repr(value)})
        self.field = field
        self.reason = reason
        self.value = value


class InvalidPhoneNumber(ValidationError):
    def __init__(self, raw: object, reason: str) -> None:
        super().__init__("phone", reason, raw)


class SchemaError(CrmError):
    pass


class StorageError(CrmError):
    pass
