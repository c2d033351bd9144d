"""The metadata database: schema (``models``), engines and sessions, migrations, and queries."""
