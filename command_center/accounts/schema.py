"""The accounts' tables: people and named API tokens. Passwords are Argon2id hashes, tokens SHA-256 hashes;
neither is ever stored in the clear. Scopes are JSON lists of ids (agencies, districts); empty: every one."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, MetaData, String, Table, Text

from command_center.sql import UtcDateTime

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("login", String(100), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("agencies", Text, nullable=False, server_default="[]"),
    Column("areas", Text, nullable=False, server_default="[]"),
    Column("password_hash", Text),  # none: signs in by single sign-on only
    Column("source", String(16), nullable=False, server_default="local"),  # local | oidc
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_login_at", UtcDateTime),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("name", String(100), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("agencies", Text, nullable=False, server_default="[]"),
    Column("areas", Text, nullable=False, server_default="[]"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("expires_at", UtcDateTime),  # none: until revoked
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)
