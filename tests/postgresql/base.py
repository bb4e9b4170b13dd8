"""Django's PostgreSQL backend, for the test process only (tests/conftest.py): a test database
is emptied with DELETE, not TRUNCATE.

A transactional test (and every browser test) ends with Django's flush, which on PostgreSQL is
one TRUNCATE of all 61 tables: new files for each table and index, 0.2 s when the machine is
quiet and 1.5-2 s while others write to the same server. The few rows a test leaves go in one
DELETE a table, in the flush's one transaction; the foreign keys (every one DEFERRABLE
INITIALLY DEFERRED, as Django makes them) are checked at its commit, when every table is
empty. Every table ends empty either way, and neither resets a sequence; a flush asked to
reset the sequences keeps Django's TRUNCATE ... RESTART IDENTITY."""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
