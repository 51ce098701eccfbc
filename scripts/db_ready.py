"""Exit 0 if the PostgreSQL server in the given database URL accepts connections, else 1 (with the reason)."""

import sys

import dj_database_url
import psycopg

url = sys.argv[1]
config = dj_database_url.parse(url)
try:
    psycopg.connect(
        dbname="postgres", user=config["USER"] or None, password=config["PASSWORD"] or None,
        host=config["HOST"] or None, port=config["PORT"] or None, connect_timeout=3,
    ).close()
except psycopg.Error as exc:
    print(f"db_ready: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
