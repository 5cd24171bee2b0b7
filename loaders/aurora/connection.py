"""Opening Aurora connections: the one place a connection string becomes the one to connect with now.

With ``aurora.iam_auth`` the connection string carries no password but the region to sign in: each connect,
in whichever process makes it (driver or executor task), mints an RDS IAM authentication token (a SigV4
presigned ``connect`` request for that host, port and user, computed locally by boto3: no network call)
from the process's own credentials (the instance profile's on EMR). A token opens connections for 15
minutes only, so the driver's token must not travel to tasks that start hours later. An IAM string passed
straight to libpq fails loudly (``invalid connection option "rds-iam:…"``) rather than connecting otherwise.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

IAM_PREFIX = "rds-iam:"


def with_iam(conninfo: str, region: str) -> str:
    """``conninfo`` (libpq key=value, no password) marked for IAM authentication in ``region``."""
    return f"{IAM_PREFIX}{region}|{conninfo}"


def live(conninfo: str) -> str:
    """The libpq connection string to connect with now: as given, or with a fresh IAM token as its password."""
    if not conninfo.startswith(IAM_PREFIX):
        return conninfo
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    region, _, rest = conninfo[len(IAM_PREFIX) :].partition("|")
    params = conninfo_to_dict(rest)
    try:
        token = _rds(region).generate_db_auth_token(
            DBHostname=str(params["host"]), Port=int(params.get("port") or 5432), DBUsername=str(params["user"]),
            Region=region)  # fmt: skip
    except Exception as exc:  # no credentials now (IMDS throttled, ...): a failed connect, which loads retry
        import psycopg

        raise psycopg.OperationalError(f"IAM token for {params.get('user')}: {type(exc).__name__}") from exc
    return make_conninfo(rest, password=token)


def psycopg_connect(conninfo: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(live(conninfo), **kwargs)


def adbc_connect(conninfo: str) -> Any:
    import adbc_driver_postgresql.dbapi as adbc

    return adbc.connect(live(conninfo))  # libpq takes the key=value string (or a URI) as it is


@lru_cache(maxsize=4)
def _rds(region: str) -> Any:
    import boto3

    # a session of its own: clients of boto3's shared default session may not be created from two threads
    return boto3.session.Session().client("rds", region_name=region)
